"""In a real browser (Playwright driving Debian's Chromium): the sandbox chat and Trading Grid
panel, end to end. (The README's pictures are taken from `tgwa demo` itself: tests/screenshots.py.)"""
from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import create_app, runtime
from app.events import schema
from tests.conftest import make_settings
from bench.stack import free_port
from tests.loopback import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here (.ci/run installs Debian's chromium)")


@pytest.fixture
def sandbox(tmp_path: Path, graph, redis_conn) -> Iterator[tuple[str, object]]:  # type: ignore[no-untyped-def]
    port = free_port()
    settings = make_settings(tmp_path, graph.url, None, SANDBOX="1", PUBLIC_URL=f"http://127.0.0.1:{port}")
    rt = runtime.build(settings, connection=redis_conn)
    app = create_app(rt=rt, start_worker=True)
    with serve(app, port) as url:
        yield url, rt
    stop_embedded_workers()


def stop_embedded_workers() -> None:
    for thread in threading.enumerate():
        if thread.name == "tgwa-embedded-worker":
            thread.stop()  # type: ignore[attr-defined]


@pytest.fixture
def page() -> Iterator[object]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield browser.new_page(viewport={"width": 1400, "height": 820})
        browser.close()


def maria_is_told_of_a_delay(url: str, rt, page) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """A delayed case of Globex's, its exception fired from the sandbox panel, Maria's chat open."""
    case = rt.tradinggrid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                                       "summary": "Truck broke down near Reno"}, idempotency_key="seed")
    page.goto(f"{url}/sandbox")
    page.select_option("#event-type", "exception.logged")
    page.select_option("#event-partner", "GLOBEX")
    page.click("#fire")
    page.click("text=Maria Lopez")
    page.wait_for_selector(".bubble.bot >> text=PO-4410093")
    return case


def says(page, words: str) -> None:  # type: ignore[no-untyped-def]
    page.fill("#text", words)
    page.click("#send")


