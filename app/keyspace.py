"""Every Redis key family the bot uses, with its builder, TTL and reason: named here and nowhere else.

Per-contact keys carry the hash tag `{c:<contact>}` so that a contact's keys live in one Redis
Cluster slot and the Lua scripts (app.scripts) may touch them together.

| key | type | TTL | why |
|---|---|---|---|
| `tgwa:{c:X}:seen:<digest>` | string | 8 days | inbound dedupe: Meta redelivers for up to 7 days |
| `tgwa:{c:X}:inbox` | zset | none (drained) | messages waiting for the contact's worker, by WhatsApp time (app.inbox) |
| `tgwa:{c:X}:msgs` | hash | none (drained) | the parsed message of each waiting id; `#seq`: arrival order among messages of the same second; `#tries:<id>`, `#why:<id>`: how often a message was taken, and what last stopped it |
| `tgwa:{c:X}:last_in` | string | 24 h | when the contact last wrote: the 24-hour window starts there |
| `tgwa:{c:X}:conv` | string | 30 days | the conversation: threads, session, which thread each sent message belongs to |
| `tgwa:{c:X}:retry` | string | the backoff, plus 30 s | a passing failure: the token of the retry job the contact's next try waits for |
| `tgwa:{c:X}:lock` | lock | 10 s, extended while held | one worker at a time per contact, across processes and machines |
| `tgwa:{c:X}:out:<digest>` | string | 30 days | a send's record: claimed, left (Meta's status said), unsent, failed, or its wamid (app.outbound) |
| `tgwa:{c:X}:pace` | string | a second past its moment | the recipient's send schedule under Meta's pair limit (app.pace) |
| `tgwa:{c:X}:inpace` | string | a second past its moment | the contact's own pace of writing (a flood waits its turn) |
| `tgwa:{c:X}:slowdown` | string | the notice's interval | the contact was told to slow down: told once |
| `tgwa:pace` | string | a second past its moment | the deployment-wide send schedule (WHATSAPP_MAX_MPS) |
| `tgwa:msg:<digest>` | hash | 30 days | a sent message: what it was for, its furthest status, Meta's error (app.delivery) |
| `tgwa:stats:<purpose>`, `tgwa:broadcast:<event id>` | hash | 30 days | sent, delivered, read and failed counts per notification; a broadcast's size |
| `tgwa:index:notifications`, `tgwa:index:broadcasts` | zset | trimmed to 30 days | what has delivery counts, by when it began |
| `tgwa:event:<id>` | hash | 30 days | Trading Grid event dedupe, payload and state (pending/done) |
| `tgwa:{ready}:pending`, `:contacts`, `:drainers`, `:tokens`, `:lingering`, `:nudges` | set, zset, zset, counter, zset, list | none (the nudges: deleted when no drainer lingers) | contacts with an inbox; contacts ready for a drainer; drainer leases; drainer tokens; drainers waiting a moment for the next contact, and what wakes them (app.ready) |
| `tgwa:optout` | set | none | contacts who sent STOP |
| `tgwa:billing:<YYYY-MM>` | hash | 400 days | billable messages that month (UTC) by what they were for and Meta's pricing category (app.delivery) |
| `tgwa:templates` | hash | none | what Meta last said of each template, by name and language: status, category, reason, from its template webhooks (app.template_status) |
| `tgwa:moved` | hash | none | `user_changed_number`: new wa_id -> the number the directory knows |
| `tgwa:ids` | hash | none | business-scoped user ids: `user:<id>` -> the directory's phone; `phone:<phone>` -> the user id, username and how Meta last named the person (conversations.identity) |
| `tgwa:holds` | hash | none | cases a staff member took over on WhatsApp: case id -> who, since, last message (conversations.holding) |
| `tgwa:windows` | zset | trimmed to 24 h by /ops | contact -> when they last wrote: who is inside the 24-hour window, a page at a time |
| `tgwa:parked`, `tgwa:index:parked` | hash, zset | none | parked work by id, and its ids by when parked |
| `tgwa:census:*` | hash, zsets | none | threads by flow and state, alerts awaiting acknowledgment (conversations.census) |
| `tgwa:keeper`, `tgwa:keeper:ran:<task>` | lock, string | a few seconds, renewed; the task's interval | the one keeper that moves due jobs and sweeps (app.keeper), and when it last ran each task |
| `tgwa:lens:lease`, `tgwa:lens:next` | lock, string | the poll's lease (extended while it runs); the wait until the next poll | one Lens poller at a time across every worker, and when the next may start (app.lens_poller) |
| `tgwa:lens:cursor`, `tgwa:lens:status` | string, hash | none | the arrival time Lens is read from next; the poller's last run, last error and counts |
| `tgwa:lens:seen` | zset | trimmed to 30 days of arrivals | transaction ids already made a case (or set aside), by arrival |
| `tgwa:lens:unknown`, `tgwa:lens:unknown:tx` | zset, hash | trimmed to the latest 500 | failed transactions whose partner the directory does not know (or Trading Grid refused), for /ops |
| `tgwa:replicated:{<slot>}` | string | the wait, plus a second | written only to be waited for, with `REDIS_WAIT_REPLICAS` (`replicated`) |
| `tgwa:sandbox:outbox`, `tgwa:sandbox:said` | list | none | what the sandbox "sent", and what people typed and tapped there (SANDBOX=1 only) |
"""
from __future__ import annotations

