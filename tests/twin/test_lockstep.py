"""Lockstep sim time (ADR 0082): the twin's clock moves only while every lease waits in sim time.

These run the real time server (twin.server.TwinServer over a Timeline, the clock of the mock
lab's sim_clock node) on a Unix socket, with clients on their own connections, as stations and
the campaign engine use it.
"""

from __future__ import annotations

import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import pytest

from powderlab.drivers.sim.clock import LockstepClock
from powderlab.drivers.sim.link import CONTROL, TwinLink, lease_scope
from powderlab.drivers.sim.lockstep import LockstepLink
from powderlab.twin.lockstep import Lockstep
from powderlab.twin.server import TwinServer
from powderlab.twin.timeline import Timeline


@pytest.fixture
def time_server(request):
    """A paced (or free-running) time server on a private socket: (timeline, server)."""
    factor = getattr(request, "param", 1000.0)
    folder = Path(tempfile.mkdtemp(prefix="plls-"))
    timeline = Timeline()
    server = TwinServer(timeline, str(folder / "time.sock"), time_factor=factor).start()
    yield timeline, server
    server.stop()
    shutil.rmtree(folder, ignore_errors=True)


def wait_for(condition, wall_s: float = 10.0) -> bool:
    deadline = time.monotonic() + wall_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.005)
    return condition()


def test_time_stands_still_while_a_lease_computes_and_runs_when_it_ends(time_server):
    timeline, server = time_server
    lockstep = LockstepLink(server.address)
    assert wait_for(lambda: timeline.time > 10.0)  # nobody holds it: it runs at the pace
    assert lockstep.begin("op-1")
    frozen = lockstep.now()
    time.sleep(0.3)  # 300 s of sim time at 1000x, had it been running
    assert lockstep.now() == frozen
    assert not lockstep.begin("op-1")  # open already: the second opener does not own it
    lockstep.end("op-1")
    assert wait_for(lambda: timeline.time > frozen + 10.0)
    lockstep.close()


def test_a_sleep_ends_exactly_at_its_deadline_and_time_waits_for_the_next_step(time_server):
    _timeline, server = time_server
    lockstep = LockstepLink(server.address)
    clock = LockstepClock(lockstep.link)
    lockstep.begin("op-1")
    with lease_scope("op-1"):
        start = clock.now()
        assert clock.sleep(30.0)
        assert clock.now() == pytest.approx(start + 30.0, abs=1e-6)
        time.sleep(0.2)  # a slow machine between two steps of the operation: not lab time
        assert float(lockstep.link.call(CONTROL, "time")) == pytest.approx(start + 30.0, abs=1e-6)
    lockstep.end("op-1")
    lockstep.close()


def test_a_sleep_that_looks_at_its_stop_event_keeps_waiting_in_between(time_server):
    """sleep_until returns on its wall bound; until the lease's next request it still waits: time runs on."""
    timeline, server = time_server
    lockstep = LockstepLink(server.address)
    lockstep.begin("op-1")
    with lease_scope("op-1"):
        start = lockstep.now()
        now = float(lockstep.link.call(CONTROL, "sleep_until", start + 3600.0, 0.05))
        assert now < start + 3600.0  # back after 50 ms of wall time, the hour not over
        assert wait_for(lambda: timeline.time > now + 10.0)  # and the clock did not stop meanwhile
        assert wait_for(lambda: timeline.time >= start + 3600.0 - 1e-6, wall_s=20.0)
        time.sleep(0.2)
        assert timeline.time == pytest.approx(start + 3600.0)  # due: frozen until the lease acts again
        assert float(lockstep.link.call(CONTROL, "sleep_until", start + 3600.0, 0.05)) == pytest.approx(start + 3600.0)
    lockstep.end("op-1")
    lockstep.close()


def test_a_parent_waits_on_its_child_and_computes_again_when_the_child_ends(time_server):
    _timeline, server = time_server
    parent, child = LockstepLink(server.address), LockstepLink(server.address)
    parent.begin("furnace-op")
    start = parent.now()
    with lease_scope("furnace-op"), parent.child("transfer-op"):
        # the child computes: still frozen, though the parent only waits for it
        time.sleep(0.2)
        assert parent.now() == start
        with lease_scope("transfer-op"):
            assert LockstepClock(child.link).sleep(12.0)  # the transfer's arm moves for 12 s
        assert child.now() == pytest.approx(start + 12.0, abs=1e-6)
    time.sleep(0.2)  # the child ended: the parent computes, time holds
    assert parent.now() == pytest.approx(start + 12.0, abs=1e-6)
    parent.end("furnace-op")
    for link in (parent, child):
        link.close()


