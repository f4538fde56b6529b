"""The `tgwa` command: demo, serve, worker, directory check, parked."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from redis.exceptions import RedisError

from app.settings import Settings, SettingsError, sandbox_secrets

DEMO_DIRECTORY = Path(__file__).parent / "demo" / "directory.yaml"


def _settings(**overrides: str) -> Settings:
    environ = {**os.environ, **overrides}
    try:
        return Settings.load(environ)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _build(settings: Settings, store_optional: bool = False) -> Any:
    """The runtime a command works with. Without REDIS_URL the store lives inside the running
    `tgwa demo` (or `tgwa serve`): the command reaches it there, or says in one line that none
    runs (a command that can do without the store goes on, and says what it does not know)."""
    from app import embedded_store, runtime

    connection = None
    if settings.embedded:
        found = embedded_store.reach(settings.data_dir, "DATA_DIR" in os.environ)
        if found is not None:  # the running process's store, its files and (unless given) its directory
            connection = found.connection
            settings = dataclasses.replace(settings, data_dir=found.data_dir,
                                           directory_file=settings.directory_file or found.directory_file)
        elif not store_optional:
            raise click.ClickException(
                f"no tgwa demo or tgwa serve is running with DATA_DIR={settings.data_dir}, and without REDIS_URL "
                "the store lives inside that process: start `make demo` first (or set DATA_DIR to its folder), "
                "or set REDIS_URL to your Redis")
        else:
            click.echo(f"(no tgwa demo or serve is running with DATA_DIR={settings.data_dir}: "
                       "who sent STOP there is not known)", err=True)
    try:
        return runtime.build(settings, connection=connection)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


def _whole_number(name: str, default: int) -> int:
    """A whole number from the environment (PORT, WEB_CONCURRENCY), or a one-line refusal."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise click.ClickException(f"{name} must be a whole number of 1 or more, not {value!r}")
    return int(value)


class _Commands(click.Group):
    """Every command ends in one line, not a traceback, when Redis cannot be reached."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RedisError as exc:
            raise click.ClickException(f"Redis does not answer ({type(exc).__name__}: {exc}); "
                                       "is REDIS_URL right, and is Redis running?") from None


@click.group(cls=_Commands)
def main() -> None:
    """tgwa: WhatsApp for OpenText Trading Grid."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="default: $PORT, else 8000")
def demo(host: str, port: int | None) -> None:
    """Everything on this machine: embedded store, embedded Trading Grid, sandbox WhatsApp."""
    from app.demo.seed import seed
    from app.runtime import embedded_case_pages
    from app.tradinggrid.embedded import EmbeddedTradingGrid

    port = port or _whole_number("PORT", 8000)
    _public_url_default(host, port)
    os.environ.update({"APP_ENV": "development", "SANDBOX": "1", "DIRECTORY_FILE": str(DEMO_DIRECTORY),
                       "DATA_DIR": os.environ.get("DATA_DIR", "data/demo")})
    for name in ("REDIS_URL", "TRADING_GRID_URL"):
        os.environ.pop(name, None)
    lens_url = _demo_opentext()
    settings = _with_sandbox_secrets(_settings())
    cases = seed(EmbeddedTradingGrid(settings.data_dir / "tradinggrid.sqlite3", embedded_case_pages(settings)))
    base = f"http://{host}:{port}"
    click.echo(f"tgwa demo: {cases} cases in the embedded Trading Grid ({settings.data_dir})")
    click.echo(f"  sandbox (chat as anyone, fire Trading Grid events):  {base}/sandbox")
    click.echo(f"  ops overview:                 {base}/ops")
    click.echo(f"  WhatsApp webhook:             {base}/webhooks/whatsapp  (app secret {settings.whatsapp_app_secret})")
    click.echo(f"  Trading Grid events:          {base}/webhooks/tradinggrid  (secret {settings.trading_grid_events_secret})")
    click.echo(f"  health, readiness, metrics:   {base}/healthz  {base}/readyz  {base}/metrics")
    click.echo(f"  OpenText (loopback fake):     {lens_url}  Lens polled every {settings.lens_poll_seconds} s: "
               "a failed ASN from Acme becomes a case and Jana's alert")
    click.echo("Ctrl-C stops it.")
    _serve(settings, host, port)


