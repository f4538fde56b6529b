"""The `tgwa` command: demo, serve, worker, directory check, parked."""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from app.settings import Settings, SettingsError

DEMO_DIRECTORY = Path(__file__).parent / "demo" / "directory.yaml"


def _settings(**overrides: str) -> Settings:
    environ = {**os.environ, **overrides}
    try:
        return Settings.load(environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _build(settings: Settings) -> Any:
    from app import runtime
    try:
        return runtime.build(settings)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main() -> None:
    """tgwa: WhatsApp for OpenText Trading Grid."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Everything on this machine: embedded store, embedded Trading Grid, sandbox WhatsApp."""
    from app.demo.seed import seed
    from app.tradinggrid.embedded import EmbeddedTradingGrid

    overrides = {"APP_ENV": "development", "SANDBOX": "1", "DIRECTORY_FILE": str(DEMO_DIRECTORY),
                 "DATA_DIR": os.environ.get("DATA_DIR", "data/demo")}
    for name in ("WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET", "TRADING_GRID_EVENTS_SECRET"):
        overrides[name] = os.environ.get(name) or secrets.token_hex(16)
    for name in ("REDIS_URL", "TRADING_GRID_URL"):
        os.environ.pop(name, None)
    settings = _settings(**overrides)
    cases = seed(EmbeddedTradingGrid(settings.data_dir / "tradinggrid.sqlite3"))
    base = f"http://{host}:{port}"
    click.echo(f"tgwa demo: {cases} cases in the embedded Trading Grid ({settings.data_dir})")
    click.echo(f"  sandbox (chat as anyone, fire Trading Grid events):  {base}/sandbox")
    click.echo(f"  ops overview:                 {base}/ops")
    click.echo(f"  WhatsApp webhook:             {base}/webhooks/whatsapp  (app secret {settings.whatsapp_app_secret})")
    click.echo(f"  Trading Grid events:          {base}/webhooks/tradinggrid  (secret {settings.trading_grid_events_secret})")
    click.echo(f"  health, readiness, metrics:   {base}/healthz  {base}/readyz  {base}/metrics")
    click.echo("Ctrl-C stops it.")
    _serve(_build(settings), host, port)


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=None, type=int, help="default: $PORT, else 8000")
def serve(host: str, port: int | None) -> None:
    """The web process; in embedded mode (no REDIS_URL) it runs the worker too."""
    settings = _settings()
    _serve(_build(settings), host, port or int(os.environ.get("PORT", "8000")))


def _serve(rt: Any, host: str, port: int) -> None:
    """gunicorn, as in production; embedded mode keeps to one process (its store lives there)."""
    from gunicorn.app.base import BaseApplication

    from app import create_app

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            workers = 1 if rt.settings.embedded else int(os.environ.get("WEB_CONCURRENCY", "2"))
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                               "threads": 8, "accesslog": "-", "graceful_timeout": 5}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(rt=rt, start_worker=rt.settings.embedded)

    Server().run()


@main.command()
@click.option("--burst", is_flag=True, help="run the jobs waiting now, then stop")
def worker(burst: bool) -> None:
    """A background worker process (needs REDIS_URL); run as many as you like."""
    from app import runtime
    from app.logs import configure_logging
    from app.worker import run

    settings = _settings()
    if settings.embedded:
        raise click.ClickException("REDIS_URL is required for tgwa worker (embedded mode runs its worker inside tgwa serve)")
    configure_logging()
    rt = _build(settings)
    runtime.install(rt)
    run(rt.queues, burst=burst)


@main.command()
@click.option("--jsonl", is_flag=True, help='stdin: one {"text", "today"?, "country"?, "language"?} a line')
@click.option("--country", default=None, help="ISO country of the writer (month-first in US, CA, PH)")
@click.option("--language", default=None, help="the writer's language (en, de, es, fr, pt)")
@click.option("--today", default=None, help="YYYY-MM-DD to read relative dates from (default: today)")
@click.argument("text", nargs=-1)
def parse(jsonl: bool, country: str | None, language: str | None, today: str | None, text: tuple[str, ...]) -> None:
    """Shows how the bot reads TEXT (or each line of stdin)."""
    import datetime as dt

    from intents import cli as intents_cli
    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        raise click.BadParameter("must be YYYY-MM-DD", param_hint="--today") from None
    if jsonl:
        intents_cli.stream(sys.stdin, sys.stdout, day)
        return
    lines = [" ".join(text)] if text else [line.rstrip("\n") for line in sys.stdin if line.strip()]
    for line in intents_cli.describe(lines, country, language, day):
        click.echo(line)


@main.group()
def directory() -> None:
    """The directory file of partners, contacts, staff and groups."""


@directory.command("check")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def directory_check(file: Path) -> None:
    """Prints every problem in FILE, one a line; exit 1 if there is any."""
    from app import directory as directory_module

    problems = directory_module.check(file)
    for problem in problems:
        click.echo(f"{file}:{problem}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(1)
    loaded = directory_module.load(file)
    contacts = sum(len(p.contacts) for p in loaded.partners.values())
    click.echo(f"{file}: OK ({len(loaded.partners)} partners, {contacts} contacts, "
               f"{len(loaded.staff)} staff, {len(loaded.groups)} groups)")


@main.group()
def broadcast() -> None:
    """Alerts to targeted partner contacts."""


@broadcast.command("preview")
@click.argument("event_file", type=click.Path(dir_okay=False, path_type=Path))
def broadcast_preview(event_file: Path) -> None:
    """Who would receive the alert in EVENT_FILE, and why each other contact would not."""
    from app import notifications
    from app.events import schema

    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{event_file}: not a JSON event ({exc})") from None
    problems = schema.errors(event)
    if problems or event.get("type") != "alert.broadcast":
        for problem in problems or [{"field": "type", "message": "must be alert.broadcast"}]:
            click.echo(f"{event_file}: {problem['field']}: {problem['message']}", err=True)
        sys.exit(1)
    rt = _build(_settings())
    verdicts = notifications.explain_alert(rt, event)
    chosen = [c for c, reason in verdicts if reason is None]
    click.echo(f"{len(chosen)} of {len(verdicts)} contacts would receive \"{event['title']}\":")
    for contact, reason in verdicts:
        partner = rt.directory.partners[contact.partner_id].name
        mark = "  +" if reason is None else "  -"
        click.echo(f"{mark} {contact.name} ({partner}, +{contact.phone})" + (f": {reason}" if reason else ""))


@main.group()
def parked() -> None:
    """Work waiting for a person: list it, or retry it."""


@parked.command("list")
def parked_list() -> None:
    from app import parked as parked_module
    rt = _build(_settings())
    items = parked_module.items(rt.redis)
    for item in items:
        click.echo(json.dumps(item, ensure_ascii=False))
    click.echo(f"{len(items)} parked", err=True)


@parked.command("retry")
@click.argument("item_id")
def parked_retry(item_id: str) -> None:
    """Puts parked item ITEM_ID back to work."""
    from app import parked as parked_module
    rt = _build(_settings())
    item = parked_module.retry(rt, item_id)
    if item is None:
        raise click.ClickException(f"nothing parked with id {item_id}")
    click.echo(f"retrying {item['kind']} {item_id}: {item['reason']}")


if __name__ == "__main__":
    main()
