"""Community Management: the company's partner directory and its users (contract section 8).

Both answers are JSON lists; a long one comes in pages, each pointing at the next with a
`Link: <...>; rel="next"` header (a body `{"items": [...], "next": url}` is read too). Records
are read tolerantly: a field OpenText adds is ignored, a field it leaves out is None."""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from app.opentext.client import OpenText, OpenTextError

API = "Community Management"
MAX_PAGES = 1000  # a directory of a million partners; past that, a loop in the links


@dataclasses.dataclass(frozen=True)
class Partner:
    company_id: str
    name: str
    trading_addresses: tuple[str, ...]
    country: str | None  # where Community Management gives one (an address's countryCode)


@dataclasses.dataclass(frozen=True)
class User:
    login_id: str
    name: str
    mobile: str | None
    language: str | None
    timezone: str | None


def partners(ot: OpenText) -> list[Partner]:
    out = []
    for item in _records(ot, f"/TGCommunityServices/v1/companies/{quote(ot.company_id, safe='')}/partnerDirectory"):
        name = _text(item.get("partnerCompanyName"))
        if not name:
            continue
        addresses = item.get("tradingAddresses") or []
        address = item.get("address") if isinstance(item.get("address"), dict) else {}
        out.append(Partner(company_id=_text(item.get("partnerCompanyId")) or "", name=name,
                           trading_addresses=tuple(a for a in map(_text, addresses if isinstance(addresses, list) else [])
                                                   if a),
                           country=_text(item.get("countryCode") or address.get("countryCode"))))
    return out


def users(ot: OpenText) -> list[User]:
    out = []
    for item in _records(ot, f"/TGCommunityServices/v1/companies/{quote(ot.company_id, safe='')}/users"):
        login = _text(item.get("loginId"))
        if not login:
            continue
        contact = item.get("contactInformation") if isinstance(item.get("contactInformation"), dict) else {}
        name = " ".join(p for p in (_text(item.get("firstName")), _text(item.get("lastName"))) if p)
        out.append(User(login_id=login, name=name or login, mobile=_text(contact.get("mobile")),
                        language=_text(item.get("preferredLanguage")), timezone=_text(item.get("preferredTimezone"))))
    return out


def _records(ot: OpenText, path: str) -> Iterator[dict[str, Any]]:
    url: str | None = path
    seen: set[str] = set()
    while url is not None and url not in seen and len(seen) < MAX_PAGES:
        seen.add(url)
        answer = ot.get(API, url)
        try:
            body = answer.json()
        except ValueError:
            raise OpenTextError(f"{API} GET {path}: the answer is not JSON") from None
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise OpenTextError(f"{API} GET {path}: expected a list, got {type(body).__name__}")
        yield from (item for item in items if isinstance(item, dict))
        following = answer.links.get("next", {}).get("url") or (body.get("next") if isinstance(body, dict) else None)
        url = str(following) if following else None


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None
