"""Redis: the connection to tgwa's state and queues (a server, a Cluster, or the embedded store),
and what concerns the servers behind it: replication waits, and which keys share a slot.
Key names are in app.keyspace, the Lua scripts in app.scripts."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
import redis.cluster
from redis._parsers.commands import CommandPolicies, RequestPolicy, ResponsePolicy
from redis.commands.policies import BasePolicyResolver, PolicyResolver, StaticPolicyResolver

from app import embedded_store, keyspace
from app.settings import Settings

_TIMEOUTS = {"socket_timeout": 5, "socket_connect_timeout": 2}  # seconds, for every real Redis connection


def connect(settings: Settings) -> redis.Redis:
    """Redis for tgwa's state: the server (or, with REDIS_CLUSTER, the Cluster) at REDIS_URL,
    else the process's embedded store. A process opens at most REDIS_MAX_CONNECTIONS to it (to
    each node of a Cluster): a gevent web process may have a thousand requests in flight."""
    if settings.redis_url and settings.redis_cluster:
        return redis.cluster.RedisCluster.from_url(settings.redis_url, **_TIMEOUTS,
                                                   max_connections=settings.redis_max_connections,
                                                   policy_resolver=_ScriptsByKeys(StaticPolicyResolver()))
    if settings.redis_url:
        return _server(settings.redis_url, settings)
    return embedded_store.connection()


class _ScriptsByKeys(BasePolicyResolver):
    """EVALSHA is routed by the keys it names, in a Cluster pipeline too. Without this, redis-py's
    pipeline asks a node (COMMAND GETKEYS) for every script's keys: a round trip each, and a
    failure whenever that node is the one that just died."""

    def __init__(self, fallback: PolicyResolver | None = None) -> None:
        super().__init__({"core": {"evalsha": CommandPolicies(request_policy=RequestPolicy.DEFAULT_KEYED,
                                                              response_policy=ResponsePolicy.DEFAULT_KEYED)}},
                         fallback)

    def with_fallback(self, fallback: PolicyResolver) -> PolicyResolver:
        return _ScriptsByKeys(fallback)


def connect_queues(settings: Settings, state: redis.Redis) -> redis.Redis:
    """Redis for RQ's queues: REDIS_QUEUE_URL when set (RQ needs one server, not a Cluster),
    else the same connection as the state."""
    if settings.redis_queue_url:
        return _server(settings.redis_queue_url, settings)
    return state


def _server(url: str, settings: Settings) -> redis.Redis:
    """One Redis server; past REDIS_MAX_CONNECTIONS a request waits (up to 5 s) for a free one."""
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
        url, **_TIMEOUTS, health_check_interval=30,
        max_connections=settings.redis_max_connections, timeout=5))


class NotReplicated(redis.RedisError):
    """Fewer replicas acknowledged a write than REDIS_WAIT_REPLICAS asks, in REDIS_WAIT_TIMEOUT_MS:
    a passing failure like Redis being away (the webhook answers 503, a job retries)."""


def replicated(connection: Any, keys: Sequence[str], replicas: int, timeout_ms: int) -> None:
    """Returns once `replicas` replicas hold every write made so far on the servers that hold
    `keys`; NotReplicated if they do not in time. Nothing to do when `replicas` is 0. Used where
    something outside Redis acts on a write: Meta hearing 200 for a message, a message leaving
    for WhatsApp.

    Redis's WAIT waits for the writes of the connection that sends it, and the writes it guards
    went by others (the group commit's Line, a pool's): so on each server concerned, one
    connection writes a marker in the keys' slot, and waits for that. A server's replication
    stream is in order, so a replica that holds the marker holds everything written before it."""
    if not replicas or not keys:
        return
    if isinstance(connection, redis.cluster.RedisCluster):
        servers = {}
        for key in keys:
            node = connection.get_node_from_key(key)
            servers.setdefault(node.name, (node.redis_connection, key))
        targets = list(servers.values())
    else:
        targets = [(connection, keys[0])]
    for server, key in targets:
        pipe = server.pipeline(transaction=False)
        pipe.set(keyspace.replicated_key(key), 1, px=timeout_ms + 1000)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        acked = int(pipe.execute()[-1])
        if acked < replicas:
            raise NotReplicated(f"{acked} of {replicas} replicas acknowledged in {timeout_ms} ms")


def by_slot(connection: Any, tags: Sequence[str]) -> list[list[int]]:
    """The positions of `tags` (hash tags, or keys) in groups whose keys share one Redis Cluster
    slot, so that one script call can take each group; on a single server, one group of all."""
    if not isinstance(connection, redis.cluster.RedisCluster):
        return [list(range(len(tags)))]
    groups: dict[int, list[int]] = {}
    for n, tag in enumerate(tags):
        groups.setdefault(connection.keyslot(tag), []).append(n)
    return list(groups.values())
