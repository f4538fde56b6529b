"""The OpenText client over loopback, against the fake built from OpenText's Postman collections:
tokens as the gateway gives them, renewed when one runs out in the middle of a run; retries on
429 and 5xx; errors that name the call and never the secret."""
from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from app.demo.opentext import FakeOpenText
from app.opentext import community
from app.opentext.client import OpenText, OpenTextError
from tests.loopback import serve

USERS = [{"loginId": f"user{n}@acme.example", "firstName": "User", "lastName": str(n),
          "contactInformation": {"mobile": f"+44 7700 90010{n}"}} for n in range(5)]


@pytest.fixture
def fake() -> Iterator[FakeOpenText]:
    found = FakeOpenText(users=list(USERS))
    with serve(found.app()) as url:
        found.url = url  # type: ignore[attr-defined]
        yield found


def client(fake: FakeOpenText, secret: str | None = None) -> OpenText:
    return OpenText(fake.url, fake.client_id, secret or fake.client_secret, fake.company_id,  # type: ignore[attr-defined]
                    backoff=0.01)


def test_every_page_is_read_and_a_token_that_runs_out_mid_run_is_renewed(fake: FakeOpenText) -> None:
    ot = client(fake)
    fake.expire_after = 1  # the first page is read with the first token; the second finds it gone
    users = community.users(ot)
    assert [u.login_id for u in users] == [u["loginId"] for u in USERS], "three pages of two, all followed"
    assert ot.credentials.fetched == 2
    assert fake.calls.count("POST /v1/oauth2/tokens") == 2


def test_a_token_is_taken_once_for_many_calls(fake: FakeOpenText) -> None:
    ot = client(fake)
    for _ in range(3):
        community.users(ot)
    assert ot.credentials.fetched == 1


def test_429_and_5xx_are_tried_again_and_then_named(fake: FakeOpenText, caplog: pytest.LogCaptureFixture) -> None:
    ot = client(fake)
    fake.fail_next(429, 503)
    assert len(community.users(ot)) == 5
    fake.fail_next(500, 502, 503, 500)
    with caplog.at_level(logging.DEBUG), pytest.raises(OpenTextError) as failed:
        community.users(ot)
    message = str(failed.value)
    assert message.startswith(f"Community Management GET /TGCommunityServices/v1/companies/{fake.company_id}/users: 500")
    assert "4 tries" in message
    logged = caplog.text + message
    assert fake.client_secret not in logged and not any(token in logged for token in fake.tokens)


def test_a_wrong_secret_says_so_in_one_line_without_the_secret(fake: FakeOpenText) -> None:
    with pytest.raises(OpenTextError) as failed:
        community.partners(client(fake, secret="not-the-secret"))
    assert "no token: token endpoint answered 401" in str(failed.value)
    assert "not-the-secret" not in str(failed.value)


def test_a_token_that_cannot_be_renewed_after_a_401_is_an_error_that_says_so(fake: FakeOpenText) -> None:
    ot = client(fake)
    community.users(ot)
    fake.expire_tokens()
    fake.client_secret = "rotated-at-opentext"  # the consumer secret changed: the renewal is refused
    with pytest.raises(OpenTextError) as failed:
        community.users(ot)
    assert str(failed.value) == (f"Community Management GET /TGCommunityServices/v1/companies/{fake.company_id}"
                                 "/users: no token: token endpoint answered 401")
