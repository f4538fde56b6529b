"""Redis: the connection, and every key family the bot uses, named here and nowhere else.

Per-contact keys carry the hash tag `{c:<contact>}` so that a contact's keys live in one Redis
Cluster slot and the Lua scripts below may touch them together.

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
| `tgwa:{ready}:pending`, `:contacts`, `:drainers`, `:tokens` | set, zset, zset, counter | none | contacts with an inbox; contacts ready for a drainer; drainer leases; drainer tokens (app.ready) |
| `tgwa:optout` | set | none | contacts who sent STOP |
| `tgwa:moved` | hash | none | `user_changed_number`: new wa_id -> the number the directory knows |
| `tgwa:windows` | zset | trimmed to 24 h by /ops | contact -> when they last wrote: who is inside the 24-hour window, a page at a time |
| `tgwa:parked`, `tgwa:index:parked` | hash, zset | none | parked work by id, and its ids by when parked |
| `tgwa:census:*` | hash, zsets | none | threads by flow and state, alerts awaiting acknowledgment (conversations.census) |
| `tgwa:keeper`, `tgwa:keeper:ran:<task>` | lock, string | a few seconds, renewed; the task's interval | the one keeper that moves due jobs and sweeps (app.keeper), and when it last ran each task |
| `tgwa:replicated:{<slot>}` | string | the wait, plus a second | written only to be waited for, with `REDIS_WAIT_REPLICAS` (`replicated`) |
| `tgwa:sandbox:outbox`, `tgwa:sandbox:said` | list | none | what the sandbox "sent", and what people typed and tapped there (SANDBOX=1 only) |
"""
from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.cluster
from redis._parsers.commands import CommandPolicies, RequestPolicy, ResponsePolicy
from redis.commands.policies import BasePolicyResolver, PolicyResolver, StaticPolicyResolver
from redis.exceptions import NoScriptError

from app import embedded_store
from app.settings import Settings

PREFIX = "tgwa"
INBOUND_DEDUPE_TTL = 8 * 24 * 3600
EVENT_DEDUPE_TTL = 30 * 24 * 3600
CONTACT_LOCK_TTL = 10  # kept up while held by the holder's keeper (app.keeper); a dead holder's lapses
ARRIVALS_PER_SECOND = 1_000_000  # score = timestamp * this + arrival sequence: stays below 2**53

_TIMEOUTS = {"socket_timeout": 5, "socket_connect_timeout": 2}  # seconds, for every real Redis connection


def connect(settings: Settings) -> redis.Redis:
    """Redis for tgwa's state: the server (or, with REDIS_CLUSTER, the Cluster) at REDIS_URL,
    else the process's embedded store. A process opens at most REDIS_MAX_CONNECTIONS to it (to
    each node of a Cluster): a gevent web process may have a thousand requests in flight."""
    if settings.redis_url and settings.redis_cluster:
        return redis.cluster.RedisCluster.from_url(settings.redis_url, **_TIMEOUTS,
                                                   max_connections=settings.redis_max_connections,
                                                   policy_resolver=_ScriptsByKeys(StaticPolicyResolver()))
    if settings.redis_url:
        return _server(settings.redis_url, settings)
    return embedded_store.connection()


class _ScriptsByKeys(BasePolicyResolver):
    """EVALSHA is routed by the keys it names, in a Cluster pipeline too. Without this, redis-py's
    pipeline asks a node (COMMAND GETKEYS) for every script's keys: a round trip each, and a
    failure whenever that node is the one that just died."""

    def __init__(self, fallback: PolicyResolver | None = None) -> None:
        super().__init__({"core": {"evalsha": CommandPolicies(request_policy=RequestPolicy.DEFAULT_KEYED,
                                                              response_policy=ResponsePolicy.DEFAULT_KEYED)}},
                         fallback)

    def with_fallback(self, fallback: PolicyResolver) -> PolicyResolver:
        return _ScriptsByKeys(fallback)


def connect_queues(settings: Settings, state: redis.Redis) -> redis.Redis:
    """Redis for RQ's queues: REDIS_QUEUE_URL when set (RQ needs one server, not a Cluster),
    else the same connection as the state."""
    if settings.redis_queue_url:
        return _server(settings.redis_queue_url, settings)
    return state


