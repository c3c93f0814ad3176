"""Both arms busy: many samples in flight through the transfer station over the in-process twin.

Every sample travels storage/i -> a furnace slot -> done/i (arm_b) -> storage/i (arm_a); to the
furnace by way of done/i (arm_a, then arm_b), every fourth sample by a transfer through the buffer
(arm_a and arm_b in one operation). All samples at once, each in its own thread, as the lab
manager runs them.
A hook on every step of the world watches the two arms: contacts between them (and what they
hold), and an arm inside the space between the arm bases without the coordinator's grant. Used by
tests/twin/test_two_arms.py and bench/bench_two_arms.py.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleRef
from powderlab.stations.transfer import TransferRequest, TransferStation
from powderlab.twin.world import TwinClock
from tests.twin.conftest import TwinLab

CLEARANCE_WATCH_M = 0.10  # closer than this, the hook measures the distance between the arms
# The space between the bases (arm_a at x = 0, arm_b at x = 0.8): outside shared space an arm's
# links stay below x = 0.19 (arm_a) and above x = 0.57 (arm_b), home included.
MIDDLE_FROM_A_M, MIDDLE_FROM_B_M = 0.30, 0.50
RETRY_S = 2.0  # sim seconds before a transfer that found its arm or a buffer position taken tries again


@dataclass
class StressResult:
    """What happened to the arms while the samples were in flight."""

    samples: int
    transfers: int = 0
    failures: list[str] = field(default_factory=list)
    motion_faults: int = 0  # outcomes that failed with a device fault, a protective stop or a stopped motion
    collision_refusals: int = 0  # an arm refused a motion as a collision (a station in fault says so too: not counted)
    contact_steps: int = 0  # world steps with the two arms (or what they hold) touching
    unguarded_steps: int = 0  # world steps with an arm between the bases without holding shared space
    min_clearance_m: float = CLEARANCE_WATCH_M
    both_moving_s: float = 0.0  # sim seconds with both arms in motion at once
    waits: int = 0  # motions that waited for the other arm
    waited_s: float = 0.0
    retries: int = 0
    misplaced: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    sim_s: float = 0.0


class ArmWatch:
    """A world hook: contacts and clearance between the two arms, and entries into shared space."""

    def __init__(self, lab: TwinLab, transfer: TransferStation, result: StressResult) -> None:
        self.world, self.transfer, self.result = lab.world, transfer, result
        self.last = lab.world.time

    def bodies(self, name: str) -> list[int]:
        arm = self.world.arms[name]
        return [arm.body] + ([arm.held.body] if arm.held is not None else [])

    def reach_x(self, name: str, side: int) -> float:
        """How far the arm's links reach along x (max for arm_a, min for arm_b)."""
        body = self.world.arms[name].body
        boxes = [self.world.client.getAABB(body, link) for link in range(9)]
        return max(box[1][0] for box in boxes) if side > 0 else min(box[0][0] for box in boxes)

    def __call__(self, t: float) -> None:
        dt, self.last = t - self.last, t
        client, result, arms = self.world.client, self.result, self.world.arms
        if arms["arm_a"].motion is not None and arms["arm_b"].motion is not None:
            result.both_moving_s += dt
        clearance = CLEARANCE_WATCH_M
        for a in self.bodies("arm_a"):
            for b in self.bodies("arm_b"):
                for point in client.getClosestPoints(a, b, CLEARANCE_WATCH_M):
                    clearance = min(clearance, point[8])
        result.min_clearance_m = min(result.min_clearance_m, clearance)
        if clearance < 0.0:
            result.contact_steps += 1
        held = self.transfer.coordinator.holders()
        inside = {
            "arm_a": self.reach_x("arm_a", 1) > MIDDLE_FROM_A_M,
            "arm_b": self.reach_x("arm_b", -1) < MIDDLE_FROM_B_M,
        }
        if any(there and name not in held.values() for name, there in inside.items()):
            result.unguarded_steps += 1


def route(i: int) -> list[tuple[str, str]]:
    """Sample i's transfers: through the done rack (one arm a leg), every fourth through the buffer (two)."""
    furnace = f"furnace_{1 + (i - 1) % 4}/slot_{1 + (i - 1) // 4}"
    storage, done = f"storage/{i}", f"done/{i}"
    there = [(storage, furnace)] if i % 4 == 0 else [(storage, done), (done, furnace)]
    return [*there, (furnace, done), (done, storage)]


def run_stress(lab: TwinLab, samples: int = 20, limit_s: float = 1800.0) -> StressResult:
    """Run `samples` journeys at once on a running (not manual) twin lab; the result counts every fault."""
    if samples > 32:
        raise ValueError(f"at most 32 samples (furnace slots), got {samples}")
    world, transfer = lab.world, lab["transfer"]
    assert isinstance(transfer, TransferStation)
    transfer.parameters["arm_wait_timeout_s"] = 36000.0  # 20 samples queue for two arms: no wait bound here
    clock = TwinClock(world)
    for furnace in ("furnace_1", "furnace_2", "furnace_3", "furnace_4"):
        lab["furnaces"].devices[furnace].set_door(True)
    result = StressResult(samples)
    world.add_hook(ArmWatch(lab, transfer, result))
    lock = threading.Lock()

    def journey(i: int) -> None:
        sample = SampleRef(f"S{i:02d}", f"crucible_{i:02d}")
        for source, destination in route(i):
            while True:
                outcome = transfer.run("transfer", TransferRequest(sample, source, destination))
                # As the lab manager does: a transfer whose arm or buffer position another holds comes back later.
                full = outcome.code is ErrorCode.NOT_REACHABLE and "no free handover position" in outcome.message
                if full or outcome.code is ErrorCode.POSITION_LOCKED:
                    with lock:
                        result.retries += 1
                    clock.sleep(RETRY_S)
                    continue
                break
            with lock:
                result.transfers += 1
                if not outcome.ok:
                    result.failures.append(f"{sample.sample_id} {source} -> {destination}: {outcome.message}")
                    if outcome.code in (ErrorCode.DEVICE_FAULT, ErrorCode.PROTECTIVE_STOP, ErrorCode.CANCELED):
                        result.motion_faults += 1
                    if outcome.code is ErrorCode.DEVICE_FAULT and "collision:" in outcome.message:
                        result.collision_refusals += 1
            if not outcome.ok:
                return

    start_wall, start_sim = time.perf_counter(), world.time
    workers = [threading.Thread(target=journey, args=(i,), daemon=True) for i in range(1, samples + 1)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(max(1.0, limit_s - (time.perf_counter() - start_wall)))
    result.wall_s, result.sim_s = time.perf_counter() - start_wall, world.time - start_sim
    stuck = sum(worker.is_alive() for worker in workers)
    if stuck:
        transfer.cancel_all()
        result.failures.append(f"{stuck} journeys still running after {limit_s:g} s of wall time")
    result.waits, result.waited_s = transfer.coordinator.waits, transfer.coordinator.waited_s
    for i in range(1, samples + 1):
        item = world.items[f"crucible_{i:02d}"]
        if item.position != f"storage/{i}":
            result.misplaced.append(f"crucible_{i:02d} at {item.position}")
    return result
