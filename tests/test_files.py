"""Files over WhatsApp, as chats: the partner sends a PDF, a photo or a voice note, the bot says
back what it got and where it would go, and on Confirm Trading Grid holds the very bytes (the
loopback Graph serves them under a media id, as Meta does; the loopback Trading Grid takes them
as multipart)."""
from __future__ import annotations

import hashlib
import io
import struct
from pathlib import Path

import pytest
from mutagen.ogg import OggPage

from app import create_app, parked, runtime
from app.settings import Settings
from app.worker import run_once
from tests.chat import Chat, event
from tests.clock import time_passes
from tests.conftest import make_settings
from tests import faulty_grid
from tests.flaky import Faults
from tests.test_conversations import JANA, MARIA, exception_logged, new_case

faults, tradinggrid_url = faulty_grid.faults, faulty_grid.tradinggrid_url  # its Trading Grid fails on command
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 960 + b"\n%%EOF\n"  # 240 KB
JPEG = b"\xff\xd8\xff\xe0" + b"\x10JFIF" + bytes(range(7, 256)) * 40 + b"\xff\xd9"


def ogg_opus(seconds: float) -> bytes:
    """A voice note as WhatsApp records it (Ogg Opus) lasting `seconds`: its header pages and a
    last page whose granule position says how long it is."""
    head, tags, audio = OggPage(), OggPage(), OggPage()
    head.packets = [b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)]
    head.first = True
    tags.packets = [b"OpusTags" + struct.pack("<I", 4) + b"tgwa" + struct.pack("<I", 0)]
    tags.sequence = 1
    audio.packets = [b"\xfc" + bytes(80)]
    audio.sequence, audio.position, audio.last = 2, int(seconds * 48000) + 312, True
    for page in (head, tags, audio):
        page.serial = 0x7467
    out = io.BytesIO()
    for page in (head, tags, audio):
        out.write(page.write())
    return out.getvalue()


@pytest.fixture
def settings(tmp_path: Path, graph, tradinggrid_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, graph.url, tradinggrid_url, MEDIA_MAX_BYTES="1048576")


def stored(grid, case_id: str | None = None) -> list[tuple[dict, bytes]]:  # type: ignore[no-untyped-def]
    """What Trading Grid holds: each file's record and its bytes."""
    out = []
    for record in grid.audit(case_id)["attachments"]:
        _, path = grid.stored_file(record["id"])
        out.append((record, path.read_bytes()))
    return out


def the_question_comes(rt, work) -> None:  # type: ignore[no-untyped-def]
    time_passes(rt, work, rounds=2, seconds=10)  # the few seconds the bot waits for more files


def test_a_pdf_in_reply_to_a_delay_lands_on_the_case_byte_for_byte(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    alert = graph.wamids[-1]
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="pod-778812.pdf", caption="signed POD", reply_to=alert)
    assert stored(grid) == [], "nothing is written before Confirm"
    the_question_comes(rt, work)
    assert maria.last == f"Got pod-778812.pdf (240 KB). Attach it to {case['id']}?"
    assert maria.buttons() == ["Confirm", "Cancel"]
    maria.taps("Confirm")
    assert maria.last == f"Thanks Maria, pod-778812.pdf attached to {case['id']}."
    [(record, data)] = stored(grid, case["id"])
    assert data == PDF and record["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert (record["filename"], record["content_type"], record["caption"]) == ("pod-778812.pdf", "application/pdf",
                                                                               "signed POD")
    assert record["author"]["name"] == "Maria Lopez"


