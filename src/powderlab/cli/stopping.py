"""How a command that owns a lab stops on SIGINT, SIGTERM or SIGHUP: the same way for all three.

The first signal raises Interrupted (a KeyboardInterrupt) in the main thread, so the command's
`finally` stops its lab in order (lab manager SHUTDOWN, SIGINT to the nodes, SIGKILL of the lab's
process group after 5 s) and `powderlab` exits 128 + the signal number. A second signal while that
runs kills every lab process group of this process at once and exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """The command was asked to stop by a signal (signum); `powderlab` exits 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(error: KeyboardInterrupt) -> int:
    """128 + the signal number (Ctrl-C: 130, SIGTERM: 143, SIGHUP: 129)."""
    return 128 + int(getattr(error, "signum", signal.SIGINT))


def _hard_stop(signum: int) -> None:
    from powderlab.bringup.processes import kill_all_labs

    print(f"powderlab: {signal.Signals(signum).name} again while stopping: killing the lab", file=sys.stderr)
    kill_all_labs()
    os._exit(128 + signum)


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within: SIGINT, SIGTERM and SIGHUP raise Interrupted once; a second one kills the labs and exits."""
    stopping: list[int] = []

    def handler(signum: int, _frame: object) -> None:
        if stopping:
            _hard_stop(signum)
        stopping.append(signum)
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
