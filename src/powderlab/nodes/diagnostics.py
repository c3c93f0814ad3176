"""A station and its devices as diagnostic_msgs/DiagnosticArray on /diagnostics (REP 107).

One array per station node per status tick (wall time, status_period_s, 1 s by default): a
status for the station itself, named ``powderlab: <station>``, and one per device of its site
profile, named ``powderlab: <station>/<device>``, with a hardware_id (the device's endpoint on a
real site, else backend:station/device) and key values (link state, the driver's readings such
as temperatures, its fault, the station's lifecycle state and last error). Levels:

- OK: connected, no fault; the station active, idle or busy.
- WARN: the station paused or not active (configured but inactive).
- ERROR: e-stop, a station fault, a device fault or a lost link while configured.
- STALE: no driver to ask (the station is unconfigured or finalized): the devices of the
  profile are listed with what is known of them, so a monitor shows them greyed, not missing.

A diagnostic aggregator or rqt_robot_monitor on a lab computer reads this as it reads any ROS
driver's diagnostics; the dashboard shows the same array (nodes.lab_monitor).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import Header

from powderlab.core.site import DeviceConfig, StationConfig
from powderlab.drivers.base import DeviceStatus
from powderlab.nodes.conversions import stamp
from powderlab.stations.base import StationMode, StationStatusData
from powderlab.stations.furnace import FurnaceReading

DIAGNOSTICS_TOPIC = "/diagnostics"
NAME_PREFIX = "powderlab: "
# The REP 107 levels as ints (rclpy's DiagnosticStatus constants are one-byte bytes objects).
OK, WARN, ERROR, STALE = (
    level[0] for level in (DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR, DiagnosticStatus.STALE)
)
LEVEL_NAMES = {OK: "OK", WARN: "WARN", ERROR: "ERROR", STALE: "STALE"}
# Endpoint keys of a device's `connection:` in a site profile, most specific first.
ENDPOINT_KEYS = ("endpoint", "port", "host", "address", "url")


@dataclass(frozen=True)
class LastError:
    """The last operation of a station that did not succeed (for the diagnostics' key values)."""

    operation_id: str
    code: str
    message: str
    lab_time_s: float

    def text(self) -> str:
        return f"{self.operation_id}: {self.code}: {self.message}"


def level_byte(level: int) -> bytes:
    """DiagnosticStatus.level is a byte field: rclpy takes it as a one-byte bytes object."""
    return bytes([level])


def level_value(level: bytes | int) -> int:
    return level[0] if isinstance(level, bytes) else int(level)


def hardware_id(station: str, device: DeviceConfig, backend: str) -> str:
    """The device's endpoint on a real site (its protocol and port or URL), else backend:station/device."""
    connection: Mapping[str, Any] = device.connection or {}
    for key in ENDPOINT_KEYS:
        value = connection.get(key)
        if value:
            protocol = connection.get("protocol", "")
            endpoint = os.path.expandvars(str(value))  # ${POWDERLAB_EMULATOR_DIR} and the like, as the driver sees it
            return f"{protocol}:{endpoint}" if protocol else endpoint
    controller = connection.get("controller")
    if isinstance(controller, Mapping) and controller.get("port"):
        return f"{connection.get('protocol', '')}:{os.path.expandvars(str(controller['port']))}".lstrip(":")
    return f"{backend}:{station}/{device.name}"


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = "nan" if math.isnan(value) else f"{value:.6g}"
    else:
        text = str(value)
    return KeyValue(key=key, value=text)


def _status(level: int, name: str, message: str, hw_id: str, values: Sequence[KeyValue]) -> DiagnosticStatus:
    return DiagnosticStatus(level=level_byte(level), name=name, message=message, hardware_id=hw_id, values=list(values))


def station_level(lifecycle: str, status: StationStatusData | None, active: bool) -> tuple[int, str]:
    """The station's own level and message."""
    if status is None:
        return STALE, f"not configured (lifecycle {lifecycle})"
    if status.mode is StationMode.ESTOPPED:
        return ERROR, f"e-stopped: {status.message}"
    if status.mode is StationMode.FAULT:
        return ERROR, f"fault: {status.message}"
    if not active:
        return WARN, f"inactive (lifecycle {lifecycle})"
    if status.mode is StationMode.PAUSED:
        return WARN, "paused"
    if status.mode is StationMode.BUSY:
        return OK, f"busy: {status.operation}"
    return OK, "idle"


def device_level(device: DeviceStatus) -> tuple[int, str]:
    """A device's level and message from its driver's status."""
    if not device.connected:
        return ERROR, f"link down{': ' + device.fault if device.fault else ''}"
    if int(device.fault_code) or device.fault:
        return ERROR, f"fault: {device.fault or device.state}"
    return OK, device.state


def station_diagnostics(
    config: StationConfig,
    backend: str,
    lifecycle: str,
    active: bool,
    now_s: float,
    status: StationStatusData | None,
    furnaces: Sequence[FurnaceReading] = (),
    last_error: LastError | None = None,
) -> DiagnosticArray:
    """The DiagnosticArray of one station and every device of its site profile."""
    station_name = f"{NAME_PREFIX}{config.name}"
    level, message = station_level(lifecycle, status, active)
    by_name = {d.name: d for d in status.devices} if status is not None else {}
    readings = {f.name: f for f in furnaces}
    devices: list[DiagnosticStatus] = []
    worst_device = OK
    for device_config in config.devices.values():
        hw_id = hardware_id(config.name, device_config, backend)
        name = f"{station_name}/{device_config.name}"
        device = by_name.get(device_config.name)
        if device is None:
            values = [_kv("kind", device_config.kind), _kv("link", "unknown"), _kv("backend", backend)]
            devices.append(_status(STALE, name, "no driver (station not configured)", hw_id, values))
            continue
        device_lvl, device_message = device_level(device)
        worst_device = max(worst_device, device_lvl)
        values = [
            _kv("kind", device.kind),
            _kv("link", "up" if device.connected else "down"),
            _kv("state", device.state),
            _kv("backend", backend),
        ]
        values += [_kv(key, value) for key, value in sorted(device.values.items())]
        reading = readings.get(device.name)
        if reading is not None:
            values += [
                _kv("setpoint_c", reading.setpoint_c),
                _kv("heater_on", reading.heater_on),
                _kv("program_running", reading.program_running),
                _kv("segment_index", reading.segment_index),
                _kv("slots_occupied", f"{reading.slots_occupied}/{reading.slot_count}"),
            ]
            if "temperature_c" not in device.values:
                values.append(_kv("temperature_c", reading.temperature_c))
        values.append(_kv("last_error", device.fault))
        devices.append(_status(device_lvl, name, device_message, hw_id, values))
    if status is not None and worst_device == ERROR and level < ERROR:
        level, message = ERROR, f"{message}; a device is in error"
    station_values = [
        _kv("kind", config.kind),
        _kv("lifecycle_state", lifecycle),
        _kv("mode", status.mode.name.lower() if status is not None else "inactive"),
        _kv("backend", backend),
        _kv("operation", status.operation if status is not None else ""),
        _kv("sample", status.sample.sample_id if status is not None else ""),
        _kv("last_error", last_error.text() if last_error else ""),
        _kv("last_error_lab_time_s", last_error.lab_time_s if last_error else ""),
    ]
    array = DiagnosticArray(header=Header(stamp=stamp(now_s)))
    array.status = [_status(level, station_name, message, f"{backend}:{config.name}", station_values), *devices]
    return array


def summary(status: DiagnosticStatus) -> dict[str, Any]:
    """One DiagnosticStatus as plain data (the dashboard's JSON)."""
    return {
        "name": status.name,
        "level": LEVEL_NAMES.get(level_value(status.level), str(level_value(status.level))),
        "message": status.message,
        "hardware_id": status.hardware_id,
        "values": {kv.key: kv.value for kv in status.values},
    }
