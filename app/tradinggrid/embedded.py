"""The embedded Trading Grid: the port's operations over a SQLite file in DATA_DIR.

It validates what it is sent as a strict server would (a bad body is a PermanentError, as a 422
would be), and it keeps every idempotency key with the answer it gave, so a retried write returns
the first answer and writes nothing again: the same promises the HTTP adapter relies on.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from app.tradinggrid.port import (ACK_RESPONSES, ACK_SUBJECTS, AUTHOR_KINDS, CASE_FIELDS, CASE_FILTERS,
                                  ISSUE_TYPES, REFERENCE_KINDS, PermanentError, Record, Upload)

SCHEMA = """
CREATE TABLE IF NOT EXISTS cases (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, partner_id TEXT NOT NULL,
  status TEXT NOT NULL, issue_type TEXT NOT NULL, reference TEXT, summary TEXT,
  assignee_id TEXT, expected_date TEXT, thread_url TEXT, source TEXT, updated_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS case_references (
  id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
  created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, case_id TEXT NOT NULL, body TEXT NOT NULL, author TEXT NOT NULL,
  source TEXT, wa_message_id TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, case_id TEXT, partner_id TEXT NOT NULL,
  title TEXT NOT NULL, description TEXT, assignee_id TEXT, due_date TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS acknowledgments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, subject_type TEXT NOT NULL, subject_id TEXT NOT NULL,
  response TEXT NOT NULL, responder TEXT NOT NULL, responded_at TEXT NOT NULL, wa_message_id TEXT,
  text TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, case_id TEXT, partner_id TEXT, kind TEXT NOT NULL,
  document_type TEXT, filename TEXT NOT NULL, content_type TEXT NOT NULL, size INTEGER NOT NULL,
  sha256 TEXT NOT NULL, stored TEXT NOT NULL, caption TEXT, author TEXT NOT NULL, source TEXT,
  wa_message_id TEXT, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (key TEXT PRIMARY KEY, operation TEXT NOT NULL, answer TEXT NOT NULL);
"""
FILE_FIELDS = ("id", "case_id", "partner_id", "document_type", "filename", "content_type", "size", "sha256",
               "caption", "author", "wa_message_id", "created_at")
PATCHABLE = ("status", "expected_date", "assignee_id", "summary", "reference")
FIRST_CASE_NUMBER = 1001
LEGACY_CASE_PAGES = "http://localhost:8000/tradinggrid/cases/"  # stored by earlier versions, whatever the port
KEPT_CONNECTIONS = 8  # idle connections a process keeps for its next questions


class EmbeddedTradingGrid:
    def __init__(self, path: Path, thread_url_base: str = "http://localhost:8000/tradinggrid/cases"):
        """`thread_url_base`: where its case pages are; a case's link is made from it when read,
        so the links follow the web app to another port or host."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.thread_url_base = thread_url_base.rstrip("/")
        self.files = self.path.parent / "tradinggrid-files"  # attachments' and documents' bytes
        self._lock = threading.Lock()  # SQLite allows one writer; keep this process's in line
        self._idle: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in a transaction, committed when the block ends (rolled back if it
        raises). Connections are kept for the next question (up to KEPT_CONNECTIONS idle, each
        used by one thread at a time): opening one and setting WAL cost a worker more than the
        query it was opened for. One the block left in doubt is closed, not kept."""
        db = self._connection()
        try:
            with db:
                yield db
        except BaseException:
            db.close()
            raise
        if len(self._idle) < KEPT_CONNECTIONS:
            self._idle.append(db)
        else:
            db.close()

    def _connection(self) -> sqlite3.Connection:
        if self._pid != os.getpid():  # forked: the parent's connections are not this process's to use
            self._idle, self._pid = [], os.getpid()
        try:
            return self._idle.pop()
        except IndexError:
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            return db

    # -- reads -------------------------------------------------------------------------------
    def _case(self, row: sqlite3.Row) -> Record:
        case = {k: row[k] for k in CASE_FIELDS}
        if not case["thread_url"] or case["thread_url"].startswith(LEGACY_CASE_PAGES):
            case["thread_url"] = f"{self.thread_url_base}/{case['id']}"
        return case

    def ping(self) -> None:
        with self._db() as db:
            db.execute("SELECT 1")

    def get_case(self, case_id: str) -> Record | None:
        with self._db() as db:
            row = db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone()
        return self._case(row) if row else None

    def list_cases(self, **filters: str) -> list[Record]:
        unknown = set(filters) - set(CASE_FILTERS)
        if unknown:
            raise PermanentError(f"unknown filter {sorted(unknown)[0]!r}", 400)
        given = {k: v for k, v in filters.items() if v}
        where = " AND ".join(f"{k} = ?" for k in given) or "1"
        with self._db() as db:
            rows = db.execute(f"SELECT * FROM cases WHERE {where} ORDER BY seq", tuple(given.values()))
            return [self._case(r) for r in rows]

    def audit(self, case_id: str | None = None) -> dict[str, list[Record]]:
        """Everything written through the port: what tests and the sandbox panel show."""
        tables = {"cases": "cases", "references": "case_references", "comments": "comments", "tasks": "tasks",
                  "acknowledgments": "acknowledgments", "attachments": "attachments"}
        out: dict[str, list[Record]] = {}
        with self._db() as db:
            for name, table in tables.items():
                column = {"acknowledgments": "subject_id", "cases": "id"}.get(table, "case_id")
                sql, args = f"SELECT * FROM {table}", ()
                if case_id is not None:
                    sql, args = sql + f" WHERE {column} = ?", (case_id,)
                order = "seq" if table == "cases" else "created_at, rowid"
                out[name] = [_decode(dict(r)) for r in db.execute(f"{sql} ORDER BY {order}", args)]
        out["attachments"] = [{k: a[k] for k in FILE_FIELDS} for a in out["attachments"]]
        return out

    def stored_file(self, file_id: str) -> tuple[Record, Path] | None:
        """An attachment's or document's record and where its bytes are (the case page's link)."""
        with self._db() as db:
            row = db.execute("SELECT * FROM attachments WHERE id = ?", (file_id,)).fetchone()
        if row is None:
            return None
        return _file_answer(row), self.files / row["stored"]

    # -- writes ------------------------------------------------------------------------------
    def create_case(self, body: Record, *, idempotency_key: str, **seed: Any) -> Record:
        """POST /cases. `seed` (status, assignee_id, expected_date, thread_url) is for demo data."""
        _require(body, "partner_id", "reference", "summary")
        _one_of(body, "issue_type", ISSUE_TYPES)

        def write(db: sqlite3.Connection) -> Record:
            now = _now()
            cur = db.execute(
                "INSERT INTO cases (partner_id, status, issue_type, reference, summary, assignee_id, "
                "expected_date, source, updated_at) VALUES (?,?,?,?,?,?,?,?,?)",
                (body["partner_id"], seed.get("status", "open"), body["issue_type"], body["reference"],
                 body["summary"], seed.get("assignee_id"), seed.get("expected_date"), body.get("source"), now))
            case_id = f"CASE-{FIRST_CASE_NUMBER + cur.lastrowid - 1}"
            db.execute("UPDATE cases SET id = ?, thread_url = ? WHERE seq = ?",
                       (case_id, seed.get("thread_url"), cur.lastrowid))
            return self._case(db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone())

        return self._once("create_case", idempotency_key, write)

    def update_case(self, case_id: str, changes: Record, *, idempotency_key: str) -> Record:
        bad = set(changes) - set(PATCHABLE)
        if bad or not changes:
            raise PermanentError(f"field {sorted(bad)[0]!r} cannot be changed" if bad else "no changes given", 422)
        if "expected_date" in changes and changes["expected_date"] is not None:
            _date(changes, "expected_date")

        def write(db: sqlite3.Connection) -> Record:
            self._existing(db, case_id)
            sets = ", ".join(f"{k} = ?" for k in changes)
            db.execute(f"UPDATE cases SET {sets}, updated_at = ? WHERE id = ?",
                       (*changes.values(), _now(), case_id))
            return self._case(db.execute("SELECT * FROM cases WHERE id = ?", (case_id,)).fetchone())

        return self._once("update_case", idempotency_key, write)

    def add_reference(self, case_id: str, body: Record, *, idempotency_key: str) -> Record:
        _one_of(body, "kind", REFERENCE_KINDS)
        _require(body, "value")
        return self._insert("case_references", idempotency_key, case_id,
                            {"case_id": case_id, "kind": body["kind"], "value": body["value"]})

    def add_comment(self, case_id: str, body: Record, *, idempotency_key: str) -> Record:
        _require(body, "body")
        _author(body, "author")
        return self._insert("comments", idempotency_key, case_id, {
            "case_id": case_id, "body": body["body"], "author": json.dumps(body["author"]),
            "source": body.get("source"), "wa_message_id": body.get("wa_message_id")})

    def create_task(self, body: Record, *, idempotency_key: str) -> Record:
        _require(body, "partner_id", "title")
        if body.get("due_date"):
            _date(body, "due_date")
        return self._insert("tasks", idempotency_key, body.get("case_id"), {
            "case_id": body.get("case_id"), "partner_id": body["partner_id"], "title": body["title"],
            "description": body.get("description", ""), "assignee_id": body.get("assignee_id"),
            "due_date": body.get("due_date")})

    def create_acknowledgment(self, body: Record, *, idempotency_key: str) -> Record:
        _one_of(body, "subject_type", ACK_SUBJECTS)
        _one_of(body, "response", ACK_RESPONSES)
        _require(body, "subject_id", "responded_at")
        _author(body, "responder")
        try:
            dt.datetime.fromisoformat(str(body["responded_at"]))
        except ValueError:
            raise PermanentError("responded_at must be an RFC 3339 timestamp", 422) from None
        return self._insert("acknowledgments", idempotency_key, None, {
            "subject_type": body["subject_type"], "subject_id": str(body["subject_id"]),
            "response": body["response"], "responder": json.dumps(body["responder"]),
            "responded_at": body["responded_at"], "wa_message_id": body.get("wa_message_id"),
            "text": body.get("text")})

    def add_attachment(self, case_id: str, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record:
        """POST /cases/{id}/attachments."""
        return self._file("ATT", idempotency_key, metadata, upload, case_id=case_id)

    def create_document(self, metadata: Record, upload: Upload, *, idempotency_key: str) -> Record:
        """POST /documents: a document of a type, for a partner (and a case, where the request had one)."""
        _require(metadata, "partner_id", "document_type")
        case_id = metadata.get("case_id")
        return self._file("DOC", idempotency_key, metadata, upload, case_id=str(case_id) if case_id else None)

    def _file(self, prefix: str, idempotency_key: str, metadata: Record, upload: Upload, case_id: str | None) -> Record:
        _author(metadata, "author")
        _require(metadata, "sha256")
        if not upload.filename.strip():
            raise PermanentError("the file part needs a filename", 422)

        def write(db: sqlite3.Connection) -> Record:
            if case_id is not None:
                self._existing(db, case_id)
            cur = db.execute(
                "INSERT INTO attachments (case_id, partner_id, kind, document_type, filename, content_type, size, "
                "sha256, stored, caption, author, source, wa_message_id, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (case_id, metadata.get("partner_id"), "document" if prefix == "DOC" else "attachment",
                 metadata.get("document_type"), upload.filename, upload.content_type, 0, metadata["sha256"], "",
                 metadata.get("caption"), json.dumps(metadata["author"]), metadata.get("source"),
                 metadata.get("wa_message_id"), _now()))
            file_id = f"{prefix}-{cur.lastrowid}"
            stored = file_id  # the name is the person's; the bytes are kept under our id
            size = self._keep(upload, self.files / stored, str(metadata["sha256"]))
            db.execute("UPDATE attachments SET id = ?, stored = ?, size = ? WHERE seq = ?",
                       (file_id, stored, size, cur.lastrowid))
            return _file_answer(db.execute("SELECT * FROM attachments WHERE seq = ?", (cur.lastrowid,)).fetchone())

        return self._once(f"file:{prefix}", idempotency_key, write)

    @staticmethod
    def _keep(upload: Upload, target: Path, sha256: str) -> int:
        """Copies the bytes in, checking they are the ones the metadata names."""
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        partial = target.with_name(target.name + ".part")
        with upload.path.open("rb") as source, partial.open("wb") as out:
            while chunk := source.read(64 * 1024):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if digest.hexdigest() != sha256.lower():
            partial.unlink(missing_ok=True)
            raise PermanentError("sha256 does not match the file sent", 422)
        shutil.move(partial, target)
        return size

    # -- machinery ---------------------------------------------------------------------------
    def _insert(self, table: str, idempotency_key: str, case_id: str | None, row: Record) -> Record:
        def write(db: sqlite3.Connection) -> Record:
            if case_id is not None:
                self._existing(db, case_id)
            row["created_at"] = _now()
            cols = ", ".join(row)
            cur = db.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))
            if table == "tasks":
                db.execute("UPDATE tasks SET id = ? WHERE seq = ?", (f"TASK-{cur.lastrowid}", cur.lastrowid))
                return _decode(dict(db.execute("SELECT * FROM tasks WHERE seq = ?", (cur.lastrowid,)).fetchone()))
            return _decode(dict(db.execute(f"SELECT * FROM {table} WHERE id = ?", (cur.lastrowid,)).fetchone()))

        return self._once(table, idempotency_key, write)

    def _once(self, operation: str, key: str, write: Callable[[sqlite3.Connection], Record]) -> Record:
        if not key:
            raise PermanentError("an Idempotency-Key is required on every write", 400)
        with self._lock, self._db() as db:
            seen = db.execute("SELECT operation, answer FROM idempotency WHERE key = ?", (key,)).fetchone()
            if seen:
                if seen["operation"] != operation:
                    raise PermanentError("Idempotency-Key was used for another operation", 422)
                return json.loads(seen["answer"])
            answer = write(db)
            db.execute("INSERT INTO idempotency (key, operation, answer) VALUES (?,?,?)",
                       (key, operation, json.dumps(answer)))
            return answer

    @staticmethod
    def _existing(db: sqlite3.Connection, case_id: str) -> None:
        if not db.execute("SELECT 1 FROM cases WHERE id = ?", (case_id,)).fetchone():
            raise PermanentError(f"case {case_id} not found", 404)




def _file_answer(row: sqlite3.Row) -> Record:
    """A file as the API answers for it: its record without who sent it (the case page has that)."""
    return {k: row[k] for k in FILE_FIELDS if k != "author"}


def _decode(row: Record) -> Record:
    row.pop("seq", None)
    for key in ("author", "responder"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _require(body: Record, *fields: str) -> None:
    for field in fields:
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            raise PermanentError(f"{field} is required (a non-empty string)", 422)


def _one_of(body: Record, field: str, allowed: tuple[str, ...]) -> None:
    if body.get(field) not in allowed:
        raise PermanentError(f"{field} must be one of {', '.join(allowed)}", 422)


def _date(body: Record, field: str) -> None:
    try:
        dt.date.fromisoformat(str(body[field]))
    except ValueError:
        raise PermanentError(f"{field} must be a YYYY-MM-DD date", 422) from None


def _author(body: Record, field: str) -> None:
    author = body.get(field)
    if not isinstance(author, dict) or author.get("kind") not in AUTHOR_KINDS:
        raise PermanentError(f"{field}.kind must be one of {', '.join(AUTHOR_KINDS)}", 422)
