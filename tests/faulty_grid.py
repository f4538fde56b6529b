"""Fixtures for a test module whose Trading Grid fails on command: import `faults` and
`tradinggrid_url` from here, and the loopback Trading Grid sits behind tests.flaky.Faults."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.tradinggrid.server import create_server
from tests.flaky import Faults
from tests.loopback import serve


@pytest.fixture
def faults(grid) -> Faults:  # type: ignore[no-untyped-def]
    return Faults(create_server(grid))


@pytest.fixture
def tradinggrid_url(faults: Faults) -> Iterator[str]:
    with serve(faults) as url:
        yield url
