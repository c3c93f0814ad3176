"""The emulated cell shared by the real-driver tests of one process (started once, reset per use)."""

from __future__ import annotations

import atexit
import shutil
import socket
import tempfile

from powderlab.core.site import SiteProfile
from powderlab.emulators.clock import FastClock
from powderlab.emulators.lab import EmulatedLab

TIME_FACTOR = 20.0
SETTLE_S = 0.1  # wall seconds for subscriptions to deliver after a clock jump


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Shared:
    lab: EmulatedLab | None = None
    variables: dict[str, str] = {}
    directory = ""


def shared_lab(clock: FastClock) -> tuple[EmulatedLab, dict[str, str]]:
    """The process's emulated cell, reset to fresh models on `clock`."""
    if _Shared.lab is None:
        _Shared.directory = tempfile.mkdtemp(prefix="powderlab-emu-")
        _Shared.variables = {"POWDERLAB_EMULATOR_DIR": _Shared.directory, "POWDERLAB_OPCUA_PORT": str(free_port())}
        lab = EmulatedLab(SiteProfile.load("emulated"), clock, _Shared.variables)
        lab.start()
        _Shared.lab = lab
    else:
        _Shared.lab.reset(clock)
    return _Shared.lab, _Shared.variables


def shutdown_shared() -> None:
    """Stop the shared emulators and remove their pty links (pytest session end, or exit)."""
    if _Shared.lab is not None:
        _Shared.lab.stop()
        _Shared.lab = None
    if _Shared.directory:
        shutil.rmtree(_Shared.directory, ignore_errors=True)
        _Shared.directory = ""


atexit.register(shutdown_shared)
