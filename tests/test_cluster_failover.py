"""A Cluster node dies and its replica takes over in the middle of a conversation: tgwa follows the
new primary and the conversation goes on, written once. (Three primaries with a replica each,
nodes judged down after a second.)"""
from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from app import store
from tests.chat import Chat
from tests.test_cluster import NODES, Servers, _running_cluster, _wait, cluster, needs_redis_server, rt  # noqa: F401
from tests.test_conversations import MARIA, exception_logged, new_case


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with _running_cluster(tmp_path_factory.mktemp("failover"), NODES, 1) as running:
        yield running


def _replica_in_step(primary: redis.Redis) -> int:
    """The port of `primary`'s replica, once it holds everything the primary has."""
    deadline = time.monotonic() + 10
    while True:
        info = primary.info("replication")
        replica = info.get("slave0")
        if replica and replica["state"] == "online" and replica["offset"] == info["master_repl_offset"]:
            return int(replica["port"])
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.05)


@needs_redis_server
def test_a_conversation_goes_on_when_its_node_fails_over_to_the_replica(
        client, work, graph, grid, rt, cluster: RedisCluster, servers: Servers) -> None:  # noqa: F811
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"

    node = cluster.get_node_from_key(store.conversation_key(MARIA))
    replica_port = _replica_in_step(redis.Redis(host=node.host, port=node.port))
    servers.processes[node.port].kill()  # the node holding Maria's conversation dies
    servers.processes[node.port].wait()
    replica = redis.Redis(port=replica_port)
    _wait(lambda: replica.execute_command("ROLE")[0] == b"master" and replica.cluster("info")["cluster_state"] == "ok")

    maria.taps("Confirm")  # tgwa's client still knows the dead node: it finds the new primary
    assert maria.last == "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert len(grid.audit(case["id"])["comments"]) == 1, "written once"
    assert rt.redis.get_node_from_key(store.conversation_key(MARIA)).port == replica_port
