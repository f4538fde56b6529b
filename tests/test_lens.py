"""Failed transactions in Lens become Trading Grid cases and alerts to the partner, once each:
served three times, read by two pollers at once, with Lens down for a while; a partner nobody
knows is shown on /ops, not dropped. Lens, Trading Grid and Meta are loopback servers."""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import keyspace, lens_poller, runtime
from app.demo.opentext import FakeOpenText
from app.opentext.client import OpenText
from app.settings import Settings
from tests.chat import Chat
from tests.conftest import FIXTURES, make_settings
from tests.loopback import serve
from tests.test_conversations import MARIA

NOW = "2026-12-03T09:00:00Z"
POLLED_AT = dt.datetime(2026, 12, 3, 10, tzinfo=dt.timezone.utc).timestamp()  # an hour after NOW


def failed_asn(transaction_id: str = "TX-8812", sender: str = "ZZ:GLOBEXFREIGHT", at: str = NOW) -> dict:
    return {"transactionid": transaction_id, "correlationid": "C-77", "arrivaltime": at, "status": "Failed",
            "editype": "856", "transactionlevel": "DOCUMENT", "sendername": "GLOBEX FREIGHT", "senderaddress": sender,
            "receivername": "DEMO RETAILER", "receiveraddress": "ZZ:DEMORETAILER", "errorcode": "E-17",
            "externalerrormessage": "ASN references unknown PO line 3",
            "contentkeys": [{"key": "purchase order number", "value": "PO-4410093"}]}


@pytest.fixture
def opentext() -> Iterator[FakeOpenText]:
    fake = FakeOpenText()
    with serve(fake.app()) as url:
        fake.url = url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str, opentext: FakeOpenText) -> Settings:  # type: ignore[no-untyped-def]
    directory = tmp_path / "directory.yaml"
    directory.write_text((FIXTURES / "directory.yaml").read_text().replace(
        "    name: Globex Freight Inc.\n", "    name: Globex Freight Inc.\n    trading_addresses: [ZZ:GLOBEXFREIGHT]\n"))
    return make_settings(tmp_path, graph.url, tradinggrid_url, DIRECTORY_FILE=str(directory),
                         OPENTEXT_API_URL=opentext.url, OPENTEXT_CLIENT_ID=opentext.client_id,  # type: ignore[attr-defined]
                         OPENTEXT_CLIENT_SECRET=opentext.client_secret, OPENTEXT_COMPANY_ID=opentext.company_id,
                         LENS_POLL_SECONDS="30")


def reader(opentext: FakeOpenText) -> OpenText:
    return OpenText(opentext.url, opentext.client_id, opentext.client_secret, opentext.company_id,  # type: ignore[attr-defined]
                    backoff=0.01)


def poll(rt: runtime.Runtime, opentext: FakeOpenText) -> lens_poller.Outcome | None:
    return lens_poller.poll(rt, reader(opentext), now=POLLED_AT)


def lens_cases(grid) -> list[dict]:  # type: ignore[no-untyped-def]
    return [c for c in grid.audit()["cases"] if c["source"] == "lens"]