def _server(url: str, settings: Settings) -> redis.Redis:
    """One Redis server; past REDIS_MAX_CONNECTIONS a request waits (up to 5 s) for a free one."""
    return redis.Redis(connection_pool=redis.BlockingConnectionPool.from_url(
        url, **_TIMEOUTS, health_check_interval=30,
        max_connections=settings.redis_max_connections, timeout=5))


def contact_tag(contact: str) -> str:
    return f"{PREFIX}:{{c:{contact}}}"


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

# Same answers for a Trading Grid event: 1 new, 2 duplicate still pending, 0 already handled.
RECORD_EVENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'state') == 'pending' then return 2 end
  return 0
end
redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'state', 'pending')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
NEW, PENDING_DUPLICATE, HANDLED_DUPLICATE = 1, 2, 0

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


OPTED_OUT = f"{PREFIX}:optout"  # contacts who sent STOP: no business-initiated message reaches them
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


def broadcast_key(event_id: str) -> str:
    """`tgwa:broadcast:<event id>`: a fanned-out event's recipient count and start time."""
    return f"{PREFIX}:broadcast:{event_id}"


# Contacts with messages waiting (app.ready): one Cluster slot, tagged `{ready}`.
PENDING_CONTACTS = f"{PREFIX}:{{ready}}:pending"  # every contact with an inbox: what the sweep looks at
READY_CONTACTS = f"{PREFIX}:{{ready}}:contacts"  # zset: contacts for a drainer to take, by when they are due
DRAINERS = f"{PREFIX}:{{ready}}:drainers"  # zset: drainer token -> lease expiry
DRAINER_TOKENS = f"{PREFIX}:{{ready}}:tokens"  # counter: drainer tokens
SLOW_DOWN_NOTICE_SECONDS = 600

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


_SCRIPTS: dict[str, str] = {}  # sha1 -> script text, of every script this process has run
_SHAS: dict[str, str] = {}  # script text -> sha1


