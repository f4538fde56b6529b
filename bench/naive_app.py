"""The load benchmark's baseline: what a user would build with pywa and RQ. A Flask webhook
(pywa's own integration: it checks the signature and parses each update) queues one RQ job per
message; the job looks the sender up in the same directory file and sends the reply and the read
receipt with pywa's client, at the same loopback Graph server. Its worker is RQ's own, forking
a work horse per job as RQ ships it, with this module imported before (as RQ's documentation
advises: else each horse imports pywa again, and the baseline measures imports).

    gunicorn (the Procfile's web line) 'bench.naive_app:create_app()'   and   python -m bench.naive_app

It keeps nothing (no conversation, no dedupe beyond pywa's in-memory one, no order per contact):
the floor of the simplest working bot, for tgwa's reply path to be measured against."""
from __future__ import annotations

import functools
import os
import sys

import httpx
import redis
from flask import Flask
from pywa import WhatsApp, types
from rq import Queue, SimpleWorker, Worker

from app import directory

QUEUE = "naive"


@functools.cache
def _client() -> WhatsApp:
    """pywa's client, pointed at the loopback Graph server (pywa names Meta's host itself)."""
    wa = WhatsApp(phone_id=os.environ["WHATSAPP_PHONE_NUMBER_ID"], token=os.environ["WHATSAPP_ACCESS_TOKEN"],
                  session=httpx.Client())
    wa._api._session.base_url = os.environ["WHATSAPP_API_BASE"]  # noqa: SLF001 - no public setting for it
    return wa


@functools.cache
def _directory() -> directory.Directory:
    return directory.load(os.environ["DIRECTORY_FILE"])


def answer(sender: str, message_id: str) -> None:
    """The job: who wrote, a reply quoting their message, and blue ticks."""
    person = _directory().person(sender)
    name = person.name if person is not None else "there"
    wa = _client()
    wa.send_message(to=sender, text=f"Hello {name}, we have your message.", reply_to_message_id=message_id)
    wa.mark_message_as_read(message_id)


def create_app() -> Flask:
    app = Flask("naive")
    queue = Queue(QUEUE, connection=redis.Redis.from_url(os.environ["REDIS_URL"]))
    wa = WhatsApp(phone_id=os.environ["WHATSAPP_PHONE_NUMBER_ID"], token=os.environ["WHATSAPP_ACCESS_TOKEN"],
                  server=app, webhook_endpoint="/webhooks/whatsapp", verify_token=os.environ["WHATSAPP_VERIFY_TOKEN"],
                  app_secret=os.environ["WHATSAPP_APP_SECRET"], validate_updates=True)

    @wa.on_message()
    def handle(_: WhatsApp, message: types.Message) -> None:
        queue.enqueue(answer, message.from_user.wa_id, message.id)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok", 200

    return app


def work(simple: bool = False) -> None:
    """`rq worker naive`, with this module (pywa, the directory) loaded before the first fork;
    `simple`: RQ's SimpleWorker, which runs each job in the worker itself (no fork)."""
    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    _directory()
    _client()
    kind = SimpleWorker if simple else Worker
    kind([Queue(QUEUE, connection=connection)], connection=connection).work()


if __name__ == "__main__":
    work(simple="--simple" in sys.argv)
