"""The dotted paths jobs had before each moved beside its concept (app.queues names them now).
RQ finds a job by its path when it runs it, and retries, reminders and escalations wait in Redis
for hours or days: these names keep the ones queued by an earlier version working. Nothing in
tgwa imports this module or queues a job by these names."""
from __future__ import annotations

from app.delivery import apply_statuses
from app.drain import drain_contact, drain_ready
from app.inbox import sweep_inboxes
from app.notifications import handle_event, send_notices
from app.outbound import send_message
from app.writes import write_job as tradinggrid_write
from conversations.threads import recount_census

__all__ = ["apply_statuses", "drain_contact", "drain_ready", "handle_event", "recount_census", "send_message",
           "send_notices", "sweep_inboxes", "tradinggrid_write"]
