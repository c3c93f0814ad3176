"""A lab client run inside one virtual host (`ip netns exec ... python -m tests.multihost.drive ...`).

The test process itself is outside every namespace and cannot reach the lab's DDS traffic, so what
it needs from the lab comes from this script as JSON lines on stdout (each with the wall time `t`):

    campaign TARGETS.yaml       submit targets to the autonomy node, wait until they are done, print the summary
    watch SECONDS               print the lab manager's health whenever a node's (alive, state) changes
    heat FURNACE [short]        send one heat goal (long: ~10 s wall); print `accepted` (with its id), then `result`
    result STATION ACTION ID    ask an action server for a goal's result (what the engine's adopt() does)
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from typing import Any

from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind

# about 5.5 h of lab time: ~10 s of wall time at time factor 2000
LONG_HEAT = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=900.0, rate_c_per_min=10.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=240.0),
    )
)


SHORT_HEAT = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=250.0, rate_c_per_min=20.0),
        HeatingSegment(SegmentKind.COOL, target_c=190.0),
    )
)


def say(event: str, **data: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **data}), flush=True)


def settled_positions(client: Any, settle_s: float = 2.0, timeout_s: float = 20.0) -> dict[str, str]:
    """The lab's position table once it has not changed for settle_s.

    The last move's table update reaches this computer on its own path; under load it came after
    the campaign's finished progress (a crucible still at xrd/recovery that the records had in done/).
    """
    table = {name: p.labware_id for name, p in client.positions(10.0).items() if p.labware_id}
    stable_since = time.monotonic()
    deadline = stable_since + timeout_s
    while time.monotonic() - stable_since < settle_s and time.monotonic() < deadline:
        time.sleep(0.2)
        now = {name: p.labware_id for name, p in client.positions(10.0).items() if p.labware_id}
        if now != table:
            table, stable_since = now, time.monotonic()
    return table


def campaign(client: Any, targets_file: str) -> None:
    from powderlab.nodes.autonomy_client import AutonomyClient

    autonomy = AutonomyClient(client.node)
    before = autonomy.progress(2.0)  # a campaign that ran already: its latched progress says finished
    names = autonomy.submit_file(targets_file, timeout_s=60.0)
    say("submitted", targets=names)
    total = (before.targets_total if before is not None else 0) + len(names)
    deadline = time.monotonic() + 300.0
    shown = None
    while (
        (final := autonomy.progress(0.5)) is None
        or final.state != "finished"
        or final.targets_total < total
        or not set(names) <= set(final.targets)  # not the latched progress of before the submission
    ):
        if final is not None and (final.state, final.reasons) != shown:  # what the dashboard would show
            shown = (final.state, list(final.reasons))
            say("progress", state=final.state, reasons=list(final.reasons))
        if (final is not None and final.state == "aborted") or time.monotonic() > deadline:
            break
    table = settled_positions(client)
    say(
        "finished",
        state=final.state,
        made=final.targets_made,
        failed=final.targets_failed,
        total=final.targets_total,
        campaign_id=final.campaign,
        positions=table,
    )


def watch(client: Any, seconds: float) -> None:
    last = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        health = client.health(0.5)
        if health is not None:
            nodes = {n.name: [bool(n.alive), n.lifecycle_state] for n in health.nodes}
            if nodes != last:
                say("health", nodes=nodes)
                last = nodes
        time.sleep(0.1)


def heat(client: Any, furnace: str, length: str = "long") -> None:
    from powderlab_interfaces import action as actions

    from powderlab.nodes.conversions import profile_to_msgs

    profile = LONG_HEAT if length == "long" else SHORT_HEAT
    goal = actions.Heat.Goal(furnace=furnace, profile=profile_to_msgs(profile))
    run = client.send("furnaces", "heat", goal, timeout_s=30.0)
    say("accepted", goal_id=uuid.UUID(bytes=bytes(run.handle.goal_id.uuid)).hex)
    try:
        result = run.result(120.0)
        say("result", error_code=int(result.error_code), error_msg=result.error_msg)
    except Exception as error:  # reported to the test, which decides
        say("no_result", error=repr(error))


def result(client: Any, station: str, action: str, goal_id: str) -> None:
    from powderlab_interfaces import action as actions
    from unique_identifier_msgs.msg import UUID

    from powderlab.nodes.futures import wait_future

    action_type = {"heat": actions.Heat, "dose": actions.Dose}[action]
    service = client.node.create_client(action_type.Impl.GetResultService, f"{station}/{action}/_action/get_result")
    if not service.wait_for_service(timeout_sec=30.0):
        say("result", status=-1, error="get_result not available")
        return
    request = action_type.Impl.GetResultService.Request(goal_id=UUID(uuid=list(uuid.UUID(hex=goal_id).bytes)))
    response = wait_future(service.call_async(request), 30.0, "get_result")
    say("result", status=int(response.status), error_code=int(response.result.error_code))


def main(argv: list[str]) -> int:
    from powderlab.nodes.lab_client import LabClient

    client = LabClient()
    try:
        command, *args = argv
        if command == "campaign":
            campaign(client, args[0])
        elif command == "watch":
            watch(client, float(args[0]))
        elif command == "heat":
            heat(client, *args)
        elif command == "result":
            result(client, *args)
        else:
            raise SystemExit(f"unknown command {command}; allowed: campaign, watch, heat, result")
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
