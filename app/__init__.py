"""tgwa: WhatsApp for OpenText Trading Grid. `create_app` builds the web app from settings."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    """The web app (app.web.factory.create_app), by the name the Procfile gives gunicorn."""
    # Imported here, not at the top, on purpose: every module of the package imports this one
    # first, and gunicorn's configuration (app.serving) must patch the process for gevent before
    # the store's and the HTTP clients' modules load.
    from app.web.factory import create_app as build

    return build(*args, **kwargs)
