"""tgwa's state on a three-node Redis Cluster on loopback, configured as a user would
(REDIS_CLUSTER=1, REDIS_URL a node, REDIS_QUEUE_URL a single Redis for RQ, which does not run on a
Cluster): every key of a contact in one slot, every script within one slot, contacts spread over
the nodes, and whole conversations and notifications working end to end."""
from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from app import keyspace, runtime
from bench import stack
from tests import redis_servers
from tests.chat import Chat
from tests.helpers import at_once, envelope, post_whatsapp, text
from tests.conftest import make_settings
from tests.test_conversations import JANA, MARIA, exception_logged, new_case

NODES = 3
# As in the other tests that start servers of their own: not where TGWA_TEST_REDIS=fake stands in
# for a machine without Redis.
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None or shutil.which("redis-cli") is None
    or os.environ.get("TGWA_TEST_REDIS") == "fake",
    reason="needs Debian's redis-server and redis-cli to start a Cluster")


@dataclasses.dataclass
class Servers:
    cluster: RedisCluster
    cluster_url: str
    queue_url: str  # a single Redis, for RQ
    processes: dict[int, subprocess.Popen[bytes]]  # by port
    start: Callable[[int], subprocess.Popen[bytes]]  # (re)starts the server of a port, as configured


@contextlib.contextmanager
def running_cluster(work: Path, primaries: int, replicas: int, *options: str) -> Iterator[Servers]:
    """A Cluster of `primaries` nodes with `replicas` replicas each (nodes judged down after a
    second), and a single Redis for the queues; every server stopped afterwards."""
    cluster_ports, queue_port = _cluster_ports(primaries * (1 + replicas)), stack.free_port()
    processes: dict[int, subprocess.Popen[bytes]] = {}

    def start(port: int) -> subprocess.Popen[bytes]:
        processes[port] = redis_servers.start(port, work, *(
            ["--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", "1000", *options] if port in cluster_ports else []))
        return processes[port]

    try:
        for port in [*cluster_ports, queue_port]:
            start(port)
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in cluster_ports],
                        "--cluster-replicas", str(replicas), "--cluster-yes"], check=True, capture_output=True,
                       timeout=30)
        _wait(lambda: all(redis.Redis(port=p).cluster("info")["cluster_state"] == "ok" for p in cluster_ports))
        _wait(lambda: sum(redis.Redis(port=p).execute_command("ROLE")[0] == b"slave" for p in cluster_ports)
              == primaries * replicas and all(_in_step(redis.Redis(port=p)) for p in cluster_ports))
        client = RedisCluster(host="127.0.0.1", port=cluster_ports[0])
        yield Servers(client, f"redis://127.0.0.1:{cluster_ports[0]}/0", f"redis://127.0.0.1:{queue_port}/0",
                      processes, start)
        client.close()
    finally:
        stack.stop(list(processes.values()), grace=5)


def _in_step(node: redis.Redis) -> bool:
    """A primary's replicas are online and hold everything it has (a replica: True)."""
    info = node.info("replication")
    if info["role"] != "master":
        return True
    replicas = [info[f"slave{n}"] for n in range(info["connected_slaves"])]
    return all(r["state"] == "online" and r["offset"] == info["master_repl_offset"] for r in replicas)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    with running_cluster(tmp_path_factory.mktemp("cluster"), NODES, 0) as running:
        yield running


@pytest.fixture
def cluster(servers: Servers) -> RedisCluster:
    servers.cluster.flushall()
    redis.Redis.from_url(servers.queue_url).flushdb()
    return servers.cluster


def _cluster_ports(count: int) -> list[int]:
    """Free ports whose cluster bus ports (the port + 10000) are free too."""
    found: list[int] = []
    for port in random.sample(range(20000, 30000), 200):
        try:
            for candidate in (port, port + 10000):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", candidate))
        except OSError:
            continue
        found.append(port)
        if len(found) == count:
            return found
    raise AssertionError("no free ports for a Redis Cluster")


def _wait(ready, seconds: float = 15) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while True:
        try:
            if ready():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the Redis Cluster did not come up")
        time.sleep(0.1)


@pytest.fixture
def rt(tmp_path: Path, graph, tradinggrid_url: str, servers: Servers, cluster: RedisCluster) -> runtime.Runtime:  # type: ignore[no-untyped-def]
    settings = make_settings(tmp_path, graph.url, tradinggrid_url, REDIS_URL=servers.cluster_url, REDIS_CLUSTER="1",
                             REDIS_QUEUE_URL=servers.queue_url)
    built = runtime.build(settings)
    assert isinstance(built.redis, RedisCluster) and not isinstance(built.queues.connection, RedisCluster)
    runtime.install(built)
    return built