def test_a_failed_asn_becomes_one_case_and_one_alert_however_often_it_is_served(
        rt, client, work, graph, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    opentext.transactions = [failed_asn(), failed_asn(), failed_asn()]  # Lens serves it three times
    outcome = poll(rt, opentext)
    assert outcome is not None and (outcome.cases, outcome.seen) == (1, 2)
    rt.redis.delete(keyspace.LENS_CURSOR)  # and the next poll reads the same hours again
    assert poll(rt, opentext).cases == 0  # type: ignore[union-attr]
    work()
    [case] = lens_cases(grid)
    assert (case["partner_id"], case["issue_type"], case["reference"]) == ("GLOBEX", "order_exception", "PO-4410093")
    assert case["summary"] == "EDI 856 failed in Lens: ASN references unknown PO line 3"
    maria = Chat(client, work, graph, MARIA)
    [alert] = [m for m in maria.bot if "PO-4410093" in m]
    assert "ASN references unknown PO line 3" in alert
    maria.says("the right PO is 4500012345", reply_to=graph.wamids[-1])  # her answer lands on the new case
    maria.taps("Confirm")
    assert [(r["kind"], r["value"]) for r in grid.audit(case["id"])["references"]] == [("po", "4500012345")]


def test_two_pollers_at_once_make_one_case(rt, work, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    opentext.transactions = [failed_asn()]
    opentext.delay = 0.3  # each Lens call takes a while: the pollers overlap
    outcomes: list[lens_poller.Outcome | None] = []
    pollers = [threading.Thread(target=lambda: outcomes.append(poll(rt, opentext))) for _ in range(2)]
    for p in pollers:
        p.start()
    for p in pollers:
        p.join(10)
    assert sorted(o is None for o in outcomes) == [False, True], "one polled, the other found the lease taken"
    work()
    assert len(lens_cases(grid)) == 1


def test_a_large_answer_is_scrolled_through_page_by_page(rt, work, grid, opentext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lens_poller, "PAGE", 2)
    opentext.transactions = [failed_asn(f"TX-{n}", at=f"2026-12-03T08:0{n}:00Z") for n in range(5)]
    assert poll(rt, opentext).cases == 5  # type: ignore[union-attr]
    assert opentext.calls.count("POST /visibility_transaction_search") == 3, "pages of 2, 2 and 1"
    assert rt.redis.get(keyspace.LENS_CURSOR) == b"2026-12-03T08:04:00Z"
    work()
    assert len(lens_cases(grid)) == 5


def test_a_partner_nobody_knows_is_counted_and_shown_on_ops(rt, client, work, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    opentext.transactions = [failed_asn("TX-9001", sender="ZZ:NOBODYWEKNOW")]
    assert poll(rt, opentext).unknown == 1  # type: ignore[union-attr]
    assert lens_cases(grid) == []
    lens = client.get("/ops", headers={"Accept": "application/json"}).get_json()["lens"]
    assert lens["set_aside"] == 1
    [shown] = lens["set_aside_latest"]
    assert shown["id"] == "TX-9001" and "ZZ:NOBODYWEKNOW" in shown["why"]
    page = client.get("/ops", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "TX-9001" in page and "no partner in the directory trades as" in page


def test_lens_down_backs_off_and_then_catches_up(rt, work, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    opentext.transactions = [failed_asn("TX-1", at="2026-12-03T08:00:00Z"), failed_asn("TX-2")]
    opentext.fail_next(503, 503, 503, 503)
    outcome = poll(rt, opentext)
    assert outcome is not None and outcome.error  # the whole gateway is down: its token endpoint too
    assert outcome.error.startswith("Lens POST /visibility_transaction_search: ") and "503" in outcome.error
    assert rt.redis.ttl(keyspace.LENS_NEXT) > 30, "the next poll waits longer than the usual 30 s"
    assert lens_cases(grid) == []
    assert poll(rt, opentext).cases == 2  # type: ignore[union-attr]
    assert lens_poller.status(rt)["last_error"] is None


def test_a_token_that_runs_out_between_polls_is_renewed(rt, work, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    ot = reader(opentext)
    opentext.transactions = [failed_asn("TX-1")]
    lens_poller.poll(rt, ot, now=POLLED_AT)
    opentext.expire_tokens()
    opentext.transactions.append(failed_asn("TX-2", at="2026-12-03T09:30:00Z"))
    assert lens_poller.poll(rt, ot, now=POLLED_AT).cases == 1  # type: ignore[union-attr]
    assert ot.credentials.fetched == 2


def test_the_keepers_queue_one_poll_an_interval(rt, work, grid, opentext) -> None:  # type: ignore[no-untyped-def]
    opentext.transactions = [failed_asn(at=lens_poller._iso(time.time() - 60))]
    lens_poller.due()
    lens_poller.due()  # a second keeper round within the interval queues nothing
    assert rt.queues.by_name["events"].count == 1
    work()
    assert len(lens_cases(grid)) == 1