def test_a_photo_for_a_document_request_becomes_that_document_with_the_acknowledgment(client, work, graph, grid,
                                                                                    rt) -> None:
    event(client, work, "document.requested", partner_id="ACME", document_type="packing_list",
          url="https://tg.example.com/documents/new")
    jana = Chat(client, work, graph, JANA)
    jana.sends_file(JPEG, "image/jpeg", kind="image", reply_to=graph.wamids[-1])
    the_question_comes(rt, work)
    assert "Packliste" in jana.last and jana.buttons()[-1] == "Abbrechen"
    jana.taps("Bestätigen")
    [(record, data)] = stored(grid)
    assert data == JPEG and record["id"].startswith("DOC-")
    assert (record["partner_id"], record["document_type"]) == ("ACME", "packing_list")
    assert record["filename"].startswith("photo-") and record["filename"].endswith(".jpg")
    [ack] = grid.audit()["acknowledgments"]
    assert (ack["subject_type"], ack["response"]) == ("document", "done")
    assert "Packliste" in jana.last


def test_photos_sent_together_are_one_question(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    for n in range(4):
        maria.sends_file(JPEG + bytes([n]), "image/jpeg", kind="image", caption="damage" if n == 0 else None)
    the_question_comes(rt, work)
    questions = [t for t in maria.bot if t.startswith("Got")]
    assert questions == [f"Got 4 files ({round(4 * len(JPEG) / 1024)} KB). Attach them to {case['id']}?"]
    maria.says("yes")
    assert sorted(d for _, d in stored(grid, case["id"])) == sorted(JPEG + bytes([n]) for n in range(4))
    assert maria.last == f"Thanks Maria, 4 files attached to {case['id']}."


def test_a_file_over_the_limit_is_refused_and_nothing_is_written(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(b"x" * (1048576 + 1), "application/pdf", filename="scan.pdf")
    assert maria.last == ("scan.pdf is larger than 1.0 MB, the most I can attach. Please send a smaller file or "
                          "upload it in Trading Grid.")
    the_question_comes(rt, work)
    assert not [t for t in maria.bot if t.startswith("Got")] and stored(grid) == []
    assert graph.downloads == [], "not a byte is fetched of a file that cannot be attached"


def test_a_media_id_meta_no_longer_serves_is_refused(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="old.pdf", gone=True)
    assert maria.last == "I couldn't fetch old.pdf from WhatsApp any more. Please send it again."
    the_question_comes(rt, work)
    assert stored(grid) == [] and parked.items(rt.redis) == []


def test_a_file_meta_stops_serving_before_confirm_is_refused_then_and_nothing_is_parked(client, work, graph, grid,
                                                                                         rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="pod.pdf", reply_to=graph.wamids[-1])
    the_question_comes(rt, work)
    graph.forget_media(next(iter(graph.media)))  # days pass: Meta keeps media about 30
    maria.taps("Confirm")
    assert maria.last == "I couldn't fetch pod.pdf from WhatsApp any more. Please send it again."
    assert stored(grid) == [] and parked.items(rt.redis) == []


def test_a_file_of_a_kind_trading_grid_should_not_hold_is_refused(client, work, graph, grid) -> None:
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(b"MZ\x90\x00", "application/x-msdownload", filename="invoice.exe")
    assert maria.last.startswith("I can't attach invoice.exe")
    assert graph.media and graph.downloads == [] and stored(grid) == []


def test_trading_grid_down_while_attaching_is_retried_and_attached_once(client, work, graph, grid, rt,
                                                                       faults: Faults) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="pod.pdf", reply_to=graph.wamids[-1])
    the_question_comes(rt, work)
    faults.fail(503, times=2)
    maria.taps("Confirm")
    assert any("slow to answer" in t for t in maria.bot)
    time_passes(rt, work)
    assert maria.last == f"Thanks Maria, what you sent about {case['id']} is saved in Trading Grid now."
    [(record, data)] = stored(grid, case["id"])
    assert data == PDF
    assert len(graph.downloads) >= 2, "the bytes are fetched again for the retry (Meta's link lives minutes)"


def test_a_voice_note_is_attached_with_its_length_and_a_person_will_listen(client, work, graph, grid, rt) -> None:
    case = new_case(grid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(ogg_opus(42.0), "audio/ogg; codecs=opus", kind="audio", voice=True, reply_to=graph.wamids[-1])
    the_question_comes(rt, work)
    maria.taps("Confirm")
    assert maria.last == (f"Thanks Maria, I've attached your voice message to {case['id']}. "
                          "A person will listen to it.")
    [(record, _)] = stored(grid, case["id"])
    assert record["filename"].startswith("voice-") and record["filename"].endswith(".ogg")
    assert record["caption"] == "Voice message (0:42)", "whoever listens knows how long it is"


def test_a_file_with_no_thread_asks_which_case(client, work, graph, grid, rt) -> None:
    first, second = new_case(grid, reference="PO-1"), new_case(grid, reference="PO-2")
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="cmr.pdf")
    the_question_comes(rt, work)
    assert maria.last == "Got cmr.pdf (240 KB). Which case should it go to?"
    maria.picks(second["id"])
    assert maria.last == f"Got cmr.pdf (240 KB). Attach it to {second['id']}?"
    maria.taps("Confirm")
    assert [d for _, d in stored(grid, second["id"])] == [PDF] and stored(grid, first["id"]) == []


def test_a_sticker_is_let_be(client, work, graph) -> None:
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(b"RIFF\x00\x00\x00\x00WEBP", "image/webp", kind="sticker")
    assert maria.bot == []


def test_the_embedded_case_page_lists_the_files_with_a_download_link(tmp_path: Path, graph, redis_conn,  # type: ignore[no-untyped-def]
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # DATA_DIR relative to where tgwa runs, as the demo's is
    rt = runtime.build(make_settings(tmp_path, graph.url, None, DATA_DIR="data"), connection=redis_conn)
    runtime.install(rt)
    client = create_app(rt=rt, start_worker=False).test_client()
    work = lambda: [None for _ in range(50) if run_once(rt.queues)]  # noqa: E731
    case = new_case(rt.tradinggrid)
    exception_logged(client, work, case)
    maria = Chat(client, work, graph, MARIA)
    maria.sends_file(PDF, "application/pdf", filename="pod-778812.pdf", caption="signed POD",
                     reply_to=graph.wamids[-1])
    the_question_comes(rt, work)
    maria.taps("Confirm")
    page = client.get(f"/tradinggrid/cases/{case['id']}").get_data(as_text=True)
    assert "pod-778812.pdf" in page and "240 KB" in page and "signed POD" in page
    link = page.split('href="', 1)[1].split('"', 1)[0]
    download = client.get(link)
    assert download.status_code == 200 and download.data == PDF
    assert 'filename=pod-778812.pdf' in download.headers["Content-Disposition"]
    assert client.get("/tradinggrid/files/ATT-999").status_code == 404


def test_the_sandbox_serves_what_its_people_send_as_metas_media_endpoints_do(tmp_path: Path, graph, redis_conn,  # type: ignore[no-untyped-def]
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # DATA_DIR relative, as the demo's is
    rt = runtime.build(make_settings(tmp_path, graph.url, None, DATA_DIR="data", SANDBOX="1"), connection=redis_conn)
    runtime.install(rt)
    client = create_app(rt=rt, start_worker=False).test_client()
    sent = client.post("/sandbox/api/file", data={"phone": MARIA, "caption": "pod",
                                                  "file": (io.BytesIO(PDF), "pod.pdf", "application/pdf")})
    assert sent.status_code == 200
    [media_id] = [p.name for p in (tmp_path / "data" / "sandbox-media").iterdir() if p.suffix != ".json"]
    info = client.get(f"/sandbox/graph/{media_id}", headers={"Authorization": "Bearer test-access-token"}).get_json()
    assert (info["mime_type"], info["file_size"], info["sha256"]) == ("application/pdf", str(len(PDF)),
                                                                       hashlib.sha256(PDF).hexdigest())
    download = client.get(info["url"].split("localhost:8000", 1)[-1], headers={"Authorization": "Bearer test-access-token"})
    assert download.status_code == 200 and download.data == PDF
    assert client.get("/sandbox/graph/sandbox0000", headers={"Authorization": "Bearer test-access-token"}).status_code == 404
