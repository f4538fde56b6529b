"""Settings: validated once, one clear line for what is wrong, secrets never shown."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import store
from app.settings import Settings, SettingsError
from tests.conftest import FIXTURES, REAL, REAL_REDIS_URL
from tests.helpers import at_once

PRODUCTION = {"APP_ENV": "production", "REDIS_URL": "redis://localhost:6379/0", "WHATSAPP_VERIFY_TOKEN": "v",
              "WHATSAPP_APP_SECRET": "app-secret-value", "WHATSAPP_ACCESS_TOKEN": "EAAG-token-value",
              "WHATSAPP_PHONE_NUMBER_ID": "1065", "TRADING_GRID_EVENTS_SECRET": "events-secret-value",
              "DIRECTORY_FILE": "/etc/tgwa/directory.yaml", "TRADING_GRID_URL": "https://tg.example.com/api"}


def test_defaults_need_nothing() -> None:
    settings = Settings.from_mapping({})
    assert settings.embedded and not settings.production and not settings.sandbox
    assert settings.whatsapp_api_base == "https://graph.facebook.com/v23.0"
    assert settings.whatsapp_max_mps == 80 and settings.data_dir == Path("data")


@pytest.mark.parametrize("missing", ["WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "WHATSAPP_ACCESS_TOKEN",
                                     "WHATSAPP_PHONE_NUMBER_ID", "TRADING_GRID_EVENTS_SECRET", "DIRECTORY_FILE",
                                     "REDIS_URL", "TRADING_GRID_URL"])
def test_production_requires_its_settings(missing: str) -> None:
    Settings.from_mapping(PRODUCTION)
    with pytest.raises(SettingsError, match=missing):
        Settings.from_mapping({k: v for k, v in PRODUCTION.items() if k != missing})


@pytest.mark.parametrize("name,value,message", [
    ("APP_ENV", "staging", "APP_ENV must be"),
    ("WHATSAPP_MAX_MPS", "fast", "WHATSAPP_MAX_MPS must be a whole number"),
    ("WHATSAPP_MAX_MPS", "0", "WHATSAPP_MAX_MPS must be at least 1"),
    ("REDIS_MAX_CONNECTIONS", "many", "REDIS_MAX_CONNECTIONS must be a whole number"),
    ("REDIS_MAX_CONNECTIONS", "0", "REDIS_MAX_CONNECTIONS must be at least 1"),
    ("REDIS_URL", "localhost:6379", "REDIS_URL must be"),
    ("TRADING_GRID_URL", "tg.example.com", "TRADING_GRID_URL must be an http"),
    ("WHATSAPP_API_BASE", "ftp://x", "WHATSAPP_API_BASE must be an http"),
    ("PUBLIC_URL", "tgwa.example.com", "PUBLIC_URL must be an http"),
    ("TRADING_GRID_TOKEN_URL", "https://tg.example.com/token", "TRADING_GRID_CLIENT_ID is required"),
    ("SANDBOX", "maybe", "SANDBOX must be 1 or 0"),
    ("REDIS_CLUSTER", "perhaps", "REDIS_CLUSTER must be 1 or 0"),
    ("REDIS_QUEUE_URL", "localhost:6380", "REDIS_QUEUE_URL must be"),
    ("REDIS_QUEUE_URL", "redis://localhost:6380/0", "REDIS_QUEUE_URL needs REDIS_URL"),
    ("REDIS_CLUSTER", "1", "REDIS_CLUSTER=1 needs REDIS_URL"),
    ("OPENTEXT_API_URL", "apigrid.opentext.com", "OPENTEXT_API_URL must be an http"),
    ("OPENTEXT_API_URL", "https://apigrid.opentext.com", "OPENTEXT_CLIENT_ID is required with OPENTEXT_API_URL"),
    ("LENS_POLL_SECONDS", "60", "LENS_POLL_SECONDS needs OPENTEXT_API_URL"),
    ("LENS_POLL_SECONDS", "often", "LENS_POLL_SECONDS must be a whole number"),
])
def test_malformed_settings_name_themselves(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_mapping({name: value})


def test_a_cluster_needs_a_single_redis_for_the_queues() -> None:
    with pytest.raises(SettingsError, match="RQ does not run on a Cluster"):
        Settings.from_mapping({**PRODUCTION, "REDIS_CLUSTER": "1"})
    settings = Settings.from_mapping({**PRODUCTION, "REDIS_CLUSTER": "1", "REDIS_QUEUE_URL": "redis://q:6379/0"})
    assert settings.redis_cluster and settings.redis_queue_url == "redis://q:6379/0"


def test_sandbox_is_refused_in_production() -> None:
    with pytest.raises(SettingsError, match="SANDBOX is refused"):
        Settings.from_mapping({**PRODUCTION, "SANDBOX": "1"})


def test_secrets_never_appear_in_repr() -> None:
    shown = repr(Settings.from_mapping({**PRODUCTION, "OPENTEXT_API_URL": "https://apigrid.opentext.com",
                                        "OPENTEXT_CLIENT_ID": "key", "OPENTEXT_CLIENT_SECRET": "opentext-secret-value",
                                        "OPENTEXT_COMPANY_ID": "GC00804444LX", "LENS_POLL_SECONDS": "60"}))
    for secret in ("app-secret-value", "EAAG-token-value", "events-secret-value", "opentext-secret-value"):
        assert secret not in shown
    assert "redis://localhost:6379/0" in shown


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("WHATSAPP_MAX_MPS=40\nDATA_DIR=/var/lib/tgwa\n")
    settings = Settings.load({"DATA_DIR": "/srv/data"}, env_file=env)
    assert settings.whatsapp_max_mps == 40 and settings.data_dir == Path("/srv/data")


def test_start_up_stops_with_one_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "app.cli", "serve"], capture_output=True, text=True,
                          env={"APP_ENV": "production", "PATH": ""}, cwd=tmp_path, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "Error: REDIS_URL, TRADING_GRID_URL, WHATSAPP_VERIFY_TOKEN, WHATSAPP_APP_SECRET, WHATSAPP_ACCESS_TOKEN, "
        "WHATSAPP_PHONE_NUMBER_ID, TRADING_GRID_EVENTS_SECRET, DIRECTORY_FILE are required when APP_ENV=production "
        "(or TRADING_GRID_EMBEDDED=1, to mean the embedded one)"], "every missing setting at once"


def test_production_takes_the_embedded_trading_grid_only_when_told_to() -> None:
    without = {k: v for k, v in PRODUCTION.items() if k != "TRADING_GRID_URL"}
    with pytest.raises(SettingsError, match="^TRADING_GRID_URL is required when APP_ENV=production"):
        Settings.from_mapping(without)
    assert Settings.from_mapping({**without, "TRADING_GRID_EMBEDDED": "1"}).trading_grid_url is None


@pytest.mark.skipif(REAL is None, reason="needs a Redis server: the limit is on real connections")
def test_redis_max_connections_bounds_what_one_process_opens() -> None:
    """Ten requests at once with REDIS_MAX_CONNECTIONS=2: each is answered, over two connections."""
    connection = store.connect(Settings.from_mapping({"REDIS_URL": REAL_REDIS_URL, "REDIS_MAX_CONNECTIONS": "2"}))
    answers = at_once(lambda key: connection.blpop([key], 0.1), ["tgwa:test:nothing"] * 10)
    assert answers == [None] * 10
    assert len(connection.connection_pool._connections) == 2


CLI_ENV = {"WHATSAPP_APP_SECRET": "x", "WHATSAPP_VERIFY_TOKEN": "x", "WHATSAPP_ACCESS_TOKEN": "x",
           "WHATSAPP_PHONE_NUMBER_ID": "1", "TRADING_GRID_EVENTS_SECRET": "x"}


@pytest.mark.parametrize("command,env,said", [
    (["serve"], {"PORT": "abc"}, "PORT must be a whole number of 1 or more, not 'abc'"),
    (["serve", "--port", "8799"], {"WEB_CONCURRENCY": "abc", "REDIS_URL": "redis://127.0.0.1:1/0"},
     "WEB_CONCURRENCY must be a whole number of 1 or more, not 'abc'"),
    (["worker"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis does not answer (ConnectionError"),
    (["parked", "list"], {"REDIS_URL": "redis://127.0.0.1:1/0"}, "Redis does not answer (ConnectionError"),
], ids=["port", "web-concurrency", "worker-without-redis", "parked-without-redis"])
def test_commands_refuse_bad_settings_and_an_absent_redis_in_one_line(command: list[str], env: dict[str, str],
                                                                      said: str) -> None:
    environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PORT", "WEB_CONCURRENCY")}
    done = subprocess.run([sys.executable, "-m", "app.cli", *command], capture_output=True, text=True, timeout=60,
                          env={**environ, **CLI_ENV, "DIRECTORY_FILE": str(FIXTURES / "directory.yaml"), **env})
    assert done.returncode == 1, done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_env_example_names_every_setting_of_the_readme_and_loads_as_it_is() -> None:
    root = Path(__file__).resolve().parents[1]
    documented = {name for line in (root / "README.md").read_text().splitlines() if line.startswith("| `")
                  for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])}
    example = root / ".env.example"
    assert set(re.findall(r"^([A-Z][A-Z0-9_]+)=", example.read_text(), re.M)) == documented
    assert Settings.load({}, env_file=example).embedded, "as shipped: the embedded store, nothing required"
