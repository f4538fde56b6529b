"""The directory file (contract section 4): partners, their contacts, staff and groups.

Loading validates everything at once and reports each problem with its line and path, so
`tgwa directory check` can list them all; phones in any common notation become the digits
WhatsApp uses (`wa_id`).
"""
from __future__ import annotations

import dataclasses
import functools
import logging
import re
import threading
import time
import zoneinfo
from pathlib import Path
from typing import Any

import phonenumbers

from app import yamldoc

log = logging.getLogger(__name__)
ROLES = ("exceptions", "documents", "onboarding", "alerts", "orders")
MILESTONES = ("order_confirmed", "goods_dispatched", "customs_cleared", "delivery_completed")


@dataclasses.dataclass(frozen=True)
class Contact:
    partner_id: str
    name: str
    phone: str
    roles: tuple[str, ...]
    language: str
    opt_in: bool
    milestones: tuple[str, ...]
    kind: str = "partner_contact"
    user_id: str | None = None  # Meta's business-scoped user id, where it is known
    timezone: str | None = None  # IANA name ("Europe/Berlin"): their own clock, for quiet hours


@dataclasses.dataclass(frozen=True)
class Partner:
    id: str
    name: str
    region: str
    country: str
    product_lines: tuple[str, ...]
    contacts: tuple[Contact, ...]
    trading_addresses: tuple[str, ...] = ()  # how Lens names this partner ("ZZ:ACMELOGISTICS")


@dataclasses.dataclass(frozen=True)
class Staff:
    id: str
    name: str
    phone: str
    teams: tuple[str, ...]
    language: str = "en"
    kind: str = "staff"
    user_id: str | None = None
    timezone: str | None = None


@dataclasses.dataclass(frozen=True)
class Problem:
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.path}: {self.message}"


class DirectoryError(ValueError):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


@dataclasses.dataclass(frozen=True)
class Directory:
    partners: dict[str, Partner]
    staff: dict[str, Staff]
    groups: dict[str, tuple[str, ...]]

    def person(self, wa_id: str) -> Contact | Staff | None:
        """Who writes from this number, or None for an unknown number."""
        return self._by_phone.get(wa_id)

    def partner_of(self, contact: Contact) -> Partner:
        return self.partners[contact.partner_id]

    def group_members(self, group_id: str) -> list[Staff]:
        return [self.staff[m] for m in self.groups.get(group_id, ())]

    def partner_trading_as(self, names: tuple[str, ...]) -> Partner | None:
        """The partner one of whose trading addresses is among `names` (a transaction's sender
        or receiver, by name or address), compared without regard to case."""
        for name in names:
            found = self._by_address.get(name.strip().casefold())
            if found is not None:
                return found
        return None

    @functools.cached_property
    def _by_address(self) -> dict[str, Partner]:
        return {a.casefold(): p for p in self.partners.values() for a in p.trading_addresses}

    @functools.cached_property
    def _by_phone(self) -> dict[str, Contact | Staff]:
        """Everyone by phone, and by business-scoped user id where the directory gives one."""
        people: dict[str, Contact | Staff] = {s.phone: s for s in self.staff.values()}
        for partner in self.partners.values():
            people.update({c.phone: c for c in partner.contacts})
        people.update({p.user_id: p for p in list(people.values()) if p.user_id})
        return people


