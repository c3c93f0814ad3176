"""The knobs of a campaign and the scheduler's fixed limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Running with nothing in flight and nothing started this long (lab seconds): stalled (a person must act).
STALL_AFTER_S = 3600.0
# A station unavailable is not counted against the lab-time suspension limit before this much wall
# time: a respawn takes seconds of wall time, which at a fast lab clock are hours (ADR 0115).
UNAVAILABLE_GRACE_WALL_S = 60.0
# A lab clock this far behind the campaign's records is another (restarted) lab, not this one.
CLOCK_SLACK_S = 1.0


@dataclass
class CampaignConfig:
    """Knobs of a campaign (all times in lab-clock seconds)."""

    campaign_id: str
    name: str = ""
    seed: int = 0
    success_yield: float = 0.5
    in_flight_per_target: int = 1
    max_retries: int = 4
    retry_delay_s: float = 300.0
    batch_wait_s: float = 1800.0
    max_samples_per_experiment: int = 2
    staging_reserve: int = 1
    max_admitted: int | None = None
    tick_s: float = 600.0
    overrun_factor: float = 1.5
    overrun_margin_s: float = 300.0
    resume_delay_s: float = 60.0
    # The stations keep a finished goal's result this long (their result_keep_s, lab seconds): a
    # younger goal they do not know never reached them.
    result_keep_s: float = 86400.0
    # Nobody at the lab: a suspension that has not cleared after this much wall time (seconds) or
    # lab time (seconds), whichever comes first, aborts the campaign. 0: no limit of that kind.
    suspend_limit_wall_s: float = 1800.0
    suspend_limit_sim_s: float = 43200.0
    # The empty crucible's mass (the cell's crucibles, lab balance reading in mg) and how far one
    # crucible may differ from it: a dose lost with its restarted station is reconciled by weighing
    # the crucible against it (ADR 0115).
    crucible_empty_mg: float = 25000.0
    crucible_empty_tol_mg: float = 20.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)
