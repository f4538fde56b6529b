"""No dead ends: in every waiting state of every flow, a message that means nothing there is
answered with what to do (the buttons to tap, by name, or HELP), or taken as an answer and asked
about with buttons: never silence, never a bare "Sorry". Each thread is opened the way people meet it (an event, a report, a file), then put in
each of its flow's states in turn."""
from __future__ import annotations

from typing import Any

import pytest

from conversations import threads
from conversations.flows.catalog import FLOWS
from conversations.threads import FINAL_STATES
from tests.chat import Chat, event
from tests.test_conversations import MARIA, UNA, exception_logged, new_case, schedule_revised

URL = "https://tg.example.com/cases/CASE-1001"


def opened(flow: str, client, work, graph, grid, rt) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """Opens a thread of `flow` for the person who answers it: (their phone, the thread id)."""
    case = new_case(grid)
    if flow == "exception":
        exception_logged(client, work, case)
        return MARIA, f"case:{case['id']}"
    if flow == "schedule":
        schedule_revised(client, work, case)
        return MARIA, f"schedule:{case['id']}"
    if flow == "alert":
        event(client, work, "alert.broadcast", alert_id="AL-1", category="port_closure", severity="high",
              title="Port closed", message="Storm", targeting={"partner_ids": ["GLOBEX"]}, requires_ack=True)
        return MARIA, "alert:AL-1"
    if flow == "assignment":
        event(client, work, "case.assigned", case_id=case["id"], assignee_id="u.smith", summary="Please look",
              thread_url=URL)
        return UNA, f"assignment:{case['id']}"
    if flow == "document":
        event(client, work, "document.uploaded", document_id="DOC-1", partner_id="GLOBEX", document_type="invoice",
              document_name="inv.pdf", approver_id="u.smith", url=URL)
        return UNA, "document:DOC-1"
    if flow == "document_request":
        event(client, work, "document.requested", partner_id="GLOBEX", document_type="packing_list", url=URL)
        return MARIA, "docreq:GLOBEX:packing_list"
    if flow == "onboarding":
        event(client, work, "onboarding.pending", partner_id="GLOBEX", action="contract_review", url=URL)
        return MARIA, "onboarding:GLOBEX:contract_review"
    if flow == "comment":
        event(client, work, "comment.added", case_id=case["id"], partner_id="GLOBEX", comment_id="C1", body="Which?",
              author={"kind": "staff", "id": "u.smith", "name": "Una Smith"}, visibility="partner", thread_url=URL)
        return MARIA, f"comment:{case['id']}"
    if flow == "problem":
        Chat(client, work, graph, MARIA).says("shipment SH-99812 stuck at customs")
        return MARIA, next(t for t in threads.load(rt, MARIA).threads if t.startswith("problem:"))
    raise AssertionError(flow)


WALKED = [(flow, state) for flow, machine in FLOWS.items() if flow not in ("files", "relay")
          for state in machine.machine.states if state not in FINAL_STATES]


@pytest.mark.parametrize("flow,state", WALKED, ids=[f"{f}:{s}" for f, s in WALKED])
def test_a_message_that_means_nothing_in_a_state_is_told_what_to_do(flow: str, state: str, client, work, graph,
                                                                    grid, rt) -> None:
    phone, thread_id = opened(flow, client, work, graph, grid, rt)
    with threads.locked(rt, phone) as conversation:
        conversation.threads[thread_id].state = state
    person = Chat(client, work, graph, phone)
    person.says("banana", reply_to=graph.wamids[-1])
    answer: Any = person.last
    asked = person.buttons() or "?" in answer  # or taken as an answer there, and asked about what comes next
    assert "HELP" in answer or "tap " in answer.lower() or asked, (flow, state, answer)
    assert not answer.startswith("Sorry, I didn't get that.") or "HELP" in answer or "tap " in answer.lower()