def test_a_result_that_arrives_before_the_engine_waits_wakes_its_next_wait(time_server):
    _timeline, server = time_server
    engine, station = LockstepLink(server.address), LockstepLink(server.address)
    engine.begin("engine")
    engine.begin("goal-1")
    station.end("goal-1", wake="engine")  # the result came while the engine was still busy
    before = engine.now()
    with lease_scope("engine"):
        engine.link.call(CONTROL, "sleep_until", before + 3600.0, 5.0)
    assert engine.now() == before  # woke at once, no hour passed
    engine.end("engine")
    for link in (engine, station):
        link.close()


def test_a_client_that_dies_with_an_open_lease_does_not_freeze_the_lab(time_server):
    timeline, server = time_server
    dying = LockstepLink(server.address)
    dying.begin("op-of-a-killed-station")
    frozen = timeline.time
    time.sleep(0.1)
    assert timeline.time == frozen
    dying.close()  # the process is gone: its connection closes
    assert wait_for(lambda: timeline.time > frozen + 10.0)


def test_a_lease_that_never_waits_stops_holding_time_after_the_stale_bound():
    lock = threading.RLock()
    lockstep = Lockstep(lock, stale_after_s=0.05)
    with lock:
        lockstep.begin("stuck")
        assert lockstep.runnable() == ["stuck"]
    time.sleep(0.1)
    with lock:
        assert lockstep.runnable() == []  # stale: logged, no longer holds the clock
        waiter = lockstep.wait("stuck", 10.0)
        lockstep.wake_due(10.0)
        lockstep.done_waiting(waiter)
        assert lockstep.runnable() == ["stuck"]  # it waited and woke: it holds the clock again


def _station(
    address: str, name: str, steps: list[float], seed: int, log: list[tuple[str, int, float]], ready: threading.Event
) -> None:
    """A station's work: compute (random wall time, like a loaded machine), then wait in sim time, in turn."""
    jitter = random.Random(seed)
    lockstep = LockstepLink(address)
    clock = LockstepClock(lockstep.link)
    lockstep.begin(name)
    ready.set()
    with lease_scope(name):
        for index, wait_s in enumerate(steps):
            time.sleep(jitter.uniform(0.0, 0.03))
            log.append((name, index, clock.now()))
            clock.sleep(wait_s)
            time.sleep(jitter.uniform(0.0, 0.03))
            log.append((name, index, clock.now()))
    lockstep.end(name)
    lockstep.close()


@pytest.mark.parametrize("time_server", [0.0, 2000.0], indirect=True, ids=["as-fast-as-possible", "2000x"])
def test_the_same_work_gives_the_same_sim_times_however_slow_the_machine(time_server):
    """Two stations' operations, with different random wall delays each run: identical sim-time histories."""
    _timeline, server = time_server
    steps = {"dosing": [30.0, 5.0, 120.0, 1.0], "furnace": [600.0, 3600.0, 2.5]}
    histories = []
    for run in range(2):
        gate = LockstepLink(server.address)
        gate.begin("start")  # both stations start at the same sim time
        log: list[tuple[str, int, float]] = []
        ready = [threading.Event() for _ in steps]
        threads = [
            threading.Thread(target=_station, args=(server.address, name, waits, 100 * run + i, log, ready[i]))
            for i, (name, waits) in enumerate(steps.items())
        ]
        for thread in threads:
            thread.start()
        assert all(event.wait(10.0) for event in ready)
        start = gate.now()
        gate.end("start")
        for thread in threads:
            thread.join(60.0)
        gate.close()
        # Each station's own history is exact; between stations only the order of equal times may differ.
        histories.append(sorted((name, index, round(t - start, 6)) for name, index, t in log))
    assert histories[0] == histories[1]
    assert len(histories[0]) == 2 * sum(len(w) for w in steps.values())


def test_requests_without_a_lease_neither_hold_nor_wait_for_the_clock(time_server):
    _timeline, server = time_server
    link = TwinLink(server.address)
    start = float(link.call(CONTROL, "time"))
    assert wait_for(lambda: float(link.call(CONTROL, "time")) > start + 10.0)  # status reads do not hold time
    link.close()


def test_a_server_that_holds_until_work_starts_its_clock_with_the_first_lease(tmp_path):
    """A campaign's lab time starts with its first work, however long the lab took to come up."""
    timeline = Timeline()
    server = TwinServer(timeline, str(tmp_path / "t.sock"), time_factor=0.0, hold_until_work=True).start()
    try:
        lockstep = LockstepLink(server.address)
        time.sleep(0.3)  # a slow start-up: as fast as possible, this would be hours
        assert lockstep.now() == 0.0
        lockstep.begin("engine")
        with lease_scope("engine"):
            assert LockstepClock(lockstep.link).sleep(60.0)
        assert lockstep.now() == pytest.approx(60.0)
        lockstep.end("engine")
        assert wait_for(lambda: timeline.time > 100.0)  # once started it runs, leases or not
        lockstep.close()
    finally:
        server.stop()
