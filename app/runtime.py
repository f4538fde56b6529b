"""The services one process uses, built once from Settings at start-up and shared by its
requests and jobs: Redis, queues, directory, Trading Grid and WhatsApp."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import redis

from app import directory as directory_module
from app import message_templates, store
from app.groupcommit import GroupCommit
from app.queues import Queues
from app.settings import Settings, SettingsError
from app.tradinggrid.embedded import EmbeddedTradingGrid
from app.tradinggrid.http import HttpTradingGrid
from app.tradinggrid.port import TradingGrid
from app.whatsapp.graph import GraphTransport, SandboxTransport, WhatsApp
from app.whatsapp.inbound import InboundMessage, StatusUpdate
from app.whatsapp.media import GraphMedia


@dataclasses.dataclass
class Runtime:
    settings: Settings
    redis: redis.Redis
    queues: Queues
    directory_file: directory_module.Watched  # read again when it changes: no restart for a new directory
    tradinggrid: TradingGrid
    whatsapp: WhatsApp
    templates: message_templates.Templates
    media: GraphMedia  # files people send: Meta's media endpoints, or the sandbox's
    # This process's group commit of inbound messages, made on first use (app.ingest.group_commit).
    inbound: GroupCommit[list[InboundMessage], list[int]] | None = None
    # ... of events from the webhook (app.ingest.record_webhook_event), and of Meta's statuses.
    events_in: GroupCommit[dict[str, Any], bool] | None = None
    statuses_in: GroupCommit[list[StatusUpdate], None] | None = None

    @property
    def directory(self) -> directory_module.Directory:
        return self.directory_file.current()


def build(settings: Settings, connection: redis.Redis | None = None) -> Runtime:
    """Everything `settings` describes; a missing directory or bad file stops start-up clearly."""
    if not settings.directory_file:
        raise SettingsError("DIRECTORY_FILE is required (tgwa demo brings its own)")
    try:
        directory = directory_module.load(settings.directory_file)
    except directory_module.DirectoryError as exc:
        raise SettingsError(f"DIRECTORY_FILE {settings.directory_file}: {exc.problems[0]}"
                            + (f" (and {len(exc.problems) - 1} more; run tgwa directory check)"
                               if len(exc.problems) > 1 else "")) from None
    try:
        approved = message_templates.load(Path(settings.templates_file) if settings.templates_file else None)
    except message_templates.TemplatesError as exc:
        raise SettingsError(f"TEMPLATES_FILE {exc}") from None
    connection = connection if connection is not None else store.connect(settings)
    grid: TradingGrid
    if settings.trading_grid_url:
        credentials = None
        if settings.trading_grid_token_url:
            credentials = (settings.trading_grid_token_url, settings.trading_grid_client_id or "",
                           settings.trading_grid_client_secret or "")
        grid = HttpTradingGrid(settings.trading_grid_url, credentials)
    else:
        grid = EmbeddedTradingGrid(settings.data_dir / "tradinggrid.sqlite3", embedded_case_pages(settings))
    transport = (SandboxTransport(connection) if settings.sandbox else
                 GraphTransport(settings.whatsapp_api_base, settings.whatsapp_phone_number_id,
                                settings.whatsapp_access_token))
    media = GraphMedia(sandbox_media(settings) if settings.sandbox else settings.whatsapp_api_base,
                       settings.whatsapp_access_token, settings.data_dir / "media-scratch")
    return Runtime(settings=settings, redis=connection, queues=Queues(store.connect_queues(settings, connection)),
                   directory_file=directory_module.Watched(settings.directory_file, directory),
                   tradinggrid=grid, whatsapp=WhatsApp(transport), templates=approved, media=media)


def sandbox_media(settings: Settings) -> str:
    """Where the sandbox serves the files its people send, as Meta's media endpoints do (app.web.sandbox)."""
    return f"{settings.public_url}/sandbox/graph"


def embedded_case_pages(settings: Settings) -> str:
    """Where the embedded Trading Grid's case pages are served: this web app (app.web.case_page)."""
    return f"{settings.public_url}/tradinggrid/cases"


_current: Runtime | None = None


def install(runtime: Runtime) -> None:
    """Makes `runtime` the one this process's jobs use (the worker and the embedded worker)."""
    global _current
    _current = runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError("no runtime installed in this process")
    return _current
