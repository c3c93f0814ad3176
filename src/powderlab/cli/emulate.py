"""`powderlab emulate`: serve a site profile's devices from protocol emulators until stopped.

An OPC UA server on 127.0.0.1 (arms, PLC, XRD) and one pseudo-terminal per serial device
(balance, dosing unit, furnace controllers), symlinked at the paths the profile names. Prints
what it serves, then `powderlab emulate: ready`; Ctrl-C / SIGTERM / SIGHUP stops everything (within 5 s).
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

READY = "powderlab emulate: ready"
STOP_BOUND_S = 5.0  # SIGINT / SIGTERM / SIGHUP to exit


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "emulate",
        help="serve a site's devices from protocol emulators (OPC UA on loopback, serial on ptys)",
        description="Start protocol emulators for every device of a site profile that has a connection: an OPC UA "
        "server on 127.0.0.1 for the arms, the PLC and the diffractometer, and pseudo-terminals for the "
        "serial devices. Prints the endpoint and the port paths; runs until Ctrl-C or SIGTERM.",
    )
    parser.add_argument("--site", default="emulated", help="site profile (default: %(default)s)")
    parser.add_argument("--time-factor", type=float, default=1.0, help="device time runs this much faster than wall")
    parser.add_argument(
        "--opcua-port", type=int, default=None, help="OPC UA port (default: POWDERLAB_OPCUA_PORT or 48400)"
    )
    parser.add_argument("--dir", default=None, help="where the pty links go (default: POWDERLAB_EMULATOR_DIR)")
    parser.add_argument("--arm-move-time", type=float, default=2.0, help="seconds of device time per arm move")
    parser.set_defaults(handler=run)


def variables_from(args: argparse.Namespace) -> dict[str, str]:
    from powderlab.drivers.real.variables import lookup

    return {
        "POWDERLAB_OPCUA_PORT": str(args.opcua_port) if args.opcua_port else lookup("POWDERLAB_OPCUA_PORT"),
        "POWDERLAB_EMULATOR_DIR": args.dir or lookup("POWDERLAB_EMULATOR_DIR"),
    }


def run(args: argparse.Namespace) -> int:
    from powderlab.core.clock import ScaledClock, WallClock
    from powderlab.core.site import SiteProfile
    from powderlab.emulators.lab import EmulatedLab

    profile = SiteProfile.load(args.site)
    clock: Any = ScaledClock(args.time_factor) if args.time_factor != 1.0 else WallClock()
    variables = variables_from(args)
    lab = EmulatedLab(profile, clock, variables, arm_move_time_s=args.arm_move_time)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stop.set())
    served = lab.start()
    try:
        print(f"powderlab emulate: site '{profile.name}', device time x{args.time_factor:g}", flush=True)
        for name, where in served.items():
            print(f"  {name:<16} {where}", flush=True)
        print(READY, flush=True)
        stop.wait()
    finally:
        # bounded: a server thread that does not end must not keep the emulators alive (tracebacks, exit 1)
        faulthandler.dump_traceback_later(STOP_BOUND_S, exit=True)
        lab.stop()
        print("powderlab emulate: stopped", flush=True)
    sys.stdout.flush()
    os._exit(0)  # no waiting on a server thread that lingers after its stop (the process is done)


class EmulatorProcess:
    """`powderlab emulate` as a child process (how `powderlab up` serves an emulated site)."""

    def __init__(self, site: str, log_path: Path, time_factor: float = 1.0) -> None:
        self.log_path = log_path
        from powderlab.drivers.real.variables import lookup

        # the dir and port the lab's drivers will expand the profile with, named on the command line so
        # `ps` (and a test looking for leftovers) can tell which cell this emulator serves
        command = [sys.executable, "-m", "powderlab", "emulate", "--site", site]
        command += ["--dir", lookup("POWDERLAB_EMULATOR_DIR"), "--opcua-port", lookup("POWDERLAB_OPCUA_PORT")]
        if time_factor > 0:
            command += ["--time-factor", f"{time_factor:g}"]
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "w")  # noqa: SIM115 - lives as long as the process
        from powderlab.bringup.processes import spawn

        # its own process group, and SIGTERM when we die (even by SIGKILL), like the lab's nodes
        self.process = spawn(command, self._log, os.environ.copy())

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Block until the emulators serve (PowderLabError naming the log if they do not)."""
        from powderlab.core.errors import PowderLabError

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if READY in self.log_path.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise PowderLabError(f"the emulators did not start; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM; the emulators stop within STOP_BOUND_S, then their process group is killed."""
        from powderlab.bringup.processes import kill_group

        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_BOUND_S + 1.0)
            except subprocess.TimeoutExpired:
                pass
        kill_group(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5.0)
        self._log.close()


def emulated_site(site: str) -> bool:
    """True for a profile that declares `emulated: true` (its devices are served by `powderlab emulate`)."""
    from powderlab.core.site import SiteProfile

    return bool(SiteProfile.load(site).raw.get("emulated"))
