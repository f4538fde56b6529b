"""Lua in Redis: every script the bot runs, side by side, and the one way they are run.

Each script does in one step what must not be seen half done by another worker (a message
recorded and queued, a send claimed and its moment reserved, a status kept only if it is further
along). Their keys share one Redis Cluster slot (see app.keyspace). They run by their hash
(`evalsha`), queued on the caller's pipeline or group commit with its other commands; `run`
loads them again when Redis restarted and forgot them.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import redis
import redis.cluster
from redis.commands import CoreCommands
from redis.exceptions import NoScriptError

from app.redisline import Line

# What recording a message or an event answers.
NEW, PENDING_DUPLICATE, HANDLED_DUPLICATE = 1, 2, 0


# The inbox (app.inbox), and Trading Grid events (app.ingest).

# KEYS: seen, inbox and msgs of each message, three by three. ARGV: dedupe TTL, arrivals per
# second, then the id, WhatsApp timestamp and stored JSON of each message, three by three. One
# answer a message: 1 new (recorded), 2 a duplicate still waiting in the inbox, 0 already handled.
# (The webhook marks the contact ready whichever it is.) Several messages to a call, because a
# script call costs Redis more than the commands in it; their keys must share a Cluster slot.
RECORD_INBOUND = """
local ttl, per_second, answers = ARGV[1], tonumber(ARGV[2]), {}
for first = 1, #KEYS, 3 do
  local seen, inbox, msgs = KEYS[first], KEYS[first + 1], KEYS[first + 2]
  local id, timestamp, message = ARGV[first + 2], ARGV[first + 3], ARGV[first + 4]
  local answer = 0
  if redis.call('SET', seen, '1', 'NX', 'EX', ttl) then
    local seq = redis.call('HINCRBY', msgs, '#seq', 1) % per_second
    redis.call('HSET', msgs, id, message)
    redis.call('ZADD', inbox, tonumber(timestamp) * per_second + seq, id)
    answer = 1
  elseif redis.call('ZSCORE', inbox, id) then
    answer = 2
  end
  answers[#answers + 1] = answer
end
return answers
"""

# The cell rate algorithm, in Redis's own clock (the one clock every worker shares): reserves the
# first moment that keeps `interval` between moments on average, with bursts of up to
# tolerance/interval + 1. Times in microseconds. A key lives a second past its moment: once that
# is past, no key and an old one mean the same, so a recipient's pace costs no memory for long.
# Answers {moment, now, what the key was set to} (GIVE_BACK takes the last).
GCRA = """
local function reserve(key, interval, tolerance)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local tat = tonumber(redis.call('GET', key) or '0')
  local slot = math.max(now, tat - tolerance)
  local next_tat = math.max(tat, slot) + interval
  redis.call('SET', key, string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
  return {string.format('%d', slot), string.format('%d', now), string.format('%d', next_tat)}
end
"""

# Taking the contact's next message, in one step with all that goes with it (app.inbox.take).
# KEYS: inbox, msgs, last_in, inpace, lock, retry, the contact's pair pace (as a recipient).
# ARGV: arrivals per second, window seconds, sender interval, sender tolerance (µs), lock token,
# lock timeout (ms), '1' to take the lock ('0': held already), the retry token ('' for none), the
# message handled before ('' for none), '1' to take another ('0': let go), pair interval and
# tolerance (µs).
# First the message handled before leaves the inbox. Taking the lock, the contact must not be
# backing off (unless this is the retry whose token the retry key holds: then the backoff is
# over) and nobody else may hold it. Then {'head', id, stored message, tries, why, taken before,
# pair moment, now, pair key set to, others waiting}: `tries` counts this one (a message whose
# handling never finished comes back with a higher count each time), `why` is the last passing
# failure, `taken before` when the try before took it (µs; 'kept' when it ended knowing what it
# had sent: app.sendahead), the pair moment is reserved for its first reply; the message is false
# when it went missing; the 24-hour window is reckoned from its timestamp. A sender over its rate
# gets {'wait', µs} and the message is not taken. {'empty'}, {'wait', …} and {'stopped'} let go of the lock; {'locked'}
# and {'backing'} never had it.
TAKE = GCRA + """
local token = ARGV[5]
if ARGV[9] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[9])
  redis.call('HDEL', KEYS[2], ARGV[9], '#tries:' .. ARGV[9], '#why:' .. ARGV[9], '#at:' .. ARGV[9])
end
if ARGV[7] == '1' then
  local backing = redis.call('GET', KEYS[6])
  if backing then
    if backing ~= ARGV[8] then return {'backing'} end
    redis.call('DEL', KEYS[6])
  end
  if not redis.call('SET', KEYS[5], token, 'NX', 'PX', ARGV[6]) then return {'locked'} end
end
local function let_go(answer)
  if redis.call('GET', KEYS[5]) == token then redis.call('DEL', KEYS[5]) end
  return answer
end
if ARGV[10] ~= '1' then return let_go({'stopped'}) end
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then
  redis.call('DEL', KEYS[2])  -- nothing waits: the arrival counter starts again
  return let_go({'empty'})
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[4]) or '0')
if tat - tolerance > now then return let_go({'wait', string.format('%d', tat - tolerance - now)}) end
local next_tat = math.max(tat, now) + interval
redis.call('SET', KEYS[4], string.format('%d', next_tat), 'PX', math.floor((next_tat - now) / 1000) + 1000)
local raw = redis.call('HGET', KEYS[2], head[1])
if raw then
  redis.call('SET', KEYS[3], math.floor(tonumber(head[2]) / tonumber(ARGV[1])), 'EX', ARGV[2])
