"""`/tradinggrid/cases/<id>`: the embedded Trading Grid's page for a case, so that the link in a
WhatsApp message shows the thread it promises: the case, its references, comments, tasks and
acknowledgments, newest first. Served only with the embedded Trading Grid, outside production
(a real Trading Grid serves its own pages, behind its own sign-in)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, send_file

from app import attachable
from app.runtime import Runtime
from app.tradinggrid.embedded import EmbeddedTradingGrid

bp = Blueprint("case_page", __name__, template_folder="../templates")


def served(rt: Runtime) -> bool:
    return isinstance(rt.tradinggrid, EmbeddedTradingGrid) and not rt.settings.production


@bp.get("/tradinggrid/cases/<case_id>")
def case(case_id: str) -> Any:
    rt: Runtime = current_app.extensions["tgwa"]
    found = rt.tradinggrid.get_case(case_id)
    if found is None:
        return render_template("case.html", case=None, case_id=case_id), 404
    audit = rt.tradinggrid.audit(case_id) if isinstance(rt.tradinggrid, EmbeddedTradingGrid) else {}
    history = sorted(
        [("reference", r["created_at"], f"{r['kind'].upper()} {r['value']}", "") for r in audit.get("references", [])]
        + [("comment", c["created_at"], c["body"], c["author"].get("name", "")) for c in audit.get("comments", [])]
        + [("task", t["created_at"], t["title"], t.get("assignee_id") or "") for t in audit.get("tasks", [])]
        + [("acknowledgment", a["created_at"], f"{a['subject_type']} {a['response']}", a["responder"].get("name", ""))
           for a in audit.get("acknowledgments", [])]
        + [("file", f["created_at"], f["filename"], f["author"].get("name", "")) for f in audit.get("attachments", [])],
        key=lambda entry: entry[1], reverse=True)
    files = [{**f, "shown_size": attachable.size_in_words(f["size"])} for f in reversed(audit.get("attachments", []))]
    return render_template("case.html", case=found, case_id=case_id, history=history, files=files)


@bp.get("/tradinggrid/files/<file_id>")
def download(file_id: str) -> Any:
    """A file on a case, as it was sent: its name, its type, its bytes."""
    rt: Runtime = current_app.extensions["tgwa"]
    found = rt.tradinggrid.stored_file(file_id) if isinstance(rt.tradinggrid, EmbeddedTradingGrid) else None
    if found is None or not found[1].is_file():
        abort(404)
    record, path = found
    return send_file(path.resolve(), mimetype=record["content_type"], as_attachment=True,  # DATA_DIR may be relative
                     download_name=record["filename"])
