"""Two arms that never fault because of each other (ADR 0080), on the in-process twin."""

import numpy as np
import pytest

from powderlab.core.samples import SampleRef
from powderlab.stations.transfer import TransferRequest
from tests.twin.stress import ArmWatch, StressResult, run_stress


def test_an_arm_between_its_own_positions_stays_out_of_the_space_between_the_arms(kinematic_lab):
    """Transfers in and out of the done rack: arm_a once wound its base joint a turn up and later swept a
    full turn through arm_b's side on its way to storage (a motion the coordinator grants no zone for)."""
    lab = kinematic_lab
    transfer = lab["transfer"]
    result = StressResult(samples=0)
    lab.world.add_hook(ArmWatch(lab, transfer, result))
    for i in range(1, 7):
        station = ("milling/clamp", "dosing/balance")[i % 2]
        sample = SampleRef(f"S{i}", f"crucible_{i:02d}")
        for source, destination in [(f"storage/{i}", f"done/{i}"), (f"done/{i}", station), (station, f"storage/{i}")]:
            outcome = transfer.run("transfer", TransferRequest(sample, source, destination))
            assert outcome.ok, f"{source} -> {destination}: {outcome.message}"
    assert result.unguarded_steps == 0
    assert abs(transfer.arms()["arm_a"].joint_positions()[0]) <= np.pi  # the base joint stays in its own turn


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_twenty_samples_in_flight_with_both_arms_busy_never_fault_or_touch(running_kinematic_lab):
    result = run_stress(running_kinematic_lab, samples=20, limit_s=1500.0)
    assert result.failures == []
    assert result.motion_faults == 0 and result.collision_refusals == 0
    assert result.contact_steps == 0 and result.min_clearance_m > 0.0
    assert result.unguarded_steps == 0  # no arm between the bases without the coordinator's grant
    assert result.transfers == 20 * 3 + 15  # every fourth sample goes through the buffer in one transfer
    assert result.misplaced == []
    assert result.both_moving_s > 10.0  # the arms did work at the same time
    assert result.waits > 0  # and one arm did wait for the other
