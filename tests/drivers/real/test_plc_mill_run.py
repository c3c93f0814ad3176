"""The PLC mill reports its run's start on the lab clock (issue 19, ADR 0115): a station restarted mid-mill
tells its sample's run from an earlier one and follows it instead of parking the sample."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from powderlab.autonomy.port import mill_info
from powderlab.core.clock import VirtualClock
from powderlab.core.site import DeviceConfig
from powderlab.drivers.real.opcua_mill import SIGNALS, PlcMill


class FakePlc:
    """The PLC's cached signals, set by hand."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.link = SimpleNamespace(connected=True, last_error="")

    def cached(self, signal: str, default: Any = None) -> Any:
        return self.values.get(signal, default)


def plc_mill(clock: VirtualClock) -> tuple[PlcMill, FakePlc]:
    nodes = {signal: f"PLC.mill_1.{signal}" for signal in SIGNALS}
    config = DeviceConfig(
        "mill_1",
        "mill",
        connection={"endpoint": "opc.tcp://127.0.0.1:4840", "emulator": True, "security": "none", "nodes": nodes},
    )
    mill = PlcMill(config, clock)
    mill.plc = FakePlc()  # type: ignore[assignment]
    return mill, mill.plc  # type: ignore[return-value]


def run_of(mill: PlcMill):
    status = mill.status()
    return mill_info(status.name, status.state, dict(status.values))


def test_a_restarted_driver_finds_the_running_run_start_and_keeps_it_after_the_run_ends() -> None:
    clock = VirtualClock(1000.0)
    mill, plc = plc_mill(clock)
    assert run_of(mill).started_s is None  # idle, no run seen: it cannot tell
    plc.values.update(running=True, elapsed=120.0, duration=600.0)  # a run it did not start (restarted driver)
    run = run_of(mill)
    assert run.running and run.started_s == 880.0 and run.duration_s == 600.0
    clock.advance(480.0)
    plc.values.update(running=False, elapsed=600.0)  # it ended after its whole duration
    run = run_of(mill)
    assert not run.running and run.started_s == 880.0 and run.elapsed_s == 600.0
