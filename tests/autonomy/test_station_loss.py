"""Losing a station (issue 19 item 3, ADR 0102): its work waits while the rest of the lab goes on,
and a goal lost with a restarted station is reconciled from the lab's physical state, never repeated blindly."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from powderlab.autonomy import store as tables
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.engine import CampaignEngine
from powderlab.autonomy.port import Completion, FurnaceInfo, LabState, MillInfo, StationInfo, mill_info
from powderlab.autonomy.routing import Router
from powderlab.autonomy.state import FILLING, HEATED, HEATING, OpRecord
from powderlab.autonomy.store import Store
from powderlab.core.samples import SampleRef, SampleStatus
from powderlab.stations.base import StationMode
from powderlab.stations.milling import MillRequest
from powderlab.stations.operations import operation
from tests.autonomy.scheduler_states import CID, FakePort, RecordingPlanner, World, small_cell, world
from tests.autonomy.test_recovery import recovery

STATIONS = ("dosing", "milling", "furnaces", "xrd", "transfer")


def lost_with_restart(op: OpRecord) -> Completion:
    return Completion(op.id, 0, "", known=False, unknown_goal=True, station_restarted=True)


def station_port(w: World, running: bool = False, mill: MillInfo | None = None, **alive: bool) -> FakePort:
    """A FakePort whose lab reports every station idle (alive unless said), furnace_1 running or not, and
    the milling station's mill (`mill`: its last run; None: a mill that cannot tell)."""
    port = FakePort(w.clock, dict(w.state.occupied))
    mills = [mill or MillInfo("mill_1", False)]
    furnace = FurnaceInfo("furnace_1", False, running, 900.0 if running else 60.0)
    port.lab_state = lambda: LabState(  # type: ignore[method-assign]
        stations={
            name: StationInfo(
                name,
                name,
                int(StationMode.IDLE),
                alive=alive.get(name, True),
                furnaces=[furnace] if name == "furnaces" else [],
                mills=mills if name == "milling" else [],
            )
            for name in STATIONS
        }
    )
    return port


# ---------------------------------------------------------------- goals lost with a restarted station


def test_a_dose_lost_with_its_restarted_station_is_never_dosed_again_into_the_same_crucible():
    w = world()
    sample = w.sample(w.experiment(w.target()), "dosing/balance")
    op = w.op("dose", sample)
    part, _ = recovery(w, {"dosing/balance": sample.labware_id})
    # young and unknown to the station: without the flag this reads as "never reached the lab" (dosed again)
    part.lost(op, lost_with_restart(op))
    # held for a weigh of its crucible (ADR 0115), not planned for another dose
    assert sample.status is SampleStatus.PLANNED and w.state.dose_watch == {sample.id: op}
    assert op.state == "lost" and ("save", OpRecord, op.id) in w.events()


