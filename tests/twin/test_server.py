"""The twin running its own time (as fast as possible): drivers wait in sim time over the socket."""

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from powderlab.core.clock import VirtualClock
from powderlab.core.errors import ErrorCode, UnknownResourceError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.drivers import sim
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