class Watched:
    """The directory file as it is now, for a running deployment: looked at again at most every
    CHECK_SECONDS and read again when its modification time or size changed (`tgwa directory
    sync` replaces it whole). A file that no longer loads leaves the last good directory in use,
    and its first problem is logged once for that version of the file."""

    CHECK_SECONDS = 2.0

    def __init__(self, path: str | Path, directory: Directory):
        self.path = Path(path)
        self._directory = directory
        self._seen = self._stamp()
        self._checked = time.monotonic()
        self._lock = threading.Lock()

    def current(self) -> Directory:
        if time.monotonic() - self._checked < self.CHECK_SECONDS:
            return self._directory
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._stamp()
            if stamp != self._seen:
                self._seen = stamp
                directory, problems = _read(self.path)
                if problems or directory is None:
                    log.error("DIRECTORY_FILE %s changed but cannot be used, the previous one stays: %s%s", self.path,
                              problems[0] if problems else "unreadable",
                              f" (and {len(problems) - 1} more; run tgwa directory check)" if len(problems) > 1 else "")
                else:
                    self._directory = directory
                    log.info("DIRECTORY_FILE %s read again: %d partners, %d staff", self.path,
                             len(directory.partners), len(directory.staff))
        return self._directory

    def _stamp(self) -> tuple[int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size


def load(path: str | Path) -> Directory:
    """The directory at `path`; DirectoryError lists every problem with its line."""
    directory, problems = _read(Path(path))
    if problems or directory is None:
        raise DirectoryError(problems)
    return directory


def check(path: str | Path) -> list[Problem]:
    return _read(Path(path))[1]


def normalise_phone(raw: Any, country: str | None = None) -> str | None:
    """The digits WhatsApp uses for a number in any common notation, or None if it is not one."""
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, country if not text.startswith("+") else None)
    except phonenumbers.NumberParseException:
        if text.startswith("+"):
            return None
        try:  # digits with the country code but no '+', as WhatsApp writes them
            number = phonenumbers.parse("+" + text, None)
        except phonenumbers.NumberParseException:
            return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).lstrip("+")


class _Reader:
    """Walks the composed YAML so that every problem can name its line."""

    def __init__(self, lines: dict[str, int]):
        self.lines = lines
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        line = self.lines.get(path) or self.lines.get(path.rsplit(".", 1)[0].rsplit("[", 1)[0], 0)
        self.problems.append(Problem(line, path, message))

    def text(self, item: dict[str, Any], path: str, field: str, required: bool = True) -> str:
        value = item.get(field)
        if value is None and not required:
            return ""
        if not isinstance(value, (str, int)) or isinstance(value, bool) or not str(value).strip():
            self.problem(f"{path}.{field}", "is required (text)" if value is None else "must be text")
            return ""
        return str(value).strip()

    def words(self, item: dict[str, Any], path: str, field: str, allowed: tuple[str, ...] | None) -> tuple[str, ...]:
        value = item.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.problem(f"{path}.{field}", "must be a list of words")
            return ()
        for i, word in enumerate(value):
            if allowed is not None and word not in allowed:
                self.problem(f"{path}.{field}[{i}]", f"unknown {field.rstrip('s')} {word!r} "
                                                     f"(known: {', '.join(allowed)})")
        return tuple(value)

    def items(self, data: dict[str, Any], field: str) -> list[tuple[str, dict[str, Any]]]:
        value = data.get(field, [])
        if not isinstance(value, list):
            self.problem(field, "must be a list")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{field}[{i}]", item))
            else:
                self.problem(f"{field}[{i}]", "must be a mapping")
        return out


def _read(path: Path) -> tuple[Directory | None, list[Problem]]:
    try:
        data, lines = yamldoc.load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return None, [Problem(0, str(path), f"cannot be read: {exc.strerror}")]
    except UnicodeDecodeError:
        return None, [Problem(0, str(path), "is not UTF-8 text")]
    except yamldoc.YamlProblem as exc:
        return None, [Problem(exc.line, str(path), str(exc))]
    if not isinstance(data, dict):
        return None, [Problem(1, str(path), "must be a mapping with partners, staff and groups")]
    reader = _Reader(lines)
    directory = _build(data, reader)
    return directory, sorted(reader.problems, key=lambda p: (p.line, p.path))