def test_a_heat_lost_with_its_restarted_station_follows_the_program_still_running_on_the_controller():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    member = w.sample(w.experiment(w.target()), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    op = w.op("heat", batch=batch)
    op.station = "furnaces"
    part, port = recovery(w, dict(w.state.occupied))
    lab = station_port(w, running=True)
    port.lab_state = lab.lab_state
    part.lost(op, lost_with_restart(op))
    assert batch.state == HEATING and w.state.heat_watch == {batch.id: op}  # not heated again
    part.watch_heats(lab.lab_state())  # still running
    assert batch.state == HEATING and member.status is SampleStatus.MILLED
    part.watch_heats(station_port(w, running=False).lab_state())  # the program ended on the controller
    assert batch.state == HEATED and member.status is SampleStatus.HEATED
    assert op.state == "succeeded" and not w.state.heat_watch


def test_a_heat_lost_with_its_restarted_station_is_heated_or_heated_again_by_the_time_it_had():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    op = w.op("heat", batch=batch)
    op.station, op.estimate_s = "furnaces", 3600.0
    part, port = recovery(w, {})
    port.lab_state = station_port(w, running=False).lab_state
    w.clock.t += 600.0  # the program stopped long before its planned end: it is heated again
    part.lost(op, lost_with_restart(op))
    assert batch.state == FILLING
    batch.state = HEATING
    done = w.op("heat", batch=batch)
    done.station, done.estimate_s = "furnaces", 3600.0
    w.clock.t += 3600.0  # it had all its planned time and the program has ended: heated
    part.lost(done, lost_with_restart(done))
    assert batch.state == HEATED and done.state == "succeeded"


def test_a_heat_followed_on_its_controller_is_followed_again_after_the_engine_restarts():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    member = w.sample(w.experiment(w.target()), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    lost = w.op("heat", batch=batch)
    lost.station, lost.state = "furnaces", "lost"
    records = {
        "targets": list(w.state.targets.values()),
        "experiments": list(w.state.experiments.values()),
        "samples": [member],
        "batches": [batch],
        "operations": [lost],
    }
    fresh = world()
    part, _ = recovery(fresh, {})
    assert part.reload(records) == []
    assert fresh.state.heat_watch == {batch.id: lost}  # not left heating forever with nothing to end it
    part.watch_heats(station_port(fresh, running=False).lab_state())
    assert fresh.state.batches[batch.id].state == HEATED


def lost_mill(w: World) -> tuple:
    """A dosed sample at the clamp whose 600 s mill goal (sent at t=1000) was lost with its restarted station."""
    w.clock.t = 1000.0
    sample = w.sample(w.experiment(w.target()), "milling/clamp", SampleStatus.DOSED)
    op = w.op("mill", sample)
    op.station, op.resources = "milling", ("station:milling", "pos:milling/clamp")
    op.goal = operation("mill").request_to_data(MillRequest(SampleRef(sample.id, sample.labware_id), 600.0, 25.0))
    part, port = recovery(w, dict(w.state.occupied))
    return sample, op, part, port


def test_a_mill_lost_with_its_restarted_station_follows_the_run_still_going_on_the_mill():
    w = world()
    sample, op, part, port = lost_mill(w)
    w.clock.t = 1300.0
    port.lab_state = station_port(w, mill=MillInfo("mill_1", True, 1005.0, 295.0, 600.0)).lab_state
    part.lost(op, lost_with_restart(op))
    # not milled again: the sample waits for its run and holds the mill meanwhile
    assert w.state.mill_watch == {sample.id: op} and sample.status is SampleStatus.DOSED and not sample.closed
    del w.state.ops[op.id]  # the engine has let go of the lost goal
    launched: list[OpRecord] = []
    Router(w.state, w.config).dispatch(launched.append)
    assert launched == [] and "station:milling" in w.state.busy()  # no second mill while the run goes on
    part.watch_mills(port.lab_state())  # still running
    assert sample.status is SampleStatus.DOSED and w.state.mill_watch
    w.clock.t = 1700.0
    part.watch_mills(station_port(w, mill=MillInfo("mill_1", False, 1005.0, 600.0, 600.0)).lab_state())
    assert sample.status is SampleStatus.MILLED and op.state == "succeeded" and not w.state.mill_watch


def test_a_mill_lost_with_its_restarted_station_whose_run_ended_is_milled_not_milled_again():
    w = world()
    sample, op, part, port = lost_mill(w)
    w.clock.t = 1700.0
    port.lab_state = station_port(w, mill=MillInfo("mill_1", False, 1005.0, 600.0, 600.0)).lab_state
    part.lost(op, lost_with_restart(op))
    assert sample.status is SampleStatus.MILLED and op.state == "succeeded" and not w.state.mill_watch


def test_a_mill_lost_with_its_restarted_station_fails_its_sample_when_the_mill_cannot_tell():
    # the mock backend's mill died with the station (no run), an earlier sample's run, a run cut short
    for mill in (None, MillInfo("mill_1", False, 400.0, 600.0, 600.0), MillInfo("mill_1", False, 1005.0, 80.0, 80.0)):
        w = world()
        sample, op, part, port = lost_mill(w)
        w.clock.t = 1700.0
        port.lab_state = station_port(w, mill=mill).lab_state
        part.lost(op, lost_with_restart(op))
        assert sample.status is SampleStatus.FAILED and "mill outcome lost" in sample.failure, mill
        assert not w.state.mill_watch and op.state == "lost"


def test_a_mill_unknown_to_the_lab_is_read_from_the_mill_unless_it_provably_never_ran():
    w = world()
    sample, op, part, port = lost_mill(w)
    w.clock.t = 1000.0 + w.config.result_keep_s + 10.0  # its result expired at the station: it may have run
    port.lab_state = station_port(w, mill=MillInfo("mill_1", False, 1005.0, 600.0, 600.0)).lab_state
    part.lost(op, Completion(op.id, 0, "", known=False, unknown_goal=True))
    assert sample.status is SampleStatus.MILLED and op.state == "succeeded"
    young = world()
    sample, op, part, _ = lost_mill(young)
    part.lost(op, Completion(op.id, 0, "", known=False, unknown_goal=True))  # never reached the lab: milled again
    assert sample.status is SampleStatus.DOSED and not sample.closed and not young.state.mill_watch


def test_a_mill_followed_on_the_mill_is_followed_again_after_the_engine_restarts():
    w = world()
    sample, op, _, _ = lost_mill(w)
    op.state = "lost"
    records = {
        "targets": list(w.state.targets.values()),
        "experiments": list(w.state.experiments.values()),
        "samples": [sample],
        "batches": [],
        "operations": [op],
    }
    fresh = world()
    part, _ = recovery(fresh, {})
    assert part.reload(records) == []
    assert fresh.state.mill_watch == {sample.id: op}  # not milled a second time after the reload
    fresh.clock.t = 1700.0
    part.watch_mills(station_port(fresh, mill=MillInfo("mill_1", False, 1005.0, 600.0, 600.0)).lab_state())
    assert fresh.state.samples[sample.id].status is SampleStatus.MILLED


def test_a_mill_run_is_read_from_the_device_status_as_ros_carries_it():
    run = mill_info("mill_1", "running", {"elapsed_s": "12.5", "duration_s": "600.0", "started_s": "1005.0"})
    assert run == MillInfo("mill_1", True, 1005.0, 12.5, 600.0)
    assert mill_info("mill_1", "idle", {"elapsed_s": 0.0}).started_s is None  # a mill that keeps no run
    assert mill_info("mill_1", "idle", {"started_s": "-1.0"}).started_s is None  # the twin's mill before any run


# ---------------------------------------------------------------- an unavailable station holds only its work


def engine_on(tmp_path: Path, build) -> tuple[CampaignEngine, World, Store]:
    """An engine on an empty campaign whose records `build(world)` makes by hand."""
    store = Store(tmp_path / "c.sqlite")
    cell = small_cell()
    engine = CampaignEngine(
        store, FakePort(world().clock), RecordingPlanner(), SimpleNamespace(name="none"), cell, CampaignConfig(CID)
    )
    w = World(engine.campaign, world().clock)
    engine.campaign.now = w.clock
    engine.port = station_port(w)
    engine.recovery.port = engine.port
    engine.open([])
    build(w)
    for record in [*w.state.targets.values(), *w.state.experiments.values(), *w.state.batches.values()]:
        w.state.add(record)
    for sample in list(w.state.samples.values()):
        w.state.add(sample)
    engine.port.table = dict(w.state.occupied)
    return engine, w, store


def test_an_unavailable_station_holds_its_own_work_and_the_rest_of_the_lab_goes_on(tmp_path: Path) -> None:
    samples = {}

    def build(w: World) -> None:
        target = w.target()
        samples["dose"] = w.sample(w.experiment(target), "dosing/balance")
        samples["mill"] = w.sample(w.experiment(target), "milling/clamp", SampleStatus.DOSED)

    engine, w, store = engine_on(tmp_path, build)
    try:
        lab = station_port(w, dosing=False)
        engine.port.lab_state = lab.lab_state
        engine.step()
        started = [(op.action, op.sample_id) for op in engine.port.started]
        assert started == [("mill", samples["mill"].id)]  # the mill works; the dose waits
        assert engine.state == "running" and not engine.suspended
        progress = engine.progress()
        assert any("station dosing unavailable" in reason for reason in progress.reasons)
        events = [e for e in store.rows(tables.events, CID) if e["kind"] in ("unavailable", "available")]
        assert [e["kind"] for e in events] == ["unavailable"] and "dosing" in events[0]["message"]
        assert not store.rows(tables.operations, CID) or all(
            row["action"] != "dose" for row in store.rows(tables.operations, CID)
        )  # nothing recorded for the held dose
        engine.port.lab_state = station_port(w).lab_state  # back
        engine.step()
        assert ("dose", samples["dose"].id) in [(op.action, op.sample_id) for op in engine.port.started]
        assert not any("unavailable" in reason for reason in engine.progress().reasons)
        kinds = [e["kind"] for e in store.rows(tables.events, CID) if e["kind"] in ("unavailable", "available")]
        assert kinds == ["unavailable", "available"]
    finally:
        store.close()


def test_a_held_operation_keeps_no_arm_from_the_samples_behind_it(tmp_path: Path) -> None:
    samples = {}

    def build(w: World) -> None:
        target = w.target()
        batch = w.batch(state=HEATED, furnace="furnace_1")
        # first in line: unloading furnace_1 with arm_b (furnace station, unavailable)
        samples["unload"] = w.sample(w.experiment(target), "furnace_1/slot_1", SampleStatus.HEATED, batch)
        # behind it: buffer -> XRD with arm_b too (transfer station, available)
        samples["xrd"] = w.sample(w.experiment(target), "buffer/1", SampleStatus.HEATED)

    engine, w, store = engine_on(tmp_path, build)
    try:
        engine.port.lab_state = station_port(w, furnaces=False).lab_state
        engine.step()
        started = [(op.action, op.sample_id) for op in engine.port.started]
        assert started == [("transfer", samples["xrd"].id)]
    finally:
        store.close()


def test_a_station_restarting_after_the_lab_was_up_is_held_not_a_suspension(tmp_path: Path) -> None:
    def build(w: World) -> None:
        w.sample(w.experiment(w.target()), "dosing/balance")

    engine, w, store = engine_on(tmp_path, build)
    try:
        engine.step()  # every station active: the lab is up
        state = station_port(w).lab_state()
        state.stations["dosing"].mode, state.stations["dosing"].lifecycle = int(StationMode.INACTIVE), "unconfigured"
        engine.port.lab_state = lambda: state
        engine.step()
        assert engine.state == "running" and "dosing" in engine.campaign.unavailable
        assert "restarting" in engine.campaign.unavailable["dosing"]
    finally:
        store.close()
