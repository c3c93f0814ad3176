"""Mill through PLC signals (clamp request / switch, setpoints, run request; see plc_model)."""

from __future__ import annotations

from pathlib import Path

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, InterlockError
from powderlab.core.site import DeviceConfig
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.mill import Mill, MillState
from powderlab.drivers.real.plc import PlcSignals

SIGNALS = (
    "clamp_request",
    "clamp_closed",
    "frequency_setpoint",
    "duration_setpoint",
    "run_request",
    "running",
    "frequency",
    "elapsed",
    "duration",
    "fault",
)


# A running mill's start, as now - elapsed, moves by the PLC's update lag: a start this close is the same run.
RUN_START_SLACK_S = 5.0


class PlcMill(Mill):
    """A mill whose I/O is wired to the cell PLC.

    The PLC tells whether it runs, for how long it has and for how long it was set; the start of a run
    (on the lab clock, `started_s` in the status, as the twin's mill reports it) is known to the driver
    that started it or saw it running, so that a station restarted mid-mill can tell its run from an
    earlier one and follow it (ADR 0102, 0115). A run that ended while no driver watched has no start.
    """

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        self.plc = PlcSignals(self.name, config.connection, SIGNALS, base_dir)
        self.timeout_s = float(config.connection.get("command_timeout_s", 10.0))
        self._started_s: float | None = None  # lab time the last run started, if this driver knows it

    def connect(self) -> None:
        self.plc.link.connect()

    def disconnect(self) -> None:
        self.plc.link.disconnect()

    @property
    def connected(self) -> bool:
        return self.plc.link.connected

    def _wait(self, signal: str, value: object, what: str) -> None:
        self.plc.link.wait_for(lambda: self.plc.cached(signal) == value, self.timeout_s, self.clock, what)

    def set_clamp(self, closed: bool) -> None:
        self.require_connected()
        if not closed and self.plc.get("running"):
            raise InterlockError(self.name, "cannot open the clamp while milling; stop the mill first")
        self.plc.write_bool("clamp_request", closed)
        self._wait("clamp_closed", bool(closed), f"clamp {'closing' if closed else 'opening'}")

    def start(self, frequency_hz: float, duration_s: float) -> None:
        self.require_connected()
        self.check_settings(frequency_hz, duration_s)
        if not self.plc.get("clamp_closed"):
            raise InterlockError(self.name, "clamp is open; close it before milling")
        self.plc.write_double("frequency_setpoint", frequency_hz)
        self.plc.write_double("duration_setpoint", duration_s)
        self.plc.write_bool("run_request", True)
        self._started_s = self.clock.now()
        try:
            self._wait("running", True, "mill start")
        except DeviceError:
            fault = self.plc.cached("fault", "")
            if fault:
                raise DeviceError(self.name, f"PLC refused the start: {fault}") from None
            raise

    def stop(self) -> None:
        self.require_connected()
        self.plc.write_bool("run_request", False)
        self._wait("running", False, "mill stop")

    def safe_stop(self) -> None:
        if self.connected:
            self.stop()

    def state(self) -> MillState:
        self.require_connected()
        get = self.plc.get
        return MillState(
            bool(get("running")),
            bool(get("clamp_closed")),
            float(get("frequency")),
            float(get("elapsed")),
            float(get("duration")),
        )

    def status(self) -> DeviceStatus:
        if not self.connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=self.plc.link.last_error)
        running = bool(self.plc.cached("running"))
        elapsed = float(self.plc.cached("elapsed", 0.0))
        if running:
            began = self.clock.now() - elapsed  # a run going on: it began this long ago
            if self._started_s is None or abs(began - self._started_s) > RUN_START_SLACK_S:
                self._started_s = began  # one this driver did not start (it was restarted meanwhile)
        values: dict[str, float | str | bool] = {
            "clamp_closed": bool(self.plc.cached("clamp_closed")),
            "elapsed_s": elapsed,
            "duration_s": float(self.plc.cached("duration", 0.0)),
        }
        if self._started_s is not None:
            values["started_s"] = self._started_s
        fault = str(self.plc.cached("fault", ""))
        return DeviceStatus(
            self.name,
            self.kind,
            True,
            "running" if running else "idle",
            fault_code=DeviceError.code if fault else 0,
            fault=fault,
            values=values,
        )
