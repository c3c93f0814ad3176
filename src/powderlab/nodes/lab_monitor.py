"""Everything a technician watches, followed over ROS and kept as plain data (the dashboard bridge).

LabMonitor subscribes, on a LabClient's node, to every station's status, the lab's health,
e-stop and positions, the XRD stations' patterns, the alarm log (/rosout at WARN and above), a
camera image topic, and the autonomy node's campaign progress and analyses. snapshot() returns it
all as JSON-ready data; the web layer (powderlab.dashboard) never touches rclpy.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from powderlab_interfaces import msg
from rcl_interfaces.msg import Log
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image

from powderlab.drivers.kinematics import Pose, forward
from powderlab.nodes.diagnostics import DIAGNOSTICS_TOPIC
from powderlab.nodes.diagnostics import summary as diagnostic_summary
from powderlab.nodes.lab_client import LabClient
from powderlab.nodes.qos import ESTOP_TOPIC, HEALTH_TOPIC, LATCHED, POSITIONS_TOPIC

MODE_NAMES = {0: "inactive", 1: "idle", 2: "busy", 3: "paused", 4: "estopped", 5: "fault"}
DOOR_NAMES = {0: "closed", 1: "open", 2: "moving", 3: "fault"}
LEVEL_NAMES = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}
CAMERA_ENCODINGS = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}


@dataclass(frozen=True)
class MonitorSettings:
    """Topics the monitor follows (relative names stay inside the lab's namespace)."""

    camera_topic: str = "camera/image_raw"
    campaign_topic: str = "autonomy/progress"
    analysis_topic: str = "autonomy/analysis"
    history_points: int = 720  # per furnace
    patterns_kept: int = 8
    alarms_kept: int = 200
    alarm_level: int = 30  # WARN
    diagnostics_stale_s: float = 5.0  # wall seconds without a diagnostic status: shown STALE


@dataclass(frozen=True)
class CameraFrame:
    """The latest camera image: raw pixels and how to read them."""

    number: int
    width: int
    height: int
    encoding: str
    data: bytes
    stamp: float


def _time(stamp: Any) -> float:
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _number(value: float) -> float | None:
    return None if math.isnan(value) or math.isinf(value) else round(float(value), 4)


def _parse_value(text: str) -> Any:
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text)
    except ValueError:
        return text


