"""The twin running its own time (as fast as possible): drivers wait in sim time over the socket."""

import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from powderlab.core.clock import VirtualClock
from powderlab.core.errors import DeviceError, ErrorCode, UnknownResourceError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.drivers import sim
from powderlab.drivers.arm import Height
from powderlab.drivers.sim.link import CONTROL
from powderlab.twin.server import TwinServer
from powderlab.twin.world import World


@pytest.fixture
def running_twin():
    world = World()
    folder = Path(tempfile.mkdtemp(prefix="plt-"))
    server = TwinServer(world, str(folder / "twin.sock"), time_factor=0.0).start()
    yield world, server
    server.stop()
    world.close()
    shutil.rmtree(folder, ignore_errors=True)


def until(condition, wall_s=60.0):
    deadline = time.monotonic() + wall_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_time_runs_by_itself_and_a_program_ends_on_sim_time(running_twin):
    world, server = running_twin
    devices = sim.build_devices(world.site.station("furnaces"), VirtualClock(), {"twin_address": server.address})
    furnace = devices["furnace_2"]
    furnace.connect()
    profile = HeatingProfile(
        (
            HeatingSegment(SegmentKind.RAMP, target_c=300.0, rate_c_per_min=10.0),
            HeatingSegment(SegmentKind.DWELL, duration_min=60.0),
        )
    )
    furnace.start_program(profile)
    assert until(lambda: furnace.program().finished)  # 1.5 h of sim time, nobody advancing it
    assert furnace.link.call(CONTROL, "time") > profile.duration_s(furnace.limits)
    assert 250.0 < furnace.temperature_c() < 310.0
    furnace.disconnect()
    furnace.link.close()


def test_unknown_device_and_command_are_named(running_twin):
    _, server = running_twin
    link = sim.TwinLink(server.address)
    with pytest.raises(UnknownResourceError) as error:
        link.call("kiln", "status")
    assert "kiln" in str(error.value) and "furnace_1" in str(error.value)
    with pytest.raises(UnknownResourceError) as error:
        link.call("furnace_1", "_program")
    assert error.value.code is ErrorCode.UNKNOWN_RESOURCE
    link.close()


def test_a_stop_during_a_move_ends_the_move_canceled_not_as_if_it_arrived(running_twin):
    world, server = running_twin
    devices = sim.build_devices(world.site.station("transfer"), VirtualClock(), {"twin_address": server.address})
    arm, other = (
        devices["arm_a"],
        sim.build_devices(world.site.station("transfer"), VirtualClock(), {"twin_address": server.address})["arm_a"],
    )
    arm.connect()
    other.connect()
    outcome: list[BaseException | None] = []

    def move() -> None:
        try:
            arm.move_to("storage/1", Height.APPROACH, speed=0.05)  # slow: many seconds of sim time
            outcome.append(None)
        except DeviceError as error:
            outcome.append(error)

    mover = threading.Thread(target=move)
    mover.start()
    assert until(lambda: world.arms["arm_a"].motion is not None)
    other.safe_stop()  # another connection stops the arm (a station's safe stop, an e-stop)
    mover.join(60.0)
    assert len(outcome) == 1 and isinstance(outcome[0], DeviceError), outcome
    assert outcome[0].code is ErrorCode.CANCELED and "storage/1" in str(outcome[0])
    tcp = world.arms["arm_a"].tcp_world()
    assert np.linalg.norm(tcp - world.arms["arm_a"].tcp_point("storage/1", Height.APPROACH)) > 0.01  # not there
    for device in (arm, other):
        device.disconnect()
        device.link.close()
