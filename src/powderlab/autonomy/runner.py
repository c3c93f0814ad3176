"""Run a whole campaign in one process: LocalLab + DiscreteEventClock + the campaign engine."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powderlab.autonomy.analysis import make_analyzer, make_planner
from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.engine import CampaignConfig, CampaignEngine
from powderlab.autonomy.local import DiscreteEventClock, LocalLabPort
from powderlab.autonomy.model import Progress, Target
from powderlab.autonomy.store import Store
from powderlab.core.site import SiteProfile
from powderlab.stations.lab import LocalLab

# A-Lab-like timings for the mock devices (they are instant unless told otherwise): each arm
# motion 5 s (30 s per transfer leg), powders dispensed at 5 mg/s.
A_LAB_MOCK_OPTIONS: dict[str, dict[str, Any]] = {
    "transfer": {"mock_state": {"arm_a": {"move_time_s": 5.0}, "arm_b": {"move_time_s": 5.0}}},
    "dosing": {"mock_state": {"dispenser": {"rate_mg_s": 5.0}}},
}
# Operations look at cancel / e-stop every 30 s of lab time (1 s in the ROS nodes): the same code,
# far fewer turns of the discrete-event clock over a 10-hour furnace run.
DES_SLICE_S = 30.0


@dataclass
class LocalCampaign:
    """A campaign wired to an in-process lab; run() drives it to the end."""

    engine: CampaignEngine
    store: Store
    lab: LocalLab
    port: LocalLabPort
    clock: DiscreteEventClock
    wall_s: float = 0.0
    faults: list[tuple[float, Callable[[LocalLab], None]]] = field(default_factory=list)
    initial_targets: list[Target] = field(default_factory=list)  # written with the new campaign

    def run(self, max_sim_s: float | None = None) -> None:
        started = time.perf_counter()
        self.clock.participate()
        try:
            for at_s, fault in self.faults:
                self.port.at(at_s, lambda fault=fault: fault(self.lab))
            if not self.engine.opened:  # a new campaign and its targets commit in one transaction
                self.engine.open(self.initial_targets)
            self.engine.run(max_sim_s=max_sim_s)
        finally:
            self.clock.leave()
            self.wall_s += time.perf_counter() - started

    def close(self) -> None:
        self.lab.close()
        self.store.close()


def station_parameters(site: SiteProfile, slice_s: float = DES_SLICE_S) -> dict[str, dict[str, Any]]:
    return {name: {"checkpoint_slice_s": slice_s} for name in site.stations}


def local_campaign(
    targets: Sequence[Target],
    database: str | Path,
    campaign_id: str = "campaign",
    site: str | Path = "default",
    backend: str = "mock",
    seed: int = 0,
    planner: Any = None,
    analyzer: Any = None,
    config: dict[str, Any] | None = None,
    backend_options: dict[str, dict[str, Any]] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    faults: list[tuple[float, Callable[[LocalLab], None]]] | None = None,
) -> LocalCampaign:
    """Build (not run) an in-process campaign on a fresh lab."""
    profile = SiteProfile.load(site)
    clock = DiscreteEventClock()
    options = A_LAB_MOCK_OPTIONS if backend_options is None and backend == "mock" else (backend_options or {})
    lab = LocalLab(profile, backend, clock, station_parameters(profile), options)
    port = LocalLabPort(lab, clock)
    store = Store(database)
    engine = CampaignEngine(
        store,
        port,
        planner or make_planner("fixed", seed),
        analyzer or make_analyzer("standin", seed),
        CellModel.from_site(profile),
        CampaignConfig(campaign_id=campaign_id, name=campaign_id, seed=seed, **(config or {})),
        on_progress,
    )
    return LocalCampaign(engine, store, lab, port, clock, faults=list(faults or []), initial_targets=list(targets))
