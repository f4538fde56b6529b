"""Quiet hours for everyone: a notification that is not a critical alert waits for 08:00 on the
person's own clock (the directory's time zone, else their partner's country's, else their
number's); a critical alert never waits, and the bot's answers to a person's own messages are
not notifications at all."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rq.registry import ScheduledJobRegistry

from app import localtime
from app.directory import DirectoryError, load
from app.queues import OUTBOUND
from app.settings import Settings
from tests.chat import Chat, event
from tests.clock import time_passes
from tests.conftest import FIXTURES, make_settings
from tests.test_conversations import MARIA, exception_logged, new_case


def zone_where_it_is(hour: int) -> str:
    """A fixed-offset zone whose local hour now is `hour` (Etc/GMT signs run backwards)."""
    utc = dt.datetime.now(dt.timezone.utc).hour
    offset = (hour - utc + 12) % 24 - 12
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    """Maria's clock says 2 in the morning; quiet hours as shipped (20-8)."""
    text = (FIXTURES / "directory.yaml").read_text().replace(
        '        phone: "(415) 555-0134"\n', f'        phone: "(415) 555-0134"\n        timezone: {zone_where_it_is(2)}\n')
    directory = tmp_path / "directory.yaml"
    directory.write_text(text)
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(directory), QUIET_HOURS="20-8")


def test_a_notification_waits_for_eight_in_the_morning_on_the_persons_own_clock(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    assert graph.texts_to(MARIA) == [], "not at 2 in the morning"
    [job_id] = ScheduledJobRegistry(OUTBOUND, connection=rt.queues.connection).get_job_ids()
    moment = ScheduledJobRegistry(OUTBOUND, connection=rt.queues.connection).get_scheduled_time(job_id)
    person = rt.directory.person(MARIA)
    local = moment.astimezone(localtime.zone_of(MARIA, person.timezone))
    assert (local.hour, local.minute) == (8, 0)
    time_passes(rt, work)
    assert graph.texts_to(MARIA)[-1].startswith("[tgwa_exception_logged]"), "told in the morning, once"
    assert len(graph.texts_to(MARIA)) == 1


def test_a_critical_alert_never_waits(client, work, graph) -> None:
    event(client, work, "alert.broadcast", alert_id="AL-1", category="port_closure", severity="critical",
          title="Port closed", message="Storm", targeting={"partner_ids": ["GLOBEX"]}, requires_ack=False)
    assert graph.texts_to(MARIA)[-1].startswith("[tgwa_alert] CRITICAL")


def test_an_answer_to_a_persons_own_message_never_waits(client, work, graph, grid) -> None:
    case = new_case(grid)
    Chat(client, work, graph, MARIA).says(f"status {case['id']}")
    assert graph.texts_to(MARIA)[-1].startswith(f"{case['id']} (PO-4410093)")


def test_the_time_zone_comes_from_the_directory_else_the_partners_country_else_the_number() -> None:
    assert str(localtime.zone_of("4915123456789", "America/Chicago", "DE")) == "America/Chicago"
    assert str(localtime.zone_of("4915123456789", None, "JP")) == "Asia/Tokyo"
    assert str(localtime.zone_of("4915123456789")) == "Europe/Berlin"


def test_quiet_hours_are_a_setting_off_in_the_sandbox_and_checked() -> None:
    assert Settings.from_mapping({}).quiet_hours == (20, 8)
    assert Settings.from_mapping({"QUIET_HOURS": "22-7"}).quiet_hours == (22, 7)
    assert Settings.from_mapping({"QUIET_HOURS": "off"}).quiet_hours is None
    assert Settings.from_mapping({"SANDBOX": "1"}).quiet_hours is None
    with pytest.raises(Exception, match="QUIET_HOURS must be two different hours"):
        Settings.from_mapping({"QUIET_HOURS": "late"})


def test_the_directory_takes_a_time_zone_per_person_and_refuses_one_that_is_not(tmp_path: Path) -> None:
    text = (FIXTURES / "directory.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace('        phone: "(415) 555-0134"\n', '        phone: "(415) 555-0134"\n        timezone: Mars/Olympus\n'))
    with pytest.raises(DirectoryError, match="is not a time zone"):
        load(bad)
