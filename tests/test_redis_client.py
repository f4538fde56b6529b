"""The parts of redis-py that app/store.py and app/scripts.py lean on beyond its public API,
checked against the redis-py installed: pyproject.toml pins the minor release they were written for, and an upgrade
that moves them fails here, by name, before it fails in a Cluster (tests/test_cluster.py)."""
from __future__ import annotations

import inspect
import tomllib
from pathlib import Path

import redis
import redis.cluster
from packaging.requirements import Requirement
from redis._parsers.commands import RequestPolicy, ResponsePolicy
from redis.commands.policies import StaticPolicyResolver

from app import store

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_the_installed_redis_py_is_the_release_the_store_was_written_for() -> None:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    [pinned] = [Requirement(r) for r in dependencies if Requirement(r).name == "redis"]
    assert redis.__version__ in pinned.specifier, f"redis-py {redis.__version__}, pinned {pinned.specifier}"


def test_scripts_are_routed_by_their_keys_and_other_commands_as_redis_py_routes_them() -> None:
    resolver = store._ScriptsByKeys(StaticPolicyResolver())
    evalsha = resolver.resolve("evalsha")
    assert evalsha is not None
    assert (evalsha.request_policy, evalsha.response_policy) == (RequestPolicy.DEFAULT_KEYED,
                                                                 ResponsePolicy.DEFAULT_KEYED)
    assert resolver.resolve("get") == StaticPolicyResolver().resolve("get")


def test_a_cluster_client_keeps_its_policy_resolver_where_the_store_hands_it_to_pipelines() -> None:
    """RedisCluster.pipeline() does not pass the client's resolver on: app.scripts.run does, by the
    private attribute both objects keep it in."""
    assert "policy_resolver" in inspect.signature(redis.cluster.RedisCluster.__init__).parameters
    assert "self._policy_resolver" in inspect.getsource(redis.cluster.RedisCluster.__init__)
    assert "self._policy_resolver" in inspect.getsource(redis.cluster.ClusterPipeline.__init__)
