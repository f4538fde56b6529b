"""app.redisline.Line: commands packed by hiredis in one write, their answers read by a Reader of
its own, in order, errors among them, and a connection Redis closed opened again once."""
from __future__ import annotations

from typing import Any

import pytest
import redis

from app import redisline


@pytest.fixture
def line(redis_conn: Any) -> redisline.Line:
    found = redisline.line(redis_conn)
    if found is None:
        pytest.skip("fakeredis has no socket for a Line (tests/test_store.py covers the pipeline path)")
    return found


def test_answers_come_in_order_with_an_error_in_its_place(line, redis_conn) -> None:  # type: ignore[no-untyped-def]
    answers = line.send([("SET", "tgwa:test:a", "1"), ("HSET", "tgwa:test:a", "f", "x"), ("INCR", "tgwa:test:a"),
                         ("GET", "tgwa:test:missing"), ("EVAL", "return {1, false, 'x'}", 0)])
    assert answers[0] in (True, b"OK")
    assert isinstance(answers[1], redis.ResponseError) and "WRONGTYPE" in str(answers[1])
    assert answers[2:4] == [2, None]
    assert answers[4] == [1, None, b"x"]


def test_an_unknown_script_is_redis_pys_own_error_so_it_can_be_loaded_again(line) -> None:  # type: ignore[no-untyped-def]
    answer = line.send([("EVALSHA", "0" * 40, 0)])[0]
    assert isinstance(answer, redis.exceptions.NoScriptError)


def test_what_hiredis_cannot_pack_goes_by_the_clients_encoder(line) -> None:  # type: ignore[no-untyped-def]
    answers = line.send([("SET", "tgwa:test:b", memoryview(b"bytes")), ("GET", "tgwa:test:b"),
                         ("SCRIPT EXISTS", "0" * 40)])
    assert answers[1:] == [b"bytes", [0]], "a memoryview sent as its bytes, a two-word command as two"
    with pytest.raises(redis.DataError):
        line.send([("SET", "tgwa:test:b", {"not": "a string"})])


def test_a_connection_redis_closed_is_opened_again_and_the_batch_sent_once(line, redis_conn) -> None:  # type: ignore[no-untyped-def]
    own = line.send([("CLIENT", "ID")])[0]
    redis_conn.client_kill_filter(_id=own)  # its connection only, as a restart or an idle drop does
    assert line.send([("INCR", "tgwa:test:c")]) == [1], "sent once, on a new connection"
    assert redis_conn.get("tgwa:test:c") == b"1"


def test_a_batch_whose_answer_is_larger_than_one_read_is_read_whole(line) -> None:  # type: ignore[no-untyped-def]
    big = "x" * 300_000
    assert line.send([("SET", "tgwa:test:big", big), ("GET", "tgwa:test:big"), ("STRLEN", "tgwa:test:big")])[1:] == [
        big.encode(), 300_000]


def test_an_answer_that_does_not_come_in_time_is_redis_timeout_and_the_next_batch_starts_clean(redis_conn) -> None:  # type: ignore[no-untyped-def]
    if redisline.line(redis_conn) is None:
        pytest.skip("fakeredis has no socket for a Line")
    kwargs = redis_conn.connection_pool.connection_kwargs
    impatient = redisline.line(redis.Redis(host=kwargs["host"], port=kwargs["port"], db=kwargs["db"], socket_timeout=0.2))
    assert impatient is not None
    with pytest.raises(redis.TimeoutError):
        impatient.send([("BLPOP", "tgwa:test:never", 2)])
    assert impatient.send([("PING",)]) in ([True], [b"PONG"]), "not the late answer to the BLPOP"
