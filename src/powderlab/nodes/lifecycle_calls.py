"""Lifecycle service calls that survive a lost reply (ADR 0110).

On a loaded machine the first reply of a service to a client it has only just discovered can be
dropped (the server's reply writer has not matched the client's reader yet). get_state is asked
again until it answers; a transition is judged by the state the node is in afterwards, not by its
reply, and is never sent twice (a second configure of a slow node would fail on its state machine).
"""

from __future__ import annotations

import time
from typing import Any

from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState

from powderlab.core.errors import DeviceTimeoutError, PowderLabError
from powderlab.nodes.futures import wait_future

# One get_state try: the answer normally takes milliseconds; a lost one is asked again after this.
QUERY_TRY_S = 3.0

GOAL_STATES = {
    Transition.TRANSITION_CONFIGURE: State.PRIMARY_STATE_INACTIVE,
    Transition.TRANSITION_CLEANUP: State.PRIMARY_STATE_UNCONFIGURED,
    Transition.TRANSITION_ACTIVATE: State.PRIMARY_STATE_ACTIVE,
    Transition.TRANSITION_DEACTIVATE: State.PRIMARY_STATE_INACTIVE,
    Transition.TRANSITION_UNCONFIGURED_SHUTDOWN: State.PRIMARY_STATE_FINALIZED,
    Transition.TRANSITION_INACTIVE_SHUTDOWN: State.PRIMARY_STATE_FINALIZED,
    Transition.TRANSITION_ACTIVE_SHUTDOWN: State.PRIMARY_STATE_FINALIZED,
}


def query_state(get_state: Any, timeout_s: float, what: str) -> int:
    """A node's lifecycle state id through its get_state client, asked again every QUERY_TRY_S."""
    deadline = time.monotonic() + timeout_s
    while True:
        future = get_state.call_async(GetState.Request())
        try:
            return wait_future(future, max(min(QUERY_TRY_S, deadline - time.monotonic()), 0.1), what).current_state.id
        except PowderLabError:
            future.cancel()
            if time.monotonic() >= deadline:
                raise DeviceTimeoutError(what, f"no answer within {timeout_s:g} s") from None


def change_state(change: Any, get_state: Any, transition: int, timeout_s: float, what: str) -> tuple[bool, int]:
    """Ask for one transition; (whether the node reached the transition's goal state, the state it is in).

    Raises DeviceTimeoutError only when neither the reply came nor the node got there.
    """
    future = change.call_async(ChangeState.Request(transition=Transition(id=transition)))
    try:
        wait_future(future, timeout_s, what)
        answered = True
    except PowderLabError:
        future.cancel()
        answered = False
    state = query_state(get_state, timeout_s, what.replace("change_state", "get_state"))
    reached = state == GOAL_STATES[transition]
    if not answered and not reached:
        raise DeviceTimeoutError(what, f"no answer within {timeout_s:g} s")
    return reached, state
