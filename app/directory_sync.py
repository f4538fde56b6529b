"""`tgwa directory sync`: the directory file brought up to date from Community Management
(contract section 8), keeping everything only the file knows.

- Partners: a file partner and a Community Management partner are the same when their names
  match (case-insensitively) or they share a trading address; the file's partner takes the name
  and gains the trading addresses it lacks. A partner the file does not have is added only when
  Community Management gives its country (the file needs one); otherwise it is named as skipped.
- Staff: the company's users with a mobile, by `loginId` as id; name, phone, language (from
  `preferredLanguage`, "en_GB" -> "en") and time zone (`preferredTimezone`, when it is an IANA
  name) are taken, teams and everything else the file says are kept. A user without a mobile, or
  whose mobile is already someone else's in the file, is skipped and named.
- The file is rewritten by a YAML round trip (ruamel.yaml) that keeps its comments, order and
  quoting, checked as `tgwa directory check` checks it before it replaces the old one, and
  replaced atomically (a running deployment reads it again within seconds: app.directory.Watched).
  Nothing to change: the file is not touched.
"""
from __future__ import annotations

import dataclasses
import io
import os
import tempfile
import zoneinfo
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.util import load_yaml_guess_indent

from app import directory
from app.opentext import community


@dataclasses.dataclass
class Plan:
    text: str
    added: list[str] = dataclasses.field(default_factory=list)
    changed: list[str] = dataclasses.field(default_factory=list)
    left: list[str] = dataclasses.field(default_factory=list)
    skipped: list[str] = dataclasses.field(default_factory=list)

    @property
    def changes(self) -> bool:
        return bool(self.added or self.changed)