def evalsha(client: Any, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """Queues (on a pipeline) or runs `script` by its hash: no text sent, and unlike redis-py's
    Script objects no SCRIPT EXISTS round trip per pipeline. Sent as a raw command, which redis-py
    also routes in a Redis Cluster pipeline (by the keys, which share one slot). `run` loads the
    scripts Redis lost and sends those commands again."""
    sha = _SHAS.get(script)
    if sha is None:
        sha = _SHAS[script] = hashlib.sha1(script.encode()).hexdigest()
        _SCRIPTS[sha] = script
    return client.execute_command("EVALSHA", sha, len(keys), *keys, *args)


class NotReplicated(redis.RedisError):
    """Fewer replicas acknowledged a write than REDIS_WAIT_REPLICAS asks, in REDIS_WAIT_TIMEOUT_MS:
    a passing failure like Redis being away (the webhook answers 503, a job retries)."""


def replicated(connection: Any, keys: Sequence[str], replicas: int, timeout_ms: int) -> None:
    """Returns once `replicas` replicas hold every write made so far on the servers that hold
    `keys`; NotReplicated if they do not in time. Nothing to do when `replicas` is 0. Used where
    something outside Redis acts on a write: Meta hearing 200 for a message, a message leaving
    for WhatsApp.

    Redis's WAIT waits for the writes of the connection that sends it, and the writes it guards
    went by others (the group commit's Line, a pool's): so on each server concerned, one
    connection writes a marker in the keys' slot, and waits for that. A server's replication
    stream is in order, so a replica that holds the marker holds everything written before it."""
    if not replicas or not keys:
        return
    if isinstance(connection, redis.cluster.RedisCluster):
        servers = {}
        for key in keys:
            node = connection.get_node_from_key(key)
            servers.setdefault(node.name, (node.redis_connection, key))
        targets = list(servers.values())
    else:
        targets = [(connection, keys[0])]
    for server, key in targets:
        pipe = server.pipeline(transaction=False)
        pipe.set(_wait_marker(key), 1, px=timeout_ms + 1000)
        pipe.execute_command("WAIT", replicas, timeout_ms)
        acked = int(pipe.execute()[-1])
        if acked < replicas:
            raise NotReplicated(f"{acked} of {replicas} replicas acknowledged in {timeout_ms} ms")


def _wait_marker(key: str) -> str:
    """A key in `key`'s Cluster slot, written only to be waited for."""
    start = key.find("{")
    end = key.find("}", start + 1)
    tag = key[start + 1:end] if start >= 0 and end > start + 1 else key
    return f"{PREFIX}:replicated:{{{tag}}}"


def by_slot(connection: Any, tags: Sequence[str]) -> list[list[int]]:
    """The positions of `tags` (hash tags, or keys) in groups whose keys share one Redis Cluster
    slot, so that one script call can take each group; on a single server, one group of all."""
    if not isinstance(connection, redis.cluster.RedisCluster):
        return [list(range(len(tags)))]
    groups: dict[int, list[int]] = {}
    for n, tag in enumerate(tags):
        groups.setdefault(connection.keyslot(tag), []).append(n)
    return list(groups.values())


class Line:
    """A connection of its own to one Redis server, for a group commit's leader (one sends at a
    time, so one connection serves the process): a batch's commands go out in one write and their
    answers are read in order, without redis-py's pipeline machinery around them (its objects,
    pool checkout and per-command callbacks cost a busy web process more CPU than the round trip).
    A failure closes the connection; the next batch opens it again."""

    def __init__(self, connection: redis.Redis) -> None:
        pool = connection.connection_pool
        self._socket = pool.connection_class(**pool.connection_kwargs)

    def send(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Each command's answer, or the error Redis answered it with."""
        socket = self._socket
        try:
            socket.send_packed_command(socket.pack_commands(commands), check_health=False)
            answers: list[Any] = []
            for _ in commands:
                try:
                    answers.append(socket.read_response())
                except redis.ResponseError as exc:  # read whole: the next answer follows it
                    answers.append(exc)
            return answers
        except BaseException:
            socket.disconnect()  # what was sent or half read is unknown: start clean
            raise


def line(connection: Any) -> Line | None:
    """A Line to `connection` when it is one server reached by redis-py's own sockets; None for a
    Cluster (commands go node by node) and for the embedded store (no socket)."""
    if type(connection) is redis.Redis and connection.connection_pool.connection_class in (
            redis.Connection, redis.SSLConnection, redis.UnixDomainSocketConnection):
        return Line(connection)
    return None


class _Noted:
    """A pipeline as `build` sees it: each command goes on the pipeline, and those sent raw (the
    EVALSHAs) are noted by their place in it, to be sent again if Redis forgot a script."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe
        self.commands: dict[int, tuple[Any, ...]] = {}

    def execute_command(self, *command: Any) -> Any:
        self.commands[len(self.pipe)] = command
        return self.pipe.execute_command(*command)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pipe, name)


class _Queued:
    """Stands in for a pipeline when the commands go by a Line: `build` queues on it alike."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *command: Any) -> None:
        self.commands.append(command)


def run(connection: Any, build: Callable[[Any], Any], by: Line | None = None) -> list[Any]:
    """What `build` queues on a pipeline, sent in one round trip (one per node of a Cluster), by
    `by` when given; raises the first error. If Redis restarted and forgot the scripts, the
    EVALSHAs that failed (and only they: the other commands ran) are sent again once the scripts
    are loaded."""
    if by is not None:
        queued = _Queued()
        build(queued)
        sent: Any = queued.commands
        answers = by.send(sent)
    else:
        pipe = connection.pipeline(transaction=False)
        if isinstance(connection, redis.cluster.RedisCluster):
            # RedisCluster.pipeline() does not hand on the client's policy resolver (redis-py 8.1),
            # without which each EVALSHA costs a COMMAND GETKEYS round trip (see _ScriptsByKeys).
            pipe._policy_resolver = connection._policy_resolver
        noted = _Noted(pipe)
        build(noted)
        sent = noted.commands
        answers = pipe.execute(raise_on_error=False)
    lost = [n for n, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if lost:
        for script in list(_SCRIPTS.values()):
            connection.script_load(script)
        for n in lost:
            answers[n] = connection.execute_command(*sent[n])
    for answer in answers:
        if isinstance(answer, Exception):
            raise answer
    return answers


def call(connection: Any, script: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
    """One script's answer, run as `evalsha` runs it (and loaded again if Redis forgot it)."""
    return run(connection, lambda pipe: evalsha(pipe, script, keys, args))[0]