end
local tries = redis.call('HINCRBY', KEYS[2], '#tries:' .. head[1], 1)
local before = redis.call('HGET', KEYS[2], '#at:' .. head[1])
redis.call('HSET', KEYS[2], '#at:' .. head[1], string.format('%d', now))
local pair = reserve(KEYS[7], tonumber(ARGV[11]), tonumber(ARGV[12]))
return {'head', head[1], raw, tries, redis.call('HGET', KEYS[2], '#why:' .. head[1]), before,
        pair[1], pair[2], pair[3], redis.call('ZCARD', KEYS[1]) - 1}
"""

# KEYS: inbox, msgs. ARGV: arrivals per second, id, WhatsApp timestamp, stored JSON. A message
# back from the parked list, in its place by its own time: first of its second, since anything of
# the same second still waiting arrived after it (it was parked long before). Its earlier tries
# kept the records of what they sent: the next claims each send again (app.sendahead).
REQUEUE = """
redis.call('HSET', KEYS[2], ARGV[2], ARGV[4], '#at:' .. ARGV[2], 'kept')
redis.call('HDEL', KEYS[2], '#tries:' .. ARGV[2], '#why:' .. ARGV[2])
redis.call('ZADD', KEYS[1], tonumber(ARGV[3]) * tonumber(ARGV[1]), ARGV[2])
return 1
"""

# KEYS: the event's key. ARGV: its payload, dedupe TTL. Answers as RECORD_INBOUND's: 1 new,
# 2 a duplicate still pending, 0 already handled.
RECORD_EVENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  if redis.call('HGET', KEYS[1], 'state') == 'pending' then return 2 end
  return 0
end
redis.call('HSET', KEYS[1], 'payload', ARGV[1], 'state', 'pending')
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""


# Pace (app.pace) and sends (app.outbound).

# Returns {reserved moment, now}.
RESERVE = GCRA + "return reserve(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))"

# A moment reserved ahead and never used, given back (KEYS[1]: the pace key; ARGV: what the
# reservation set it to, the interval) unless others reserved after it: then it stays spent.
GIVE_BACK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], string.format('%d', tonumber(ARGV[1]) - tonumber(ARGV[2])), 'KEEPTTL')
end
return 0
"""

# Meta said the pair is spent (131056): the recipient's next moment is a full interval from now,
# whatever the burst allowance said. ARGV: interval, tolerance (µs).
SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now + tolerance + interval)
redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', math.floor((tat - now) / 1000) + 1000)
return 0
"""

# Claims a send (KEYS[1], its record) and reserves its moment under the recipient's pair limit
# (KEYS[2]) in one step. Returns {0, outcome} when an attempt before settled it, {2, claim} when
# one claimed it and said nothing since (ARGV[5] = '1': take it over regardless), else
# {1, reserved moment, now}. ARGV[6], when not '': an attempt that sent without claiming may
# have sent it (app.sendahead), taking its message at that time (s): no record is then a doubt
# too, as if that attempt had claimed it.
CLAIM_SEND = GCRA + """
local existing = redis.call('GET', KEYS[1])
if existing and existing ~= 'unsent' then
  if string.sub(existing, 1, 7) ~= 'sending' then return {0, existing} end
  if ARGV[5] ~= '1' then return {2, existing} end
elseif not existing and ARGV[5] ~= '1' and ARGV[6] ~= '' then
  return {2, 'sending:' .. ARGV[6]}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