def _demo_opentext() -> str:
    """Starts the demo's loopback OpenText (app.demo.opentext) in a process of its own, which
    outlives this one becoming gunicorn and stops with it, and points the settings at it."""
    from app.demo.opentext import FakeOpenText

    child = subprocess.Popen([sys.executable, "-m", "app.demo.opentext"], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    url = child.stdout.readline().strip()
    if not url.startswith("http://"):
        raise click.ClickException("the demo's OpenText did not start")
    fake = FakeOpenText()
    os.environ.update({"OPENTEXT_API_URL": url, "OPENTEXT_CLIENT_ID": fake.client_id,
                       "OPENTEXT_CLIENT_SECRET": fake.client_secret, "OPENTEXT_COMPANY_ID": fake.company_id})
    os.environ.setdefault("LENS_POLL_SECONDS", "10")
    return url


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=None, type=int, help="default: $PORT, else 8000")
def serve(host: str, port: int | None) -> None:
    """The web process, as the Procfile runs it; in embedded mode (no REDIS_URL) it runs the worker too."""
    port = port or _whole_number("PORT", 8000)
    _public_url_default(host, port)
    _serve(_settings(), host, port)


def _public_url_default(host: str, port: int) -> None:
    """PUBLIC_URL, unless set, is where this process is about to listen: the embedded Trading
    Grid's case links then work on any port."""
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    os.environ.setdefault("PUBLIC_URL", f"http://{shown}:{port}")


def _with_sandbox_secrets(settings: Settings) -> Settings:
    """The settings with the signing secrets a sandbox left unset made up (settings.sandbox_secrets),
    put in the environment for the web process to find."""
    made = sandbox_secrets(settings)
    os.environ.update(made)
    return _settings() if made else settings


def _serve(settings: Settings, host: str, port: int) -> NoReturn:
    """Becomes gunicorn, run as the Procfile's `web` line runs it (app.serving: gevent workers, the
    read timeout, masked logs, the settings checked once), with WEB_CONCURRENCY workers, one in
    embedded mode (its store lives there); GUNICORN_CMD_ARGS is read by gunicorn itself. The
    settings reach it through the environment."""
    workers = 1 if settings.embedded else _whole_number("WEB_CONCURRENCY", 2)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", *web_arguments(host, port, workers)])


def web_arguments(host: str, port: int, workers: int) -> list[str]:
    """gunicorn's arguments for the web process: the Procfile's `web` line, filled in."""
    return ["--config", "python:app.serving", "--bind", f"{host}:{port}", "--workers", str(workers),
            "app:create_app()"]


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
    wrong = intents_cli.problem(country, language)
    if wrong is not None:
        raise click.UsageError(wrong)
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


@directory.command("sync")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="print what would change, write nothing")
def directory_sync(file: Path, dry_run: bool) -> None:
    """Brings FILE up to date from OpenText Community Management (OPENTEXT_* settings)."""
    from app import directory_sync as sync
    from app.opentext import community
    from app.opentext.client import OpenText, OpenTextError

    settings = _settings()
    if not settings.opentext_api_url:
        raise click.ClickException("OPENTEXT_API_URL is not set (and its client id, secret and company id)")
    try:
        text = file.read_text(encoding="utf-8") if file.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} cannot be read: {exc}") from None
    ot = OpenText.from_settings(settings)
    try:
        partners, users = community.partners(ot), community.users(ot)
    except OpenTextError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Community Management {settings.opentext_company_id}: {len(partners)} partners, {len(users)} users")
    result = sync.plan(text, partners, users)
    for kind, lines in (("added", result.added), ("changed", result.changed), ("left", result.left),
                        ("skipped", result.skipped)):
        for line in lines:
            click.echo(f"{kind:8} {line}")
    summary = f"{len(result.added)} added, {len(result.changed)} changed, {len(result.left)} left"
    if not result.changes:
        click.echo(f"{file}: nothing to change ({summary})")
    elif dry_run:
        click.echo(f"{file}: dry run, nothing written ({summary})")
    else:
        try:
            sync.write(file, result.text)
        except sync.SyncRefused as exc:
            for problem in exc.problems:
                click.echo(f"{file}:{problem}", err=True)
            raise click.ClickException(f"{file} was not written: the synced file would not pass "
                                       "tgwa directory check") from None
        except OSError as exc:
            raise click.ClickException(f"{file} cannot be written: {exc}") from None
        click.echo(f"{file}: written ({summary})")


@main.group()
def broadcast() -> None:
    """Alerts to targeted partner contacts."""


@broadcast.command("preview")
@click.argument("event_file", type=click.Path(dir_okay=False, path_type=Path))
def broadcast_preview(event_file: Path) -> None:
    """Who would receive the alert in EVENT_FILE, and why each other contact would not."""
    from app import notifications
    from app.events import schema, types

    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{event_file}: not a JSON event ({exc})") from None
    problems = schema.errors(event)
    if problems or event.get("type") != "alert.broadcast":
        for problem in problems or [{"field": "type", "message": "must be alert.broadcast"}]:
            click.echo(f"{event_file}: {problem['field']}: {problem['message']}", err=True)
        sys.exit(1)
    rt = _build(_settings(), store_optional=True)
    verdicts = notifications.explain_alert(rt, types.parse(event))
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
