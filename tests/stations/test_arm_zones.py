"""The arm coordinator on small hand-built cells: grants, waits, bounds, cancel, no deadlock."""

import threading

import pytest

from powderlab.core.clock import VirtualClock, WallClock
from powderlab.core.errors import CanceledError, DeviceError
from powderlab.stations.arm_zones import HOME, SHARED_SPACE, ArmCoordinator, ArmWaitError, shared_zones

ZONES = {"rack": ["buffer/*"], "door": ["furnace/*"]}


def coordinator(clock=None, poll_s=0.01):
    return ArmCoordinator(["arm_a", "arm_b"], ZONES, clock or VirtualClock(), poll_s=poll_s)


def stand(arms, arm, goal):
    with arms.motion(arm, goal, wait_s=0.0):
        pass


def waiter(arms, arm, goal, wait_s, outcome, **kwargs):
    """Start a thread that moves `arm` to `goal` (recording 'granted' or the error) and return it."""

    def run():
        try:
            with arms.motion(arm, goal, wait_s=wait_s, **kwargs):
                outcome.append("granted")
        except Exception as error:
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until_waiting(arms, arm):
    for _ in range(2000):
        if arm in arms._waiting:
            return
        threading.Event().wait(0.005)
    raise AssertionError(f"{arm} never started waiting")


def test_zones_of_positions_home_and_unknown_goals():
    arms = coordinator()
    assert arms.zones_of("buffer/3") == {"rack"}
    assert arms.zones_of("storage/1") == frozenset()
    assert arms.zones_of(HOME) == frozenset()
    assert arms.zones_of(None) == {"rack", "door"}  # a joint target may end anywhere


def test_an_arm_holds_the_zone_it_stands_in_until_it_moves_out():
    arms = coordinator()
    stand(arms, "arm_a", "buffer/1")
    assert arms.held("arm_a") == {"rack"} and arms.holders() == {"rack": "arm_a"}
    stand(arms, "arm_a", "buffer/2")  # within the zone: no change
    stand(arms, "arm_a", "storage/4")  # the motion out needs the zone it leaves, then gives it back
    assert arms.held("arm_a") == frozenset()
    stand(arms, "arm_b", "buffer/1")  # free for the other arm now
    assert arms.holders() == {"rack": "arm_b"}


def test_a_blocked_motion_waits_for_the_other_arm_to_leave():
    arms = coordinator(WallClock())
    stand(arms, "arm_b", "buffer/1")
    outcome = []
    thread = waiter(arms, "arm_a", "buffer/2", 30.0, outcome)
    wait_until_waiting(arms, "arm_a")
    assert outcome == []  # still waiting: the rack is arm_b's
    stand(arms, "arm_b", HOME)
    thread.join(10.0)
    assert outcome == ["granted"]
    assert arms.holders() == {"rack": "arm_a"} and arms.waits == 1


def test_a_wait_past_its_bound_names_both_arms_the_zone_and_the_time():
    clock = VirtualClock()
    arms = coordinator(clock, poll_s=0.5)
    with arms.motion("arm_b", "buffer/1", wait_s=0.0, operation="transfer.transfer.7"):
        pass
    with pytest.raises(ArmWaitError) as error, arms.motion("arm_a", "buffer/2", wait_s=12.0):
        pytest.fail("granted although arm_b stands in the rack")
    message = str(error.value)
    assert "arm_a cannot move to buffer/2" in message and "'rack' is held by arm_b" in message
    assert "standing at buffer/1 for transfer.transfer.7" in message and "waited 12.0 s" in message
    assert clock.now() == pytest.approx(12.0)  # waited on the station clock
    assert arms.held("arm_a") == frozenset()  # took nothing


def test_a_cancel_ends_the_wait_and_takes_nothing():
    arms = coordinator(WallClock())
    stand(arms, "arm_b", "buffer/1")
    cancel, outcome = threading.Event(), []

    def check():
        if cancel.is_set():
            raise CanceledError("the goal was cancelled")

    thread = waiter(arms, "arm_a", "buffer/2", 60.0, outcome, check=check, stop=cancel)
    wait_until_waiting(arms, "arm_a")
    cancel.set()
    thread.join(10.0)
    assert len(outcome) == 1 and isinstance(outcome[0], CanceledError)
    assert arms.held("arm_a") == frozenset() and "arm_a" not in arms._waiting


def test_a_motion_granted_at_once_is_not_ended_by_a_cancel():
    """Cancel takes effect only while blocked: the retreat after a placement is never refused."""
    arms = coordinator()

    def cancelled():
        raise CanceledError("the goal was cancelled")

    with arms.motion("arm_a", "buffer/1", wait_s=0.0, check=cancelled) as granted:
        assert granted == {"rack"}


def test_each_arm_holding_what_the_other_wants_fails_at_once_instead_of_deadlocking():
    arms = coordinator(WallClock())
    stand(arms, "arm_a", "buffer/1")
    stand(arms, "arm_b", "furnace/1")
    outcome = []
    thread = waiter(arms, "arm_a", "furnace/2", 60.0, outcome)  # wants the door zone arm_b stands in
    wait_until_waiting(arms, "arm_a")
    with pytest.raises(ArmWaitError) as error:  # arm_b wants the rack arm_a stands in: a cycle
        stand(arms, "arm_b", "buffer/2")
    assert "wait for each other" in str(error.value) and "'rack' is held by arm_a" in str(error.value)
    stand(arms, "arm_b", HOME)  # the way out: arm_b leaves, arm_a goes on
    thread.join(10.0)
    assert outcome == ["granted"] and arms.holders() == {"door": "arm_a"}


def test_a_whole_motion_is_granted_at_once_or_not_at_all():
    arms = coordinator()
    stand(arms, "arm_b", "furnace/1")
    with pytest.raises(ArmWaitError):  # a joint target needs every zone; the door zone is taken
        stand(arms, "arm_a", None)
    assert arms.held("arm_a") == frozenset()  # not even the free rack


def test_a_failed_motion_leaves_its_arm_holding_everything_it_was_granted():
    arms = coordinator()
    stand(arms, "arm_a", "buffer/1")
    with pytest.raises(DeviceError), arms.motion("arm_a", "storage/2", wait_s=0.0):
        raise DeviceError("arm_a", "stopped on the way (stop command)")
    assert arms.held("arm_a") == {"rack"}  # it may have stopped anywhere between the rack and storage
    with pytest.raises(ArmWaitError) as error:
        stand(arms, "arm_b", "buffer/2")
    assert "stopped somewhere on the way to storage/2" in str(error.value)


def test_the_shared_space_is_what_two_arms_serve():
    serves = {"arm_a": ["storage/*", "buffer/*", "done/*"], "arm_b": ["buffer/*", "furnace_*/*", "done/*"]}
    assert shared_zones(serves) == {SHARED_SPACE: ["buffer/*", "done/*"]}
    assert shared_zones(serves, ["furnace_1/*"]) == {SHARED_SPACE: ["buffer/*", "done/*", "furnace_1/*"]}
    assert shared_zones({"arm_a": ["storage/*"]}) == {}


def test_an_unknown_arm_is_named():
    with pytest.raises(Exception, match="unknown arm 'arm_c'"):
        stand(coordinator(), "arm_c", "buffer/1")