class SyncRefused(Exception):
    """The synced file would not pass `tgwa directory check`; nothing was written."""

    def __init__(self, problems: list[directory.Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def plan(text: str, partners: list[community.Partner], users: list[community.User]) -> Plan:
    """What the file becomes, and what changes in it, from what Community Management says."""
    yaml, doc = _load(text)
    out = Plan(text="")
    file_partners = _seq(doc, "partners")
    matched: set[int] = set()
    for cm in partners:
        entry = _same_partner(file_partners, cm)
        if entry is None:
            if cm.country:
                entry = CommentedMap(id=cm.company_id or cm.name, name=cm.name, country=cm.country.upper(),
                                     trading_addresses=_flow(list(cm.trading_addresses)), contacts=[])
                file_partners.append(entry)
                matched.add(id(entry))
                out.added.append(f"partner {cm.company_id or cm.name} ({cm.name})")
            else:
                out.skipped.append(f"partner {cm.name}: not in the file, and Community Management gives no country "
                                   "(add it to the file, with its contacts)")
            continue
        matched.add(id(entry))
        what = []
        if str(entry.get("name", "")) != cm.name:
            entry["name"] = cm.name
            what.append(f"name {cm.name!r}")
        known = [str(a) for a in entry.get("trading_addresses") or []]
        new = [a for a in cm.trading_addresses if a.casefold() not in {k.casefold() for k in known}]
        if new:
            if isinstance(entry.get("trading_addresses"), list):
                entry["trading_addresses"].extend(new)
            else:
                entry["trading_addresses"] = _flow(known + new)
            what.append("trading_addresses +" + ", +".join(new))
        if what:
            out.changed.append(f"partner {entry.get('id')}: " + "; ".join(what))
    out.left += [f"partner {p.get('id')} (not in Community Management)" for p in file_partners
                 if isinstance(p, dict) and id(p) not in matched]
    _staff(doc, users, out)
    buffer = io.StringIO()
    yaml.dump(doc, buffer)
    out.text = buffer.getvalue() if out.changes else text
    return out


def write(path: Path, new_text: str) -> None:
    """Checked as `tgwa directory check` would, then put in place in one rename."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".sync", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(new_text)
            stream.flush()
            os.fsync(stream.fileno())
        problems = directory.check(temporary)
        if problems:
            raise SyncRefused(problems)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _staff(doc: CommentedMap, users: list[community.User], out: Plan) -> None:
    staff = _seq(doc, "staff")
    by_id = {str(s.get("id")): s for s in staff if isinstance(s, dict)}
    phones = _phones(doc)
    seen: set[str] = set()
    for user in users:
        seen.add(user.login_id)
        phone = directory.normalise_phone(user.mobile) if user.mobile else None
        if phone is None:
            out.skipped.append(f"user {user.login_id}: " + ("no mobile" if not user.mobile
                                                            else f"mobile {user.mobile!r} is not a phone number"))
            continue
        owner = phones.get(phone)
        if owner is not None and owner != f"staff {user.login_id}":
            out.skipped.append(f"user {user.login_id}: mobile +{phone} is already the phone of {owner} in the file")
            continue
        wanted: dict[str, Any] = {"name": user.name, "phone": user.mobile}
        language = _language(user.language)
        if language:
            wanted["language"] = language
        zone = _zone(user.timezone)
        if zone:
            wanted["timezone"] = zone
        entry = by_id.get(user.login_id)
        if entry is None:
            staff.append(CommentedMap(id=user.login_id, **wanted, teams=_flow([])))
            phones[phone] = f"staff {user.login_id}"
            out.added.append(f"staff {user.login_id} ({user.name}, +{phone})")
            continue
        what = []
        for field, value in wanted.items():
            current = entry.get(field)
            same = (directory.normalise_phone(current) == phone) if field == "phone" else current == value
            if not same:
                entry[field] = value
                what.append(f"{field} {value!r}")
        if what:
            out.changed.append(f"staff {user.login_id}: " + "; ".join(what))
    out.left += [f"staff {sid} (not a Community Management user)" for sid in by_id if sid not in seen]


def _load(text: str) -> tuple[YAML, CommentedMap]:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    if text.strip():
        _, indent, offset = load_yaml_guess_indent(text)  # "  - id:": items 4 in, their dash 2 in
        indent, offset = indent or 2, offset or 0
        yaml.indent(mapping=indent - offset if indent > offset else indent, sequence=indent, offset=offset)
    doc = yaml.load(text) if text.strip() else None
    return yaml, doc if isinstance(doc, CommentedMap) else CommentedMap()


def _seq(doc: CommentedMap, key: str) -> CommentedSeq:
    if not isinstance(doc.get(key), list):
        doc[key] = CommentedSeq()
    return doc[key]


def _flow(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()  # [a, b], as people write short lists in this file
    return seq


def _same_partner(file_partners: CommentedSeq, cm: community.Partner) -> CommentedMap | None:
    addresses = {a.casefold() for a in cm.trading_addresses}
    for entry in file_partners:
        if not isinstance(entry, dict):
            continue
        if str(entry.get("name", "")).strip().casefold() == cm.name.casefold():
            return entry
        if addresses & {str(a).casefold() for a in entry.get("trading_addresses") or []}:
            return entry
    return None


def _phones(doc: CommentedMap) -> dict[str, str]:
    """Every phone the file holds, and whose it is."""
    out: dict[str, str] = {}
    for partner in doc.get("partners") or []:
        for contact in (partner.get("contacts") or []) if isinstance(partner, dict) else []:
            phone = directory.normalise_phone(contact.get("phone"), partner.get("country")) if isinstance(contact, dict) else None
            if phone:
                out[phone] = f"{contact.get('name')} ({partner.get('id')})"
    for member in doc.get("staff") or []:
        phone = directory.normalise_phone(member.get("phone")) if isinstance(member, dict) else None
        if phone:
            out[phone] = f"staff {member.get('id')}"
    return out


def _language(preferred: str | None) -> str | None:
    code = (preferred or "").replace("-", "_").split("_")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def _zone(preferred: str | None) -> str | None:
    if not preferred:
        return None
    try:
        zoneinfo.ZoneInfo(preferred)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None
    return preferred
