"""Pull the cable: the OPC UA server dies mid-transfer, the station faults, then recovers on reset."""

from __future__ import annotations

import threading
import time

from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleRef
from powderlab.stations.base import ManualRequest, StationMode
from powderlab.stations.factory import build_station
from powderlab.stations.transfer import TransferRequest


def wait_until(predicate, what: str, limit_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait for a condition of the emulated world (a bound on a hang, not a timing claim)."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.01)


def test_cable_pulled_mid_transfer_faults_the_station_and_reset_recovers(lab, clock):
    emulated, variables = lab
    station = build_station(emulated.profile, "transfer", "real", clock, backend_options={"variables": variables})
    station.connect()
    try:
        arm = emulated.models.arms["arm_a"]
        arm.move_time_s = 20.0  # longer moves (virtual s), so the cable goes while the crucible is carried
        sample = SampleRef("S-cable", "crucible_01")
        outcomes = []
        worker = threading.Thread(
            target=lambda: outcomes.append(station.run("transfer", TransferRequest(sample, "storage/1", "buffer/1")))
        )
        worker.start()
        wait_until(lambda: arm.gripper_closed and arm.moving, "the arm to carry the crucible")
        emulated.opcua.pull_cable()
        worker.join(30.0)
        assert not worker.is_alive()

        (outcome,) = outcomes
        assert outcome.code is ErrorCode.DEVICE_DISCONNECTED
        # lost while waiting for a motion ("its outcome is unknown"), or between two commands ("link ... is down")
        assert "arm_a" in outcome.message and ("unknown" in outcome.message or "is down" in outcome.message)
        assert station.mode is StationMode.FAULT
        # what is known: the crucible was grasped, so the table has it (and its sample) in the gripper
        held = station.gripper_item("arm_a")
        assert held.labware is not None and held.labware.labware_id == "crucible_01"
        assert held.sample_id == "S-cable"
        assert station.table.get("storage/1").labware is None and station.table.get("buffer/1").labware is None
        arm_status = next(d for d in station.status().devices if d.name == "arm_a")
        assert not arm_status.connected and arm_status.state == "disconnected"
        refused = station.command(ManualRequest("move_home", target="arm_a"))
        assert refused.code is not ErrorCode.NONE

        emulated.opcua.plug_in()
        wait_until(lambda: all(d.connected for d in station.devices.values()), "the arms to reconnect")
        station.reset()
        assert station.mode is StationMode.IDLE
        arm.move_time_s = 1.0
        home = station.command(ManualRequest("move_home", target="arm_a"))
        assert home.code is ErrorCode.NONE, home.message
        assert station.gripper_item("arm_a").labware.labware_id == "crucible_01"  # still held, on record
        assert station.devices["arm_a"].link.reconnects >= 1
    finally:
        station.disconnect()
