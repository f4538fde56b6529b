"""A Cluster primary dies and its replica takes over in the middle of a conversation: the
conversation goes on, the confirmed write lands once. (Three primaries with a replica each, nodes
judged down after a second.)"""
from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest
import redis
from redis.cluster import RedisCluster

from app import create_app, keyspace, runtime
from app.worker import run_once
from tests.chat import Chat
from tests.test_cluster import NODES, Servers, _wait, cluster, needs_redis_server, rt, running_cluster  # noqa: F401
from tests.conftest import make_settings
from tests.helpers import envelope, post_whatsapp
from tests.test_conversations import MARIA, exception_logged, new_case


@pytest.fixture
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A Cluster of its own for each test: a test kills one of its primaries."""
    with running_cluster(tmp_path_factory.mktemp("failover"), NODES, 1) as running:
        yield running


def _replica_of(primary: redis.Redis) -> int:
    return int(primary.info("replication")["slave0"]["port"])


@needs_redis_server
def test_a_conversation_goes_on_when_its_node_fails_over_to_the_replica(
        client, work, graph, grid, rt, cluster: RedisCluster, servers: Servers) -> None:  # noqa: F811
    maria = Chat(client, work, graph, MARIA, redeliver_seconds=15)  # 503 while the Cluster decides: Meta retries
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"

    node = cluster.get_node_from_key(keyspace.conversation_key(MARIA))
    replica_port = _replica_of(redis.Redis(host=node.host, port=node.port))
    servers.processes[node.port].kill()  # at once: whatever the replica has not acknowledged is lost
    servers.processes[node.port].wait()
    replica = redis.Redis(port=replica_port)
    _wait(lambda: replica.execute_command("ROLE")[0] == b"master" and replica.cluster("info")["cluster_state"] == "ok")

    maria.taps("Confirm")  # tgwa's client still knows the dead node: it finds the new primary
    assert maria.last == "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert len(grid.audit(case["id"])["comments"]) == 1, "written once"
    assert rt.redis.get_node_from_key(keyspace.conversation_key(MARIA)).port == replica_port


@pytest.fixture
def waiting_rt(tmp_path, graph, tradinggrid_url: str, servers: Servers, cluster: RedisCluster):  # type: ignore[no-untyped-def]  # noqa: F811
    """tgwa as production should run on a Cluster with replicas: REDIS_WAIT_REPLICAS=1."""
    built = runtime.build(make_settings(tmp_path, graph.url, tradinggrid_url, REDIS_URL=servers.cluster_url,
                                        REDIS_CLUSTER="1", REDIS_QUEUE_URL=servers.queue_url,
                                        REDIS_WAIT_REPLICAS="1", REDIS_WAIT_TIMEOUT_MS="300"))
    runtime.install(built)
    return built


@needs_redis_server
def test_a_step_its_replica_never_saw_is_not_lost_when_the_primary_dies(
        graph, grid, waiting_rt, cluster: RedisCluster, servers: Servers) -> None:  # noqa: F811
    """The replica of Maria's node stops taking replication just as she confirms; then the primary
    dies and the replica takes over without her confirmation. With REDIS_WAIT_REPLICAS=1 Meta was
    never told 200 for it (503: it delivers again) and nothing left for WhatsApp unreplicated, so
    the confirmation is handled once, on the new primary, and the case written once."""
    client = create_app(rt=waiting_rt, start_worker=False).test_client()

    def work() -> None:
        for _ in range(20):
            if not run_once(waiting_rt.queues):
                return

    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"
    [payload] = [p for p, w in maria._to_me() if p["type"] == "interactive"][-1:]
    button = payload["interactive"]["action"]["buttons"][0]["reply"]
    tap = {"from": MARIA, "id": "wamid.confirm.failover", "timestamp": str(maria._next_ts()), "type": "interactive",
           "interactive": {"type": "button_reply", "button_reply": button}}

    node = cluster.get_node_from_key(keyspace.conversation_key(MARIA))
    replica_port = _replica_of(redis.Redis(host=node.host, port=node.port))
    replica_pid = servers.processes[replica_port].pid
    os.kill(replica_pid, signal.SIGSTOP)  # the replica stops acknowledging
    try:
        assert post_whatsapp(client, envelope(tap)).status_code == 503, "not replicated: Meta must deliver again"
        work()  # a worker may take it from the primary meanwhile: nothing leaves unreplicated
        servers.processes[node.port].kill()
        servers.processes[node.port].wait()
    finally:
        os.kill(replica_pid, signal.SIGCONT)
    replica = redis.Redis(port=replica_port)
    _wait(lambda: replica.execute_command("ROLE")[0] == b"master" and replica.cluster("info")["cluster_state"] == "ok",
          30)
    # Until the shard has a replica again, REDIS_WAIT_REPLICAS=1 refuses its writes (503, retried):
    # the dead primary comes back, and rejoins as the new primary's replica.
    servers.start(node.port)
    _wait(lambda: redis.Redis(port=node.port).execute_command("ROLE")[0] == b"slave", 30)

    deadline = time.monotonic() + 20
    while post_whatsapp(client, envelope(tap)).status_code != 200:  # Meta delivers it again
        assert time.monotonic() < deadline, "Meta's delivery never taken"
        time.sleep(0.2)
    work()
    assert [t for t in maria.bot if t.startswith("Thanks Maria!")] == [
        "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."]
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert len(grid.audit(case["id"])["comments"]) == 1, "written once"