local reserved = reserve(KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
return {1, reserved[1], reserved[2]}
"""

# A send's record that no attempt settled (still claimed, or unsent) becomes ARGV[1]: `left:<wamid>`
# when Meta's status names it (the message left, whatever its sender managed to write), `unsent`
# when its claimer knows the message never went. With ARGV[2] (a TTL), a record that is not there
# is made: a reply sent unclaimed (app.sendahead) has none until its turn ends.
UNSETTLED_BECOMES = """
local value = redis.call('GET', KEYS[1])
if value and (value == 'unsent' or string.sub(value, 1, 7) == 'sending') then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
elseif not value and ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 0
"""


# Delivery statuses (app.delivery).

# KEYS: the message. ARGV: purpose, TTL, idempotency key, what was sent (JSON). What a status
# needs: the notification to count it for, and, should it fail later, what to send again (who and
# when are in Meta's status). Returns the furthest status that arrived before this record.
RECORD_SENT = """
redis.call('HSET', KEYS[1], 'purpose', ARGV[1], 'key', ARGV[3], 'sent', ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
"""

# KEYS: the message. ARGV: status, its rank, when, error code, error title, TTL. Keeps the status
# only when it is further along than the one kept (failed is final): {purpose, the rank before},
# else {'', -1}.
APPLY_STATUS = """
local current = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
local rank = tonumber(ARGV[2])
if current >= 5 or rank <= current then return {'', -1} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', rank, 'status_at', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'error_code', ARGV[4], 'error_title', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
return {redis.call('HGET', KEYS[1], 'purpose') or '', current}
"""


# Drainers (app.ready).

# KEYS: ready, pending, drainers, tokens. ARGV: now, drainers allowed, lease, delay, force,
# contacts... Marks the contacts ready (an earlier mark stands), and returns a new drainer's
# token when no drainer holds a lease, or more contacts wait than drainers hold one and fewer
# than allowed do (one per worker: more would only wait in RQ's queue), or `force` is 1; else 0.
WAKE = """
local now = tonumber(ARGV[1])
local due = now + tonumber(ARGV[4])
for first = 6, #ARGV, 500 do  -- a few variadic calls, not two a contact: a redis.call costs more than its command
  local last, members, scored = math.min(first + 499, #ARGV), {}, {}
  for i = first, last do
    members[#members + 1] = ARGV[i]
    scored[#scored + 1] = due
    scored[#scored + 1] = ARGV[i]
  end
  redis.call('SADD', KEYS[2], unpack(members))
  redis.call('ZADD', KEYS[1], 'NX', unpack(scored))
end
if redis.call('ZCARD', KEYS[1]) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
local drainers = redis.call('ZCARD', KEYS[3])
if ARGV[5] ~= '1' and drainers > 0
   and (drainers >= tonumber(ARGV[2]) or redis.call('ZCARD', KEYS[1]) <= drainers) then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)  -- lingering when its drainer died
  local lingering = redis.call('ZCARD', KEYS[5])
  if lingering > 0 then  -- one of them takes it: no job needed
    redis.call('LPUSH', KEYS[6], 1)
    redis.call('LTRIM', KEYS[6], 0, lingering - 1)
  end
  return 0
end
local token = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[3]), token)
return token
"""

# KEYS: ready, drainers, pending, lingering, nudges. ARGV: now, token, lease, linger (1: wait a
# moment rather than give up the lease), and the contact the drainer found with nothing left, if
# any: no longer pending, unless it was marked ready again meanwhile.
# {1, contact}: take it. {2, seconds}: the next contact is due that much later. {3}: nothing
# left, and the drainer keeps its lease, lingering: WAKE nudges it instead of queuing a job.
# {0}: nothing left; the drainer's lease is given up in the same step, so a contact marked after
# this finds no drainer and queues one.
NEXT_CONTACT = """
local now = tonumber(ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[2])
if ARGV[5] and not redis.call('ZSCORE', KEYS[1], ARGV[5]) then redis.call('SREM', KEYS[3], ARGV[5]) end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
local result
if #due > 0 then
  redis.call('ZREM', KEYS[1], due[1])
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
  result = {1, due[1]}
else
  local later = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #later > 0 then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
    result = {2, tostring(tonumber(later[2]) - now)}
  elseif ARGV[4] == '1' then
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), ARGV[2])
    redis.call('ZADD', KEYS[4], now + tonumber(ARGV[3]), ARGV[2])
    return {3}
  else
    redis.call('ZREM', KEYS[2], ARGV[2])
    result = {0}
  end
end
if redis.call('ZCARD', KEYS[4]) == 0 then redis.call('DEL', KEYS[5]) end
return result
"""


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

    def __len__(self) -> int:
        return len(self.pipe)


class _Queued(CoreCommands):  # type: ignore[misc]
    """Stands in for a pipeline when the commands go by a Line: `build` queues on it alike, with
    redis-py's own command methods (`set`, `hincrby`, ...). Answers come as Redis gave them,
    without redis-py's conversions (OK, not True)."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []

    def execute_command(self, *command: Any, **options: Any) -> None:  # options: redis-py routing hints
        self.commands.append(command)

    def __len__(self) -> int:
        return len(self.commands)


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