class LabMonitor:
    """Live, thread-safe view of one lab for the dashboard."""

    def __init__(self, client: LabClient, settings: MonitorSettings | None = None) -> None:
        self.client = client
        self.settings = settings or MonitorSettings()
        self.node = client.node
        self._lock = threading.Lock()
        self.version = 0
        self._statuses: dict[str, msg.StationStatus] = {}
        self._followed: set[str] = set()
        self._health: msg.LabHealth | None = None
        self._estop: msg.EStopState | None = None
        self._positions: msg.PositionTable | None = None
        self._history: dict[str, deque[tuple[float, float | None, float | None]]] = {}
        self._patterns: deque[dict[str, Any]] = deque(maxlen=self.settings.patterns_kept)
        self._pattern_ids = 0
        self._analyses: dict[str, dict[str, Any]] = {}
        self._alarms: deque[dict[str, Any]] = deque(maxlen=self.settings.alarms_kept)
        self._campaign: tuple[float, msg.CampaignProgress] | None = None
        self._camera: CameraFrame | None = None
        # REP 107 diagnostics of every station and device: the latest status by name, with when it came
        self._diagnostics: dict[str, tuple[float, dict[str, Any]]] = {}
        group = client._group
        node = self.node
        node.create_subscription(msg.LabHealth, HEALTH_TOPIC, self._on_health, LATCHED, callback_group=group)
        node.create_subscription(msg.EStopState, ESTOP_TOPIC, self._on_estop, LATCHED, callback_group=group)
        node.create_subscription(msg.PositionTable, POSITIONS_TOPIC, self._on_positions, LATCHED, callback_group=group)
        node.create_subscription(Log, "/rosout", self._on_log, QoSProfile(depth=100), callback_group=group)
        node.create_subscription(
            DiagnosticArray, DIAGNOSTICS_TOPIC, self._on_diagnostics, QoSProfile(depth=50), callback_group=group
        )
        node.create_subscription(
            Image, self.settings.camera_topic, self._on_image, qos_profile_sensor_data, callback_group=group
        )
        node.create_subscription(
            msg.CampaignProgress, self.settings.campaign_topic, self._on_campaign, LATCHED, callback_group=group
        )
        node.create_subscription(
            msg.XrdAnalysis, self.settings.analysis_topic, self._on_analysis, 10, callback_group=group
        )

    def _bump(self) -> None:
        self.version += 1

    # --- stations (discovered from the lab manager's health report) ---

    def follow(self, station: str) -> None:
        """Follow a station's status (and its patterns: harmless for stations that publish none)."""
        with self._lock:
            if station in self._followed:
                return
            self._followed.add(station)
        group = self.client._group
        self.node.create_subscription(
            msg.StationStatus, f"{station}/status", self._on_status, LATCHED, callback_group=group
        )
        self.node.create_subscription(
            msg.XrdPattern,
            f"{station}/pattern",
            lambda m, s=station: self._on_pattern(s, m),
            LATCHED,
            callback_group=group,
        )

    def _on_health(self, message: msg.LabHealth) -> None:
        for node in message.nodes:
            self.follow(node.name.rsplit("/", 1)[-1])
        with self._lock:
            self._health = message
            self._bump()

    def _on_estop(self, message: msg.EStopState) -> None:
        with self._lock:
            self._estop = message
            self._bump()

    def _on_positions(self, message: msg.PositionTable) -> None:
        with self._lock:
            self._positions = message
            self._bump()

    def _on_status(self, message: msg.StationStatus) -> None:
        with self._lock:
            self._statuses[message.station] = message
            now = _time(message.stamp)
            for furnace in message.furnaces:
                history = self._history.setdefault(furnace.name, deque(maxlen=self.settings.history_points))
                if history and now <= history[-1][0]:
                    continue
                history.append((now, _number(furnace.temperature_c), _number(furnace.setpoint_c)))
            self._bump()

    def _on_pattern(self, station: str, message: msg.XrdPattern) -> None:
        with self._lock:
            self._pattern_ids += 1
            self._patterns.append(
                {
                    "id": self._pattern_ids,
                    "station": station,
                    "sample_id": message.sample_id,
                    "holder_id": message.holder_id,
                    "instrument": message.instrument,
                    "wavelength_angstrom": message.wavelength_angstrom,
                    "stamp": _time(message.stamp),
                    "two_theta_deg": [round(v, 4) for v in message.two_theta_deg],
                    "intensity": [round(v, 2) for v in message.intensity],
                }
            )
            self._bump()

    def _on_analysis(self, message: msg.XrdAnalysis) -> None:
        with self._lock:
            self._analyses[message.sample_id] = {
                "sample_id": message.sample_id,
                "target": message.target,
                "target_yield": message.target_yield,
                "residual": message.residual,
                "unknown_phase_suspected": message.unknown_phase_suspected,
                "phases": [
                    {
                        "phase_id": p.phase_id,
                        "formula": p.formula,
                        "weight_fraction": p.weight_fraction,
                        "confidence": p.confidence,
                    }
                    for p in message.phases
                ],
            }
            self._bump()

    def _on_log(self, message: Log) -> None:
        if message.level < self.settings.alarm_level:
            return
        with self._lock:
            self._alarms.append(
                {
                    "time": _time(message.stamp),
                    "level": LEVEL_NAMES.get(message.level, str(message.level)),
                    "node": message.name,
                    "message": message.msg,
                }
            )
            self._bump()

    def _on_diagnostics(self, message: DiagnosticArray) -> None:
        now = time.time()
        with self._lock:
            for status in message.status:
                self._diagnostics[status.name] = (now, diagnostic_summary(status))
            self._bump()

    def _on_campaign(self, message: msg.CampaignProgress) -> None:
        with self._lock:
            self._campaign = (time.monotonic(), message)
            self._bump()

    def _on_image(self, message: Image) -> None:
        if message.encoding not in CAMERA_ENCODINGS:
            return
        with self._lock:
            number = self._camera.number + 1 if self._camera else 1
            self._camera = CameraFrame(
                number,
                message.width,
                message.height,
                message.encoding,
                bytes(message.data),
                _time(message.header.stamp),
            )
            self._bump()

    # --- reading ---

    def camera(self) -> CameraFrame | None:
        with self._lock:
            return self._camera

    def pattern(self, pattern_id: int) -> dict[str, Any] | None:
        with self._lock:
            for pattern in self._patterns:
                if pattern["id"] == pattern_id:
                    return {**pattern, "analysis": self._analyses.get(pattern["sample_id"])}
        return None

    def history(self) -> dict[str, list[list[float | None]]]:
        """Per furnace: [times (lab s), temperatures (C), setpoints (C)]."""
        with self._lock:
            return {
                name: [list(column) for column in zip(*points, strict=True)] for name, points in self._history.items()
            }

    def snapshot(self) -> dict[str, Any]:
        """Everything but the large series (history(), pattern(id), camera())."""
        with self._lock:
            stations = {name: self._station(status) for name, status in sorted(self._statuses.items())}
            arms = {}
            for status in self._statuses.values():
                for device in status.devices:
                    if device.kind == "arm":
                        arms[device.name] = self._arm(status.station, device)
            furnaces = [
                {
                    "name": f.name,
                    "station": status.station,
                    "door": DOOR_NAMES.get(f.door, str(f.door)),
                    "temperature_c": _number(f.temperature_c),
                    "setpoint_c": _number(f.setpoint_c),
                    "heater_on": f.heater_on,
                    "program_running": f.program_running,
                    "segment_index": f.segment_index,
                    "slot_count": f.slot_count,
                    "slots_occupied": f.slots_occupied,
                }
                for status in self._statuses.values()
                for f in status.furnaces
            ]
            health = self._health
            return {
                "version": self.version,
                "lab_time": max((_time(s.stamp) for s in self._statuses.values()), default=0.0),
                "estop": {
                    "engaged": bool(self._estop.engaged) if self._estop else bool(health and health.estop_engaged),
                    "reason": self._estop.reason if self._estop else "",
                    "source": self._estop.source if self._estop else "",
                },
                "health": {
                    "seen": health is not None,
                    "all_active": bool(health.all_active) if health else False,
                    "nodes": [
                        {
                            "name": n.name,
                            "lifecycle": n.lifecycle_state,
                            "alive": n.alive,
                            "mode": MODE_NAMES.get(n.mode),
                        }
                        for n in (health.nodes if health else [])
                    ],
                },
                "stations": stations,
                "arms": arms,
                "furnaces": furnaces,
                "positions": [
                    {
                        "name": p.name,
                        "kind": p.kind,
                        "state": ("empty", "occupied", "locked")[p.state] if p.state < 3 else str(p.state),
                        "labware_id": p.labware_id,
                        "labware_kind": p.labware_kind,
                        "sample_id": p.sample_id,
                        "locked_by": p.locked_by,
                    }
                    for p in (self._positions.positions if self._positions else [])
                ],
                "campaign": self._campaign_data(),
                "patterns": [
                    {k: p[k] for k in ("id", "station", "sample_id", "holder_id", "stamp")}
                    | {"analysed": p["sample_id"] in self._analyses}
                    for p in self._patterns
                ],
                "alarms": list(self._alarms),
                "diagnostics": self._diagnostics_data(),
                "camera": (
                    {"number": self._camera.number, "width": self._camera.width, "height": self._camera.height}
                    if self._camera
                    else None
                ),
            }

    def _diagnostics_data(self) -> list[dict[str, Any]]:
        """Every station's and device's latest diagnostic status; one not heard from for a while is STALE
        (as a diagnostic aggregator marks it), its last message kept."""
        now = time.time()
        out = []
        for _, (seen, status) in sorted(self._diagnostics.items()):
            age = now - seen
            stale = age > self.settings.diagnostics_stale_s
            out.append({**status, "age_s": round(age, 1), "level": "STALE" if stale else status["level"]})
        return out

    @staticmethod
    def _station(status: msg.StationStatus) -> dict[str, Any]:
        return {
            "name": status.station,
            "kind": status.kind,
            "lifecycle": status.lifecycle_state,
            "mode": MODE_NAMES.get(status.mode, str(status.mode)),
            "operation": status.operation,
            "goal_id": status.goal_id,
            "sample_id": status.sample.sample_id,
            "labware_id": status.sample.labware_id,
            "message": status.message,
            "devices": [
                {
                    "name": d.name,
                    "kind": d.kind,
                    "connected": d.connected,
                    "state": d.state,
                    "fault": d.fault,
                    "values": {kv.key: _parse_value(kv.value) for kv in d.values},
                }
                for d in status.devices
            ],
        }

    @staticmethod
    def _arm(station: str, device: msg.DeviceStatus) -> dict[str, Any]:
        values = {kv.key: kv.value for kv in device.values}
        joints = []
        for index in range(1, 7):
            try:
                joints.append(float(values[f"joint_{index}"]))
            except (KeyError, ValueError):
                break
        pose = Pose.from_matrix(forward(joints)) if len(joints) == 6 else None
        return {
            "name": device.name,
            "station": station,
            "state": device.state,
            "fault": device.fault,
            "joints": joints,
            "tool_pose": [round(v, 4) for v in (pose.x, pose.y, pose.z, pose.rx, pose.ry, pose.rz)] if pose else [],
            "gripper_closed": values.get("gripper_closed") == "True",
            "at": values.get("at", ""),
        }

    def _campaign_data(self) -> dict[str, Any] | None:
        if self._campaign is None:
            return None
        _, progress = self._campaign
        if self.node.count_publishers(self.settings.campaign_topic) == 0:
            return None  # the autonomy node is gone: its last (latched) word is history
        if not progress.campaign or progress.state in ("", "idle"):
            return None
        return {
            "campaign_id": progress.campaign,
            "state": progress.state,
            "message": "; ".join(progress.reasons),
            "targets": list(progress.targets),
            "samples_total": progress.samples_total,
            "samples_done": progress.samples_done,
            "samples_failed": progress.samples_failed,
            "samples": [
                {
                    "sample_id": s.sample_id,
                    "target": s.target,
                    "recipe_id": s.recipe_id,
                    "state": s.state,
                    "stage": s.stage,
                    "station": s.station,
                    "target_yield": s.target_yield,
                }
                for s in progress.samples
            ],
        }
