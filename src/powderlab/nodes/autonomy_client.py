"""Talk to the autonomy node from a script or the CLI: submit targets, pause, resume, follow progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from powderlab_interfaces import msg, srv
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from powderlab.autonomy.model import Progress, SampleProgress
from powderlab.core.errors import DeviceTimeoutError, StationUnavailableError, ValidationError
from powderlab.nodes.conversions import stamp
from powderlab.nodes.futures import wait_future
from powderlab.nodes.qos import LATCHED

COUNTS = (
    "targets_total",
    "targets_made",
    "targets_failed",
    "targets_active",
    "experiments_done",
    "experiments_planned",
    "samples_total",
    "samples_done",
    "samples_failed",
    "samples_in_flight",
    "operations_in_flight",
)
SAMPLE_FIELDS = ("sample_id", "target", "recipe_id", "state", "stage", "station")


def progress_from_msg(message: msg.CampaignProgress) -> Progress:
    """The campaign's progress from its topic message."""
    return Progress(
        campaign=message.campaign,
        state=message.state,
        reasons=list(message.reasons),
        targets=list(message.targets),
        **{name: int(getattr(message, name)) for name in COUNTS},
        sim_time_s=message.sim_time_s,
        sim_elapsed_s=message.sim_elapsed_s,
        eta_s=None if message.eta_s < 0 else message.eta_s,
        samples=[
            SampleProgress(**{name: getattr(s, name) for name in SAMPLE_FIELDS}, target_yield=s.target_yield)
            for s in message.samples
        ],
    )


def progress_to_msg(progress: Progress, planner: str, analyzer: str) -> msg.CampaignProgress:
    """The topic message of the campaign's progress."""
    return msg.CampaignProgress(
        stamp=stamp(progress.sim_time_s),
        campaign=progress.campaign,
        state=progress.state,
        reasons=list(progress.reasons),
        planner=planner,
        analyzer=analyzer,
        targets=list(progress.targets),
        **{name: int(getattr(progress, name)) for name in COUNTS},
        sim_time_s=float(progress.sim_time_s),
        sim_elapsed_s=float(progress.sim_elapsed_s),
        eta_s=float(-1.0 if progress.eta_s is None else progress.eta_s),
        samples=[
            msg.SampleProgress(**{name: getattr(s, name) for name in SAMPLE_FIELDS}, target_yield=float(s.target_yield))
            for s in progress.samples
        ],
    )


class AutonomyClient:
    """Client of the autonomy node (`autonomy/...` in the lab's namespace) on an existing, spinning node."""

    def __init__(self, node: Node, name: str = "autonomy") -> None:
        self.node = node
        group = ReentrantCallbackGroup()
        self._submit = node.create_client(srv.SubmitTargets, f"{name}/submit_targets", callback_group=group)
        self._control = node.create_client(srv.CampaignControl, f"{name}/control", callback_group=group)
        self._latest: msg.CampaignProgress | None = None
        self._event = threading.Event()
        node.create_subscription(
            msg.CampaignProgress, f"{name}/progress", self._on_progress, LATCHED, callback_group=group
        )

    def _on_progress(self, message: msg.CampaignProgress) -> None:
        self._latest = message
        self._event.set()

    def _call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise StationUnavailableError(f"service {client.srv_name} not available; is the autonomy node running?")
        return wait_future(client.call_async(request), timeout_s, client.srv_name)

    def submit_yaml(self, text: str, timeout_s: float = 30.0) -> list[str]:
        response = self._call(self._submit, srv.SubmitTargets.Request(targets_yaml=text), timeout_s)
        if not response.success:
            raise ValidationError("targets", response.message)
        return list(response.targets)

    def submit_file(self, path: str | Path, timeout_s: float = 30.0) -> list[str]:
        return self.submit_yaml(Path(path).read_text(), timeout_s)

    def pause(self, reason: str = "", timeout_s: float = 10.0) -> str:
        request = srv.CampaignControl.Request(command=srv.CampaignControl.Request.PAUSE, reason=reason)
        return self._call(self._control, request, timeout_s).message

    def resume(self, timeout_s: float = 10.0) -> str:
        request = srv.CampaignControl.Request(command=srv.CampaignControl.Request.RESUME)
        return self._call(self._control, request, timeout_s).message

    def progress(self, timeout_s: float = 0.0) -> Progress | None:
        self._event.wait(timeout_s)
        return progress_from_msg(self._latest) if self._latest is not None else None

    def wait_finished(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        max_sim_s: float | None = None,
        timeout_s: float = 24 * 3600.0,
        alive: Callable[[], bool] | None = None,
    ) -> Progress:
        """Block until the campaign reports finished (with at least one target) or aborted."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            progress = self.progress(0.5)
            if progress is not None:
                if on_progress is not None:
                    on_progress(progress)
                if progress.state == "finished" and progress.targets_total:
                    return progress
                if progress.state == "aborted":  # the reason is in progress.reasons
                    return progress
                if max_sim_s is not None and progress.sim_elapsed_s > max_sim_s:
                    raise DeviceTimeoutError("campaign", f"not finished after {max_sim_s:g} s of lab time")
            if alive is not None and not alive():
                raise StationUnavailableError("the autonomy node exited")
            time.sleep(0.2)
        raise DeviceTimeoutError("campaign", f"not finished within {timeout_s:g} wall seconds")
