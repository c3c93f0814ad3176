"""The planner node: a target queue with recipe proposals and active learning, over ROS services.

Services: `~/submit_targets` (powderlab_interfaces/SubmitTargets: a targets document as YAML or
JSON; bad entries are listed one by one in the message, good ones are queued), `~/propose_recipe`
(ProposeRecipe), `~/report_outcome` (ReportOutcome). Topic: `~/target_queue` (TargetQueue, latched).
All the logic is `powderlab.planner.service.PlannerService`; this node only converts messages.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import yaml
from powderlab_interfaces import msg, srv
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from powderlab.core.errors import PowderLabError, StationUnavailableError, ValidationError
from powderlab.core.recipes import Recipe
from powderlab.nodes.conversions import profile_to_msgs, scan_to_msg
from powderlab.nodes.futures import wait_future
from powderlab.nodes.qos import LATCHED
from powderlab.nodes.station_node import run_node
from powderlab.planner.inventory import Inventory
from powderlab.planner.service import PlannerService

PARAMETERS: dict[str, tuple[Any, str]] = {
    "planner": ("arrows", "recipe planner: arrows (active learning), ranking or random (baselines)"),
    "site": ("default", "site profile whose dosing heads are the powder inventory"),
    "hull_threshold_ev": (0.025, "targets up to this far above the hull (eV/atom) pass screening"),
    "seed": (0, "seed of the random baseline"),
    "targets_file": ("", "targets submitted at start (YAML, see powderlab.planner.targets)"),
}


def recipe_to_msg(recipe: Recipe) -> msg.Recipe:
    """A core Recipe as the interfaces' Recipe message."""
    return msg.Recipe(
        recipe_id=recipe.recipe_id,
        target=recipe.target,
        precursors=[msg.PowderDose(powder=d.powder, target_mg=float(d.target_mg)) for d in recipe.precursors],
        milling_duration_s=float(recipe.milling.duration_s),
        milling_frequency_hz=float(recipe.milling.frequency_hz),
        milling_balls=int(recipe.milling.ball_count),
        heating_profile=profile_to_msgs(recipe.heating),
        scan=scan_to_msg(recipe.scan),
    )