@needs_redis_server
def test_a_conversation_runs_with_its_state_on_a_cluster(client, work, graph, grid, cluster: RedisCluster) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"
    maria.taps("Confirm")
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    maria.says("can deliver 12/3/2027", message_id="wamid.again")
    maria.says("can deliver 12/3/2027", message_id="wamid.again")  # Meta delivers it twice
    assert len(grid.audit(case["id"])["comments"]) == 1, "written once"

    slots = {cluster.keyslot(key) for key in cluster.scan_iter(match=keyspace.contact_tag(MARIA) + "*")}
    assert len(slots) == 1, "all of a contact's keys share one slot"
    assert cluster.get(keyspace.conversation_key(MARIA)), "the conversation is kept on the Cluster"


@needs_redis_server
def test_contacts_spread_over_every_node(client, work, graph, cluster: RedisCluster) -> None:
    contacts = [f"4477009{n:05d}" for n in range(60)]
    for contact in contacts:
        Chat(client, work, graph, contact).says("help")
    nodes = {cluster.get_node_from_key(keyspace.inbox_key(contact)).name for contact in contacts}
    assert len(nodes) == NODES, "contacts' keys are spread over the whole Cluster"
    for contact in contacts:
        assert graph.texts_to(contact), f"{contact} was answered"


@needs_redis_server
def test_webhooks_arriving_together_are_recorded_slot_by_slot(client, work, graph, cluster: RedisCluster) -> None:
    """Overlapping webhooks share one round trip (group commit), and their messages go to the
    store in one script call per slot: each message lands on its own contact's node, once."""
    contacts = [f"4477008{n:05d}" for n in range(16)]
    bodies = [envelope(text(c, "help", message_id=f"wamid.slot.{c}")) for c in contacts] * 2
    answers = at_once(lambda body: post_whatsapp(client, body), bodies)
    assert [a.status_code for a in answers] == [200] * len(bodies)
    assert sum(a.get_json()["messages"] for a in answers) == len(contacts), "each copy after the first is a duplicate"
    assert len({cluster.keyslot(keyspace.contact_tag(c)) for c in contacts}) > 1
    work()
    for contact in contacts:
        assert len(graph.texts_to(contact)) == 1, f"{contact} answered once"


@needs_redis_server
def test_a_notification_and_its_delivery_are_tracked_on_a_cluster(client, work, graph, grid, rt, cluster) -> None:
    from app import delivery

    jana = Chat(client, work, graph, JANA)
    exception_logged(client, work, new_case(grid, partner="ACME", reference="PO-77"))
    assert jana.last.startswith("[tgwa_exception_logged]")
    assert delivery.status_of(rt, graph.wamids[-1])["purpose"].startswith("event:")
    [stats] = list(cluster.scan_iter(match=keyspace.stats_key("event:*")))
    assert int(cluster.hget(stats, "sent")) == 1


def _move_slot(cluster: RedisCluster, key: str) -> tuple[str, str]:
    """Reshards `key`'s slot, keys and all, to another node, as `redis-cli --cluster reshard`
    does; the clients still think it lives where it was. Returns (from, to) node names."""
    slot = cluster.keyslot(key)
    source = cluster.get_node_from_key(key)
    target = next(node for node in cluster.get_primaries() if node.name != source.name)
    src, dst = redis.Redis(host=source.host, port=source.port), redis.Redis(host=target.host, port=target.port)
    source_id, target_id = src.cluster("myid"), dst.cluster("myid")
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
        src.execute_command("MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *keys)
    for node in cluster.get_primaries():
        redis.Redis(host=node.host, port=node.port).execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return source.name, target.name


@needs_redis_server
def test_a_conversation_goes_on_when_its_slot_moves_to_another_node(client, work, graph, grid, rt, cluster) -> None:
    maria = Chat(client, work, graph, MARIA)
    case = new_case(grid)
    exception_logged(client, work, case)
    maria.says("can deliver 12/3/2027")
    assert maria.last == "New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?"

    before, after = _move_slot(cluster, keyspace.conversation_key(MARIA))
    owner = redis.Redis(host=after.split(":")[0], port=int(after.split(":")[1]))
    assert owner.exists(keyspace.conversation_key(MARIA)), "the conversation moved with its slot"

    maria.taps("Confirm")  # tgwa's client still points at the old node: Redis answers MOVED
    assert grid.get_case(case["id"])["expected_date"] == "2027-12-03"
    assert maria.last == "Thanks Maria! PO-4410093 now shows Fri 3 Dec 2027 in Trading Grid."
    assert len(grid.audit(case["id"])["comments"]) == 1, "written once"
    assert rt.redis.get_node_from_key(keyspace.conversation_key(MARIA)).name == after != before