def test_a_partner_answers_a_delay_and_the_case_shows_the_new_date(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    url, rt = sandbox
    case = maria_is_told_of_a_delay(url, rt, page)
    says(page, "truck broke down, can deliver 12/3/2027")
    page.wait_for_selector("text=New delivery date for PO-4410093: Fri 3 Dec 2027. Is that right?")
    page.click(".bubble.bot .choices button:has-text('Confirm')")
    page.wait_for_selector(f"#cases tr[data-case='{case['id']}'] >> text=2027-12-03")
    page.wait_for_selector("#audit >> text=Maria Lopez")
    page.wait_for_selector(".bubble.bot .meta >> text=read")
    assert rt.tradinggrid.get_case(case["id"])["expected_date"] == "2027-12-03"


def test_the_ops_page_shows_a_notification_read(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    url, rt = sandbox
    rt.tradinggrid.create_case({"partner_id": "ACME", "issue_type": "shipment_delay", "reference": "PO-778812",
                                "summary": "Container held at Hamburg port"}, idempotency_key="seed")
    page.goto(f"{url}/sandbox")
    page.select_option("#event-partner", "ACME")
    page.click("#fire")
    page.click("text=Jana Weber")
    page.wait_for_selector(".bubble.bot .meta >> text=read")  # her phone reported it read (a status webhook)
    page.goto(f"{url}/ops")
    page.wait_for_selector("#notifications >> text=sent 1 · delivered 1 · read 1 · failed 0")
    row = page.locator("#notifications tr.notification").first.inner_text()
    assert "exception.logged" in row and "PO-778812" in row and "Acme Logistics GmbH" in row and "UTC" in row
    assert "event:" not in row, "what it was about, not its opaque id"
    page.wait_for_selector("#conversations >> text=awaiting_info 1")


def test_the_link_in_a_message_opens_the_case_with_its_thread_newest_first(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    url, rt = sandbox
    case = maria_is_told_of_a_delay(url, rt, page)
    says(page, "can do 12/3/2027")
    page.click(".bubble.bot .choices button:has-text('Confirm')")
    page.wait_for_selector("text=now shows Fri 3 Dec 2027")
    says(page, f"status {case['id']}")
    link = f"{url}/tradinggrid/cases/{case['id']}"
    page.wait_for_selector(f".bubble.bot >> text={link}")  # the link WhatsApp shows, on this server's port
    page.goto(link)
    assert page.inner_text("#expected") == "2027-12-03"
    rows = page.locator("#history tr").all_inner_texts()[1:]
    assert "acknowledgment" not in rows[0] and "can do 12/3/2027" in rows[0] and "Maria Lopez" in rows[0]
    missing = page.goto(f"{url}/tradinggrid/cases/CASE-9999")
    assert missing is not None and missing.status == 404
    assert "no case CASE-9999" in page.inner_text("#missing")


def test_a_partner_sends_a_pdf_from_the_sandbox_and_the_case_page_offers_it_for_download(  # type: ignore[no-untyped-def]
        sandbox, page, tmp_path: Path) -> None:
    url, rt = sandbox
    case = maria_is_told_of_a_delay(url, rt, page)
    pdf = tmp_path / "pod-778812.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 960 + b"\n%%EOF\n")
    page.fill("#text", "signed POD")  # the caption
    page.set_input_files("#file", str(pdf))
    page.wait_for_selector(".bubble >> text=pod-778812.pdf (240 KB)")
    page.wait_for_selector(f"text=Got pod-778812.pdf (240 KB). Attach it to {case['id']}?", timeout=20000)
    page.click(".bubble.bot .choices button:has-text('Confirm')")
    page.wait_for_selector(f"text=pod-778812.pdf attached to {case['id']}")
    page.wait_for_selector(f"#audit >> text=file pod-778812.pdf (240 KB) on {case['id']} by Maria Lopez: signed POD")
    page.goto(f"{url}/tradinggrid/cases/{case['id']}")
    assert "signed POD" in page.inner_text("#files")
    with page.expect_download() as download:
        page.click("#files a:has-text('pod-778812.pdf')")
    assert Path(download.value.path()).read_bytes() == pdf.read_bytes()


def test_an_open_list_menu_stays_open_while_the_chat_refreshes(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    """The chat is refreshed every second; only what changed is redrawn, so the rows of a list
    the person opened are still there to tap seconds later."""
    url, rt = sandbox
    for n, reference in enumerate(["PO-1", "PO-2", "PO-3"]):
        rt.tradinggrid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": reference,
                                    "summary": "late"}, idempotency_key=f"seed-{n}", assignee_id="u.smith")
    page.goto(f"{url}/sandbox")
    page.click("text=Una Smith")
    says(page, "my cases")
    page.click(".bubble.bot .choices button:has-text('☰')")
    page.wait_for_selector(".rows.open button:has-text('PO-2')")
    page.wait_for_timeout(2500)  # two refreshes and more
    assert page.locator(".rows.open button:has-text('PO-2')").is_visible(), "the open list is still open"
    page.click(".rows.open button:has-text('PO-2')")
    page.wait_for_selector(".bubble.bot >> text=PO-2): open")


def test_a_template_shows_its_registered_body_and_buttons_in_the_contacts_language(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    """Jana reads German and has not written for a day: she gets the German template, shown as
    WhatsApp Manager has it registered (templates.yaml), its quick reply in German."""
    url, rt = sandbox
    rt.tradinggrid.create_case({"partner_id": "ACME", "issue_type": "shipment_delay", "reference": "PO-778812",
                                "summary": "Container held at Hamburg port"}, idempotency_key="seed")
    page.goto(f"{url}/sandbox")
    page.select_option("#event-type", "exception.logged")
    page.select_option("#event-partner", "ACME")
    page.click("#fire")
    page.click("text=Jana Weber")
    template = page.wait_for_selector(".bubble.bot:has(.template)")
    assert template is not None
    text = template.inner_text()
    assert "bei PO-778812: Container held at Hamburg port. Bitte antworten Sie hier mit den Details." in text
    assert " · " not in text, "the body, not the parameters joined"
    assert page.locator(".bubble.bot .choices button").all_inner_texts() == ["Antworten"]
    page.click(".bubble.bot .choices button:has-text('Antworten')")
    page.wait_for_selector(".bubble.person >> text=Antworten")


def test_at_phone_width_the_sandbox_is_one_column_with_tabs_and_messages_show_their_time(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    url, rt = sandbox
    rt.tradinggrid.create_case({"partner_id": "GLOBEX", "issue_type": "shipment_delay", "reference": "PO-4410093",
                                "summary": "Truck broke down near Reno"}, idempotency_key="seed")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{url}/sandbox")
    assert page.locator("#people").bounding_box()["width"] > 350 and not page.locator("#chat").is_visible()
    page.click("#tabs button:has-text('Trading Grid')")
    page.select_option("#event-partner", "GLOBEX")
    page.click("#fire")
    page.wait_for_selector("#event-result >> text=sent exception.logged")
    page.click("#tabs button:has-text('People')")
    page.click("text=Maria Lopez")  # picking a person opens the chat
    page.wait_for_selector(".bubble.bot >> text=PO-4410093")
    assert page.locator("#chat").bounding_box()["width"] > 350 and not page.locator("#people").is_visible()
    says(page, "can do 12/3/2027")
    page.wait_for_selector(".bubble.bot >> text=Is that right?")
    for meta in page.locator(".bubble .meta").all_inner_texts():
        assert re.match(r"^\d\d:\d\d( |$)", meta), f"a message without its time: {meta!r}"
    sent = page.evaluate("m => new Date(m * 1000).toLocaleTimeString([], {hour: '2-digit', minute: '2-digit', "
                         "hour12: false})", int(time.time()))
    assert any(meta.startswith(sent[:2]) for meta in page.locator(".bubble.person .meta").all_inner_texts())
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing wider than the phone"


def test_the_trading_grid_panel_fires_every_event_type_and_says_in_words_why_one_is_refused(sandbox, page) -> None:  # type: ignore[no-untyped-def]
    url, rt = sandbox
    page.goto(f"{url}/sandbox")
    offered = page.locator("#event-type option").all_inner_texts()
    assert sorted(offered) == sorted(schema.SCHEMAS), "every event type the webhook takes"
    page.select_option("#event-type", "document.uploaded")
    page.select_option("#event-partner", "ACME")
    page.select_option("select[name=assignee_id]", "u.smith")
    page.click("#fire")
    page.wait_for_selector("#event-result >> text=sent document.uploaded")
    page.click("text=Una Smith")
    page.wait_for_selector(".bubble.bot >> text=packing-list.pdf")  # the approver is asked to review it
    page.select_option("#event-type", "onboarding.completed")
    page.click("#fire")
    page.wait_for_selector("#event-result >> text=sent onboarding.completed")
    page.select_option("#event-type", "exception.logged")
    page.fill("input[name=case_id]", "CASE-9999")
    page.click("#fire")
    page.wait_for_selector("#event-result.refused")
    refused = page.inner_text("#event-result")
    assert refused.startswith("Not sent: there is no case CASE-9999") and "{" not in refused


def test_the_date_picker_flow_can_be_filled_in_the_sandbox(tmp_path: Path, graph, redis_conn, page) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    settings = make_settings(tmp_path, graph.url, None, SANDBOX="1", PUBLIC_URL=f"http://127.0.0.1:{port}",
                             WHATSAPP_DATE_FLOW_ID="1187364291")
    rt = runtime.build(settings, connection=redis_conn)
    with serve(create_app(rt=rt, start_worker=True), port) as url:
        case = maria_is_told_of_a_delay(url, rt, page)
        says(page, "hmm")
        page.wait_for_selector("text=Sorry, I didn't get that.")
        says(page, "soonish")
        page.wait_for_selector("input.flow-date")
        page.fill("input.flow-date", "2027-12-06")
        page.click(".bubble.bot .choices button:has-text('Choose')")
        page.wait_for_selector("text=New delivery date for PO-4410093: Mon 6 Dec 2027. Is that right?")
        page.locator(".bubble.bot .choices button:has-text('Confirm')").last.click()
        page.wait_for_selector(f"#cases tr[data-case='{case['id']}'] >> text=2027-12-06")
    stop_embedded_workers()
