"""The discrete-event clock: overlapping sleeps, strict turn-taking, early wake on a stop event."""

from __future__ import annotations

import threading

from powderlab.autonomy.local import DiscreteEventClock


def test_threads_overlap_on_virtual_time_in_order() -> None:
    clock = DiscreteEventClock()
    log: list[tuple[str, float]] = []

    def worker(name: str, steps: list[float]) -> None:
        for step in steps:
            clock.sleep(step)
            log.append((name, clock.now()))

    clock.participate()
    clock.spawn(lambda: worker("a", [3600.0, 3600.0]))
    clock.spawn(lambda: worker("b", [1800.0, 5400.0]))
    clock.sleep(10000.0)
    clock.leave()
    # at 7200 s both wake: b first, it asked to sleep earlier (deterministic order)
    assert log == [("b", 1800.0), ("a", 3600.0), ("b", 7200.0), ("a", 7200.0)]
    assert clock.now() == 10000.0  # two hours of overlapping work cost no wall time


def test_stop_event_wakes_a_sleeper_early() -> None:
    clock = DiscreteEventClock()
    done = threading.Event()
    clock.participate()

    def worker() -> None:
        clock.sleep(50.0)
        done.set()

    clock.spawn(worker)
    woke_early = not clock.sleep(1e6, done)
    clock.leave()
    assert woke_early and clock.now() == 50.0