def _build(data: dict[str, Any], r: _Reader) -> Directory:
    phones: dict[str, str] = {}

    def user_id(item: dict[str, Any], path: str) -> str | None:
        raw = item.get("user_id")
        if raw is None:
            return None
        if not isinstance(raw, str) or not re.fullmatch(r"[A-Z]{2}\.[A-Za-z0-9.]{5,100}", raw):
            r.problem(f"{path}.user_id", f"{raw!r} is not a business-scoped user id (like US.13491208655302741918)")
            return None
        return raw

    def timezone(item: dict[str, Any], path: str) -> str | None:
        raw = item.get("timezone")
        if raw is None:
            return None
        try:
            zoneinfo.ZoneInfo(str(raw))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            r.problem(f"{path}.timezone", f"{raw!r} is not a time zone (like Europe/Berlin)")
            return None
        return str(raw)

    def phone(item: dict[str, Any], path: str, country: str | None) -> str:
        raw = item.get("phone")
        digits = normalise_phone(raw, country)
        if digits is None:
            r.problem(f"{path}.phone", f"{raw!r} is not a phone number" if raw else "is required")
            return ""
        if digits in phones:
            r.problem(f"{path}.phone", f"+{digits} is also the phone of {phones[digits]}")
        phones.setdefault(digits, path)
        return digits

    partners: dict[str, Partner] = {}
    trading_as: dict[str, str] = {}  # a trading address -> the partner it names: one partner each
    for path, item in r.items(data, "partners"):
        pid = r.text(item, path, "id")
        if pid in partners:
            r.problem(f"{path}.id", f"partner id {pid!r} is used twice")
        country = r.text(item, path, "country").upper()
        if country and country not in phonenumbers.SUPPORTED_REGIONS:
            r.problem(f"{path}.country", f"{country!r} is not an ISO 3166 alpha-2 country code")
        contacts = []
        for i, c in enumerate(item.get("contacts") or []):
            cpath = f"{path}.contacts[{i}]"
            if not isinstance(c, dict):
                r.problem(cpath, "must be a mapping")
                continue
            opt_in = c.get("opt_in", False)
            if not isinstance(opt_in, bool):
                r.problem(f"{cpath}.opt_in", "must be true or false")
            language = str(c.get("language") or "en").lower()
            if not (len(language) == 2 and language.isalpha()):
                r.problem(f"{cpath}.language", f"{language!r} is not a two-letter language code")
            contacts.append(Contact(
                partner_id=pid, name=r.text(c, cpath, "name"), phone=phone(c, cpath, country or None),
                roles=r.words(c, cpath, "roles", ROLES), language=language, opt_in=opt_in is True,
                milestones=r.words(c, cpath, "milestones", MILESTONES), user_id=user_id(c, cpath),
                timezone=timezone(c, cpath)))
        addresses = r.words(item, path, "trading_addresses", None)
        for i, address in enumerate(addresses):
            if address.casefold() in trading_as:
                r.problem(f"{path}.trading_addresses[{i}]", f"{address!r} is also a trading address of {trading_as[address.casefold()]}")
            trading_as.setdefault(address.casefold(), pid)
        partners[pid] = Partner(
            id=pid, name=r.text(item, path, "name"), region=r.text(item, path, "region", required=False),
            country=country, product_lines=r.words(item, path, "product_lines", None), contacts=tuple(contacts),
            trading_addresses=addresses)

    staff: dict[str, Staff] = {}
    for path, item in r.items(data, "staff"):
        sid = r.text(item, path, "id")
        if sid in staff:
            r.problem(f"{path}.id", f"staff id {sid!r} is used twice")
        staff[sid] = Staff(id=sid, name=r.text(item, path, "name"), phone=phone(item, path, None),
                           teams=r.words(item, path, "teams", None),
                           language=str(item.get("language") or "en").lower(), user_id=user_id(item, path),
                           timezone=timezone(item, path))

    groups: dict[str, tuple[str, ...]] = {}
    for path, item in r.items(data, "groups"):
        gid = r.text(item, path, "id")
        if gid in groups:
            r.problem(f"{path}.id", f"group id {gid!r} is used twice")
        members = r.words(item, path, "members", None)
        for i, member in enumerate(members):
            if member not in staff:
                r.problem(f"{path}.members[{i}]", f"{member!r} is not a staff id")
        groups[gid] = members
    unknown = sorted(set(data) - {"partners", "staff", "groups"})
    for key in unknown:
        r.problem(key, "unknown section (known: partners, staff, groups)")
    return Directory(partners=partners, staff=staff, groups=groups)
