"""Fixtures of the real-driver tests: the shared emulated cell is stopped at the session's end."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from powderlab.emulators.clock import FastClock
from powderlab.emulators.lab import EmulatedLab
from tests.drivers.real.shared import TIME_FACTOR, shared_lab, shutdown_shared


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutdown_shared()


@pytest.fixture
def clock() -> FastClock:
    return FastClock(TIME_FACTOR)


@pytest.fixture
def lab(clock: FastClock) -> Iterator[tuple[EmulatedLab, dict[str, str]]]:
    """The emulated cell (hardware/emulated.yaml) with fresh models on `clock`, and its variables."""
    emulated, variables = shared_lab(clock)
    yield emulated, variables
    if emulated.opcua is not None:
        emulated.opcua.plug_in()  # a test that pulled the cable leaves the server serving again
    for pty in emulated.ptys.values():
        pty.start()
