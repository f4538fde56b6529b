"""Settings: read once from the environment (and `.env`), validated, then passed down.

Nothing below this module reads `os.environ`; a missing or malformed required setting stops
start-up with one line naming it (`SettingsError`), and secrets never leave this object in
`repr` or logs.
"""
from __future__ import annotations

import dataclasses
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values

DEFAULT_API_BASE = "https://graph.facebook.com/v23.0"
SECRET_FIELDS = frozenset(
    {"whatsapp_app_secret", "whatsapp_access_token", "whatsapp_verify_token",
     "trading_grid_client_secret", "trading_grid_events_secret", "ops_token", "opentext_client_secret"}
)


# The secrets the sandbox signs its own webhooks with: development with SANDBOX=1 may leave them
# unset, and `sandbox_secrets` makes them up.
SANDBOX_SIGNING = {"WHATSAPP_VERIFY_TOKEN": "whatsapp_verify_token", "WHATSAPP_APP_SECRET": "whatsapp_app_secret",
                   "TRADING_GRID_EVENTS_SECRET": "trading_grid_events_secret"}


# What production cannot run without: the store every process shares (the embedded one is lost
# with its process), the Trading Grid it writes to, Meta's credentials, the directory.
PRODUCTION_NEEDS = ("REDIS_URL", "TRADING_GRID_URL", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET",
                    "WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID", "TRADING_GRID_EVENTS_SECRET", "DIRECTORY_FILE")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message is one line naming it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    redis_url: str | None = None
    redis_cluster: bool = False
    redis_queue_url: str | None = None
    redis_max_connections: int = 50
    redis_wait_replicas: int = 0
    redis_wait_timeout_ms: int = 1000
    whatsapp_verify_token: str = ""
    whatsapp_app_secret: str = ""
    whatsapp_access_token: str = ""
    whatsapp_phone_number_id: str = ""
    whatsapp_api_base: str = DEFAULT_API_BASE
    whatsapp_max_mps: int = 80
    trading_grid_url: str | None = None
    trading_grid_token_url: str | None = None
    trading_grid_client_id: str | None = None
    trading_grid_client_secret: str | None = None
    trading_grid_events_secret: str = ""
    directory_file: str | None = None
    templates_file: str | None = None
    data_dir: Path = Path("data")
    sandbox: bool = False
    ops_token: str = ""
    public_url: str = "http://localhost:8000"  # where people reach this web app (the embedded case pages)
    media_max_bytes: int = 16 * 1024 * 1024  # the largest file taken from WhatsApp and attached in Trading Grid
    date_flow_id: str | None = None  # a published WhatsApp Flow with a date picker (app/flows/pick_date.json)
    quiet_hours: tuple[int, int] | None = (20, 8)  # no notification but a critical alert from, until (local hours)
    opentext_api_url: str | None = None  # OpenText's API gateway: Community Management and Lens (contract section 8)
    opentext_client_id: str = ""
    opentext_client_secret: str = ""
    opentext_company_id: str = ""
    lens_poll_seconds: int = 0  # 0: failed transactions are not read from Lens

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @property
    def embedded(self) -> bool:
        """No REDIS_URL: one process holds the store and runs the worker itself."""
        return self.redis_url is None

    def __repr__(self) -> str:
        shown = {
            f.name: ("***" if f.name in SECRET_FIELDS and getattr(self, f.name) else getattr(self, f.name))
            for f in dataclasses.fields(self)
        }
        return f"Settings({shown})"

    __str__ = __repr__

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env") -> Settings:
        """Settings from `environ` (default: the process environment) over the `.env` file."""
        values: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        def text(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value is not None and value.strip() else None

        app_env = text("APP_ENV") or "development"
        if app_env not in ("production", "development"):
            raise SettingsError(f"APP_ENV must be 'production' or 'development', not {app_env!r}")
        production = app_env == "production"
        if production and _flag("SANDBOX", text("SANDBOX")):
            raise SettingsError("SANDBOX is refused when APP_ENV=production")
        if production:
            embedded_grid = _flag("TRADING_GRID_EMBEDDED", text("TRADING_GRID_EMBEDDED"))
            missing = [name for name in PRODUCTION_NEEDS if text(name) is None
                       and not (name == "TRADING_GRID_URL" and embedded_grid)]
            if missing:  # all of them at once: one start to find out, not one each
                raise SettingsError(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required when "
                                    "APP_ENV=production" + (" (or TRADING_GRID_EMBEDDED=1, to mean the embedded one)"
                                                            if "TRADING_GRID_URL" in missing else ""))

        def required(name: str) -> str:  # in production (PRODUCTION_NEEDS, checked above)
            return text(name) or ""

        redis_url, queue_url = text("REDIS_URL"), text("REDIS_QUEUE_URL")
        for name, url in (("REDIS_URL", redis_url), ("REDIS_QUEUE_URL", queue_url)):
            if url is not None and urlparse(url).scheme not in ("redis", "rediss", "unix"):
                raise SettingsError(f"{name} must be a redis://, rediss:// or unix:// URL")
        redis_cluster = _flag("REDIS_CLUSTER", text("REDIS_CLUSTER"))
        if queue_url is not None and redis_url is None:
            raise SettingsError("REDIS_QUEUE_URL needs REDIS_URL (embedded mode keeps everything in one process)")
        if redis_cluster and (redis_url is None or queue_url is None):
            raise SettingsError("REDIS_CLUSTER=1 needs REDIS_URL (a node of the Cluster) and REDIS_QUEUE_URL "
                                "(one Redis for the job queues: RQ does not run on a Cluster)")
        api_base = (text("WHATSAPP_API_BASE") or DEFAULT_API_BASE).rstrip("/")
        _require_http_url("WHATSAPP_API_BASE", api_base)
        tg_url = text("TRADING_GRID_URL")
        if tg_url is not None:
            tg_url = tg_url.rstrip("/")
            _require_http_url("TRADING_GRID_URL", tg_url)
        token_url = text("TRADING_GRID_TOKEN_URL")
        client_id, client_secret = text("TRADING_GRID_CLIENT_ID"), text("TRADING_GRID_CLIENT_SECRET")
        oauth = [token_url, client_id, client_secret]
        if any(oauth) and not all(oauth):
            missing = [n for n, v in zip(("TRADING_GRID_TOKEN_URL", "TRADING_GRID_CLIENT_ID",
                                          "TRADING_GRID_CLIENT_SECRET"), oauth) if not v]
            raise SettingsError(f"{missing[0]} is required when any Trading Grid OAuth2 setting is set")
        if token_url is not None:
            _require_http_url("TRADING_GRID_TOKEN_URL", token_url)

        public_url = (text("PUBLIC_URL") or "http://localhost:8000").rstrip("/")
        _require_http_url("PUBLIC_URL", public_url)

        sandbox = _flag("SANDBOX", text("SANDBOX"))

        opentext_url = text("OPENTEXT_API_URL")
        if opentext_url is not None:
            opentext_url = opentext_url.rstrip("/")
            _require_http_url("OPENTEXT_API_URL", opentext_url)
            for name in ("OPENTEXT_CLIENT_ID", "OPENTEXT_CLIENT_SECRET", "OPENTEXT_COMPANY_ID"):
                if text(name) is None:
                    raise SettingsError(f"{name} is required with OPENTEXT_API_URL")
        lens_poll = _whole("LENS_POLL_SECONDS", text("LENS_POLL_SECONDS"), 0)
        if lens_poll and opentext_url is None:
            raise SettingsError("LENS_POLL_SECONDS needs OPENTEXT_API_URL (and its client id, secret and company id)")

        settings = cls(
            app_env=app_env,
            redis_url=redis_url,
            redis_cluster=redis_cluster,
            redis_queue_url=queue_url,
            redis_max_connections=_positive_int("REDIS_MAX_CONNECTIONS", text("REDIS_MAX_CONNECTIONS"), 50),
            redis_wait_replicas=_whole("REDIS_WAIT_REPLICAS", text("REDIS_WAIT_REPLICAS"), 0),
            redis_wait_timeout_ms=_positive_int("REDIS_WAIT_TIMEOUT_MS", text("REDIS_WAIT_TIMEOUT_MS"), 1000),
            whatsapp_verify_token=required("WHATSAPP_VERIFY_TOKEN"),
            whatsapp_app_secret=required("WHATSAPP_APP_SECRET"),
            whatsapp_access_token=required("WHATSAPP_ACCESS_TOKEN"),
            whatsapp_phone_number_id=required("WHATSAPP_PHONE_NUMBER_ID"),
            whatsapp_api_base=api_base,
            whatsapp_max_mps=_positive_int("WHATSAPP_MAX_MPS", text("WHATSAPP_MAX_MPS"), 80),
            trading_grid_url=tg_url,
            trading_grid_token_url=token_url,
            trading_grid_client_id=client_id,
            trading_grid_client_secret=client_secret,
            trading_grid_events_secret=required("TRADING_GRID_EVENTS_SECRET"),
            directory_file=text("DIRECTORY_FILE"),
            templates_file=text("TEMPLATES_FILE"),
            data_dir=Path(text("DATA_DIR") or "data"),
            sandbox=sandbox,
            ops_token=text("OPS_TOKEN") or "",
            public_url=public_url,
            media_max_bytes=_positive_int("MEDIA_MAX_BYTES", text("MEDIA_MAX_BYTES"), 16 * 1024 * 1024),
            quiet_hours=_quiet_hours(text("QUIET_HOURS"), sandbox),
            date_flow_id=text("WHATSAPP_DATE_FLOW_ID"),
            opentext_api_url=opentext_url,
            opentext_client_id=text("OPENTEXT_CLIENT_ID") or "",
            opentext_client_secret=text("OPENTEXT_CLIENT_SECRET") or "",
            opentext_company_id=text("OPENTEXT_COMPANY_ID") or "",
            lens_poll_seconds=lens_poll,
        )
        return settings


def sandbox_secrets(settings: Settings) -> dict[str, str]:
    """A new secret for each signing secret that development with SANDBOX=1 leaves unset (else
    none): the sandbox signs the webhooks it sends itself, and an empty secret would have every
    one refused. Set once in the process that starts the web workers, they share it."""
    if not settings.sandbox or settings.production:
        return {}
    return {name: secrets.token_hex(16) for name, field in SANDBOX_SIGNING.items() if not getattr(settings, field)}


def _quiet_hours(raw: str | None, sandbox: bool) -> tuple[int, int] | None:
    """QUIET_HOURS: "20-8" (from, until: whole local hours), or "off". Unset: 20-8, but off in
    the sandbox, where people try the bot at any hour."""
    if raw is None:
        return None if sandbox else (20, 8)
    if raw.lower() in ("off", "0", "no", "none"):
        return None
    found = re.fullmatch(r"(\d{1,2})(?::00)?\s*-\s*(\d{1,2})(?::00)?", raw)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 23 or found.group(1) == found.group(2):
        raise SettingsError(f"QUIET_HOURS must be two different hours like 20-8 (from, until), or off; not {raw!r}")
    return int(found.group(1)), int(found.group(2))


def _positive_int(name: str, raw: str | None, default: int) -> int:
    value = _whole(name, raw, default)
    if value < 1:
        raise SettingsError(f"{name} must be at least 1, not {value}")
    return value


def _whole(name: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise SettingsError(f"{name} must not be negative, not {value}")
    return value


def _flag(name: str, raw: str | None) -> bool:
    value = (raw or "0").lower()
    if value not in ("0", "1", "true", "false", "yes", "no"):
        raise SettingsError(f"{name} must be 1 or 0, not {value!r}")
    return value in ("1", "true", "yes")


def _require_http_url(name: str, url: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise SettingsError(f"{name} must be an http(s) URL, not {url!r}")
