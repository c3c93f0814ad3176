"""The unit of work: marks, order, one transaction, and the engine's flush points (write-ahead)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from powderlab.autonomy import store as tables
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.engine import CampaignEngine
from powderlab.autonomy.model import Target
from powderlab.autonomy.state import ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.autonomy.store import Store
from tests.autonomy.scheduler_states import CID, FakePort, RecordingPlanner, recipe, small_cell, world


def test_records_are_marked_once_in_the_order_first_asked_and_written_as_they_end_up():
    w = world()
    target = w.target()
    experiment = w.experiment(target)
    w.state.add(target)
    w.state.add(experiment)
    w.state.changed(target)  # added in this unit of work: inserted once, with its values then
    w.state.event("x", "one")
    sample = w.sample(experiment, "storage/1")
    w.state.changed(sample)
    sample.retries = 3
    w.state.changed(sample)
    assert w.events() == [
        ("add", TargetRecord, target.id),
        ("add", ExperimentRecord, experiment.id),
        ("event", "event", 1),
        ("save", SampleRecord, sample.id),
    ]


def new_campaign_store(path: Path) -> Store:
    store = Store(path / "c.sqlite")
    store.create_campaign(CID, CID, 0, {}, 0.0)
    return store


def test_a_flush_is_one_transaction_and_a_failed_one_keeps_its_writes(tmp_path: Path, monkeypatch) -> None:
    store = new_campaign_store(tmp_path)
    try:
        w = world()
        target = w.target()
        experiment = w.experiment(target)
        for record in (target, experiment):
            w.state.add(record)
        sample = w.sample(experiment, "storage/1")
        w.state.add(sample)
        w.state.event("admit", "admitted", sample.id)
        real = store.add_sample

        def power_cut(campaign_id: str, record: SampleRecord) -> None:
            raise RuntimeError("power cut")

        monkeypatch.setattr(store, "add_sample", power_cut)
        with pytest.raises(RuntimeError, match="power cut"):
            w.state.work.flush(store)
        assert store.rows(tables.targets, CID) == [] and store.rows(tables.experiments, CID) == []
        assert len(w.state.work) == 4
        monkeypatch.setattr(store, "add_sample", real)
        sample.location = "dosing/balance"  # changed since: written as it is now
        w.state.work.flush(store)
        assert len(w.state.work) == 0
        loaded = store.load(CID)
        assert [s.location for s in loaded["samples"]] == ["dosing/balance"]
        assert [e.id for e in loaded["experiments"]] == [experiment.id]
        assert [e["message"] for e in store.rows(tables.events, CID)] == ["admitted"]
    finally:
        store.close()


class CheckingPort(FakePort):
    """Checks, as each goal is sent and as the engine waits, that the records are committed."""

    def __init__(self, store: Store, engine_state, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.store = store
        self.engine_state = engine_state
        self.checked: list[str] = []

    def start(self, op: OpRecord) -> None:
        committed = {o.id: o for o in self.store.load(CID)["operations"]}  # another connection: committed only
        assert committed[op.id].state == "intended", "the goal was sent before its intent was committed"
        samples = {s.id: s for s in self.store.load(CID)["samples"]}
        assert op.sample_id in samples, "a crucible was used before its sample was committed"
        assert samples[op.sample_id].batch_id in {b.id for b in self.store.load(CID)["batches"]}
        self.checked.append(op.action)
        super().start(op)

    def wait(self, timeout_s: float):
        assert len(self.engine_state().work) == 0, "the engine waits for the lab with decisions unwritten"
        return super().wait(timeout_s)


def test_the_engine_commits_every_decision_before_it_sends_a_goal_or_waits(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.sqlite")
    engine = None
    try:
        cell = small_cell()
        clock = world().clock
        port = CheckingPort(store, lambda: engine.campaign, clock, {"storage/1": "crucible-1"})
        planner = RecordingPlanner([recipe(900.0)])
        engine = CampaignEngine(
            store, port, planner, SimpleNamespace(name="none"), cell, CampaignConfig(CID, in_flight_per_target=1)
        )
        engine.open([Target("LiTiO3", budget=1)])
        assert len(engine.campaign.work) == 0
        assert [t["formula"] for t in store.rows(tables.targets, CID)] == ["LiTiO3"]
        engine.step()
        assert port.checked == ["transfer"]
        assert len(engine.campaign.work) == 0  # the loop ends with everything written
        [sample] = store.load(CID)["samples"]
        assert (sample.labware_id, sample.location) == ("crucible-1", "storage/1")
    finally:
        store.close()


def test_the_engine_writes_its_decisions_before_it_waits_even_when_no_goal_is_sent(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.sqlite")
    engine = None
    try:
        port = CheckingPort(store, lambda: engine.campaign, world().clock, {})  # no crucible: nothing starts
        engine = CampaignEngine(
            store,
            port,
            RecordingPlanner([recipe(900.0)]),
            SimpleNamespace(name="none"),
            small_cell(),
            CampaignConfig(CID),
        )
        engine.open([Target("LiTiO3", budget=1)])
        engine.step()  # the proposal is recorded, admission waits for crucibles; CheckingPort.wait checks
        assert port.checked == []
        assert [e.id for e in store.load(CID)["experiments"]] == [f"{CID}:LiTiO3#1"]
        assert "refill" in engine.progress().reasons[0]
    finally:
        store.close()