class PlannerNode(Node):
    """PlannerService behind three services and a latched queue topic."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("planner", **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.service = PlannerService(
            str(value("planner")),
            inventory=Inventory.from_site(str(value("site"))),
            hull_threshold_ev=float(value("hull_threshold_ev")),
            seed=int(value("seed")),
        )
        self._lock = threading.Lock()
        group = ReentrantCallbackGroup()
        self.queue_pub = self.create_publisher(msg.TargetQueue, "~/target_queue", LATCHED)
        self.create_service(srv.SubmitTargets, "~/submit_targets", self._on_submit, callback_group=group)
        self.create_service(srv.ProposeRecipe, "~/propose_recipe", self._on_propose, callback_group=group)
        self.create_service(srv.ReportOutcome, "~/report_outcome", self._on_report, callback_group=group)
        if value("targets_file"):
            with open(str(value("targets_file"))) as handle:
                result = self.service.submit(yaml.safe_load(handle))
            for problem in result.errors:
                self.get_logger().warning(problem)
        self._publish()

    def _publish(self) -> None:
        targets = [
            msg.PlannerTarget(
                formula=item["formula"],
                phase_id=item["phase_id"],
                status=item["status"],
                experiments=int(item["experiments"]),
                budget=int(item["budget"]),
                best_yield=float(item["best_yield"]),
                last_reason=item["last_reason"],
            )
            for item in self.service.queue()
        ]
        self.queue_pub.publish(msg.TargetQueue(targets=targets))

    def _on_submit(self, request: srv.SubmitTargets.Request, response: srv.SubmitTargets.Response) -> Any:
        try:
            document = yaml.safe_load(request.targets_yaml)
            with self._lock:
                result = self.service.submit(document)
        except (PowderLabError, yaml.YAMLError) as error:
            response.success, response.message = False, str(error)
            return response
        response.targets = [entry.formula for entry in result.accepted]
        response.success = not result.errors
        lines = [f"{len(result.accepted)} targets queued"]
        lines += [f"error: {e}" for e in result.errors] + [f"warning: {w}" for w in result.warnings]
        response.message = "\n".join(lines)
        self._publish()
        return response

    def _on_propose(self, request: srv.ProposeRecipe.Request, response: srv.ProposeRecipe.Response) -> Any:
        try:
            with self._lock:
                record = self.service.propose(request.target)
                queued = self.service.target(request.target)
        except PowderLabError as error:
            response.success, response.message = False, str(error)
            return response
        response.success = True
        response.has_recipe = record is not None
        if record is not None:
            response.recipe = recipe_to_msg(record.recipe)
            response.reason = record.reason
            response.message = f"proposed {record.recipe.recipe_id}"
        else:
            response.reason = queued.last_reason
            response.message = f"no recipe: {queued.status}"
        self._publish()
        return response

    def _on_report(self, request: srv.ReportOutcome.Request, response: srv.ReportOutcome.Response) -> Any:
        phases = [(p.phase_id or p.formula, float(p.weight_fraction)) for p in request.phases]
        try:
            with self._lock:
                queued = self.service.report(
                    request.target,
                    request.recipe_id,
                    None if request.failed else float(request.target_yield),
                    phases,
                    failure=(request.failure or "failed in the lab") if request.failed else "",
                )
        except PowderLabError as error:
            response.success, response.message = False, str(error)
            return response
        response.success, response.target_status = True, queued.status
        response.message = queued.last_reason
        self._publish()
        return response


class PlannerClient:
    """Client of the planner node on an existing, spinning node (e.g. LabClient.node)."""

    def __init__(self, node: Node, name: str = "planner") -> None:
        group = ReentrantCallbackGroup()
        self._submit = node.create_client(srv.SubmitTargets, f"{name}/submit_targets", callback_group=group)
        self._propose = node.create_client(srv.ProposeRecipe, f"{name}/propose_recipe", callback_group=group)
        self._report = node.create_client(srv.ReportOutcome, f"{name}/report_outcome", callback_group=group)
        self._queue: msg.TargetQueue | None = None
        self._event = threading.Event()
        node.create_subscription(msg.TargetQueue, f"{name}/target_queue", self._on_queue, LATCHED, callback_group=group)

    def _on_queue(self, message: msg.TargetQueue) -> None:
        self._queue = message
        self._event.set()

    def _call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise StationUnavailableError(f"service {client.srv_name} not available; is the planner node running?")
        return wait_future(client.call_async(request), timeout_s, client.srv_name)

    def submit(self, text: str, timeout_s: float = 60.0) -> srv.SubmitTargets.Response:
        return self._call(self._submit, srv.SubmitTargets.Request(targets_yaml=text), timeout_s)

    def propose(self, target: str, timeout_s: float = 60.0) -> srv.ProposeRecipe.Response:
        return self._call(self._propose, srv.ProposeRecipe.Request(target=target), timeout_s)

    def report(
        self,
        target: str,
        recipe_id: str,
        target_yield: float,
        phases: dict[str, float],
        failure: str = "",
        timeout_s: float = 60.0,
    ) -> srv.ReportOutcome.Response:
        request = srv.ReportOutcome.Request(
            target=target,
            recipe_id=recipe_id,
            failed=bool(failure),
            failure=failure,
            target_yield=float(target_yield),
            phases=[
                msg.PhaseFraction(phase_id=p, formula=p, weight_fraction=float(f), confidence=1.0)
                for p, f in phases.items()
            ],
        )
        return self._call(self._report, request, timeout_s)

    def queue(self, timeout_s: float = 10.0) -> msg.TargetQueue:
        if not self._event.wait(timeout_s) or self._queue is None:
            raise ValidationError("planner/target_queue", f"no message within {timeout_s:g} s")
        return self._queue


def main(args: list[str] | None = None) -> int:
    return run_node(PlannerNode, "planner_node", args, threads=4)


if __name__ == "__main__":
    sys.exit(main())