import base64
import hashlib
import re

PREFIX = "tgwa"
INBOUND_DEDUPE_TTL = 8 * 24 * 3600
EVENT_DEDUPE_TTL = 30 * 24 * 3600
CONTACT_LOCK_TTL = 10  # kept up while held by the holder's keeper (app.keeper); a dead holder's lapses
ARRIVALS_PER_SECOND = 1_000_000  # score = timestamp * this + arrival sequence: stays below 2**53


def contact_tag(contact: str) -> str:
    return f"{PREFIX}:{{c:{contact}}}"


def contact_of(key: str) -> str:
    """The contact a per-contact key (`tgwa:{c:X}:...`) belongs to."""
    return key.split("{c:", 1)[1].split("}", 1)[0]


def digest(text: str) -> str:
    """16 characters (96 bits) naming a long id in a key: wamids and idempotency keys run to 60
    and more characters, and a key's name is stored as many times as there are such keys."""
    return base64.urlsafe_b64encode(hashlib.sha1(text.encode()).digest()[:12]).decode()


def seen_key(contact: str, message_id: str) -> str:
    """`tgwa:{c:X}:seen:<digest of wamid>`: the message came (inbound dedupe)."""
    return f"{contact_tag(contact)}:seen:{digest(message_id)}"


def inbox_key(contact: str) -> str:
    return f"{contact_tag(contact)}:inbox"


def inbox_messages_key(contact: str) -> str:
    return f"{contact_tag(contact)}:msgs"


def retry_key(contact: str) -> str:
    """`tgwa:{c:X}:retry`: the contact's first message met a passing failure; only the retry job
    whose token this holds tries it again (or anyone, should the key lapse with that job lost),
    however many messages arrive."""
    return f"{contact_tag(contact)}:retry"


def contact_lock_key(contact: str) -> str:
    return f"{contact_tag(contact)}:lock"


def event_key(event_id: str) -> str:
    return f"{PREFIX}:event:{event_id}"


SANDBOX_OUTBOX = f"{PREFIX}:sandbox:outbox"
SANDBOX_SAID = f"{PREFIX}:sandbox:said"  # what people typed and tapped in the sandbox, to show it back
MOVED_NUMBERS = f"{PREFIX}:moved"
IDENTITIES = f"{PREFIX}:ids"  # hash: "user:<user id>" -> anchor phone; "phone:<anchor>" -> JSON of the person's ids


PARKED = f"{PREFIX}:parked"
PARKED_ORDER = f"{PREFIX}:index:parked"
WINDOWS = f"{PREFIX}:windows"
NOTIFICATIONS_INDEX = f"{PREFIX}:index:notifications"
BROADCASTS_INDEX = f"{PREFIX}:index:broadcasts"


def outbound_key(recipient: str, idempotency_key: str) -> str:
    """`tgwa:{c:X}:out:<digest of key>`: the wamid a logical send produced, so a retried job never
    sends twice; beside the recipient's pace key, so one script claims the send and reserves its
    moment."""
    return f"{contact_tag(recipient)}:out:{digest(idempotency_key)}"


_OUTBOUND_KEY = re.compile(rf"{PREFIX}:\{{c:[^{{}}]{{1,100}}\}}:out:[A-Za-z0-9_-]{{16}}")


def is_outbound_key(text: str | None) -> bool:
    """Whether `text` (say, the callback data Meta echoes in a status) names a send's record."""
    return bool(text) and _OUTBOUND_KEY.fullmatch(text or "") is not None


def last_inbound_key(contact: str) -> str:
    """When the contact last wrote: the 24-hour customer service window starts there."""
    return f"{contact_tag(contact)}:last_in"


OUTBOUND_RECORD_TTL = 30 * 24 * 3600
STATUS_TTL = 30 * 24 * 3600
WINDOW_SECONDS = 24 * 3600


def conversation_key(contact: str) -> str:
    """`tgwa:{c:X}:conv`: the contact's conversation (threads, session, which thread each message
    we sent belongs to) as one JSON value (conversations.threads)."""
    return f"{contact_tag(contact)}:conv"


TEMPLATE_STATUS = f"{PREFIX}:templates"  # hash: "<name>|<language code>" -> what Meta last said of it (JSON)
OPTED_OUT = f"{PREFIX}:optout"  # contacts who sent STOP: no business-initiated message reaches them
HOLDS = f"{PREFIX}:holds"  # case id -> the staff member holding its conversation (JSON), conversations.holding
CONVERSATION_TTL = 30 * 24 * 3600
CLOSED_THREAD_KEEP_SECONDS = 7 * 24 * 3600  # a late tap on a finished thread still gets "already done"


GLOBAL_PACE = f"{PREFIX}:pace"  # the deployment-wide send schedule (WHATSAPP_MAX_MPS)


def pair_pace_key(contact: str) -> str:
    """`tgwa:{c:X}:pace`: this recipient's send schedule (Meta's pair rate limit)."""
    return f"{contact_tag(contact)}:pace"


def message_key(wamid: str) -> str:
    """`tgwa:msg:<digest of wamid>`: a sent message: what it was for, to whom, its furthest status."""
    return f"{PREFIX}:msg:{digest(wamid)}"


def stats_key(purpose: str) -> str:
    """`tgwa:stats:<purpose>`: per notification or broadcast, how many messages were sent,
    delivered, read and failed."""
    return f"{PREFIX}:stats:{purpose}"


BILLING_TTL = 400 * 24 * 3600  # a year of months, and a little


def billing_key(month: str) -> str:
    """`tgwa:billing:<YYYY-MM>`: "<kind>|<category>" -> billable messages that month."""
    return f"{PREFIX}:billing:{month}"


def broadcast_key(event_id: str) -> str:
    """`tgwa:broadcast:<event id>`: a fanned-out event's recipient count and start time."""
    return f"{PREFIX}:broadcast:{event_id}"


# Contacts with messages waiting (app.ready): one Cluster slot, tagged `{ready}`.
PENDING_CONTACTS = f"{PREFIX}:{{ready}}:pending"  # every contact with an inbox: what the sweep looks at
READY_CONTACTS = f"{PREFIX}:{{ready}}:contacts"  # zset: contacts for a drainer to take, by when they are due
DRAINERS = f"{PREFIX}:{{ready}}:drainers"  # zset: drainer token -> lease expiry
DRAINER_TOKENS = f"{PREFIX}:{{ready}}:tokens"  # counter: drainer tokens
LINGERING = f"{PREFIX}:{{ready}}:lingering"  # zset: drainers waiting a moment for the next contact -> lease expiry
NUDGES = f"{PREFIX}:{{ready}}:nudges"  # list: one entry wakes one lingering drainer
SLOW_DOWN_NOTICE_SECONDS = 600

LENS_LEASE = f"{PREFIX}:lens:lease"
LENS_NEXT = f"{PREFIX}:lens:next"
LENS_CURSOR = f"{PREFIX}:lens:cursor"
LENS_STATUS = f"{PREFIX}:lens:status"
LENS_SEEN = f"{PREFIX}:lens:seen"
LENS_UNKNOWN = f"{PREFIX}:lens:unknown"
LENS_UNKNOWN_TX = f"{PREFIX}:lens:unknown:tx"
UPKEEP_LOCK = f"{PREFIX}:keeper"  # the one keeper at a time that moves due jobs and sweeps (app.keeper)


def keeper_ran_key(task: str) -> str:
    """When a keeper last ran `task` (the sweep, the census), so that it runs once per interval."""
    return f"{UPKEEP_LOCK}:ran:{task}"


CENSUS_STATES = f"{PREFIX}:census:states"  # hash: "<flow>|<state>" -> threads in it (conversations.census)
CENSUS_ALERTS = f"{PREFIX}:census:acks"  # zset: alerts someone has still to acknowledge, by when first asked


def census_ack_key(alert_id: str) -> str:
    """zset: the contacts who have not acknowledged the alert."""
    return f"{PREFIX}:census:ack:{alert_id}"


def sender_pace_key(contact: str) -> str:
    """`tgwa:{c:X}:inpace`: how fast this contact writes (a flood waits its turn)."""
    return f"{contact_tag(contact)}:inpace"


def slow_down_key(contact: str) -> str:
    """`tgwa:{c:X}:slowdown`: set when the contact was told to slow down (once per 10 minutes)."""
    return f"{contact_tag(contact)}:slowdown"


def replicated_key(key: str) -> str:
    """`tgwa:replicated:{<slot>}`: a key in `key`'s Cluster slot, written only to be waited for."""
    start = key.find("{")
    end = key.find("}", start + 1)
    tag = key[start + 1:end] if start >= 0 and end > start + 1 else key
    return f"{PREFIX}:replicated:{{{tag}}}"
