"""The cell layout as data: sim/scenes/<name>.yaml -> where every body and position stands."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.resources import data_path


@dataclass(frozen=True)
class Placement:
    """A body's base in the world: position (m) and yaw (rad)."""

    xyz: tuple[float, float, float]
    yaw: float = 0.0

    def apply(self, local: tuple[float, float, float] | np.ndarray) -> np.ndarray:
        """A point given in this body's frame, in world coordinates."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        x, y, z = (float(v) for v in local)
        return np.array([self.xyz[0] + c * x - s * y, self.xyz[1] + s * x + c * y, self.xyz[2] + z])


@dataclass(frozen=True)
class BodySpec:
    """A fixed body of the cell (rack, station, furnace) with the positions it offers."""

    name: str
    urdf: str
    placement: Placement
    positions: Mapping[str, np.ndarray] = field(default_factory=dict)  # position name -> base point (world)
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scene:
    """A parsed scene file."""

    name: str
    physics_hz: float
    table: str
    arms: Mapping[str, Placement]
    arm_urdf: Mapping[str, str]
    bodies: tuple[BodySpec, ...]
    furnaces: tuple[str, ...]
    raw: Mapping[str, Any]

    def positions(self) -> dict[str, np.ndarray]:
        """Every position's base point (where an item's bottom centre rests), in world coordinates."""
        out: dict[str, np.ndarray] = {}
        for body in self.bodies:
            out.update(body.positions)
        return out

    def body(self, name: str) -> BodySpec:
        for body in self.bodies:
            if body.name == name:
                return body
        raise UnknownResourceError("scene body", name, [b.name for b in self.bodies])

    def setting(self, section: str, key: str, default: float) -> float:
        return float((self.raw.get(section) or {}).get(key, default))

    @staticmethod
    def load(name_or_path: str | Path = "cell") -> Scene:
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = data_path("sim", "scenes", f"{name_or_path}.yaml")
        if not path.is_file():
            raise ValidationError("scene", f"no scene file at {path}")
        return parse_scene(yaml.safe_load(path.read_text()))


def _placement(data: Mapping[str, Any], key: str = "origin") -> Placement:
    xyz = tuple(float(v) for v in data.get(key, (0.0, 0.0, 0.0)))
    if len(xyz) != 3:
        raise ValidationError(key, f"expected [x, y, z], got {xyz}")
    return Placement(xyz, math.radians(float(data.get("yaw_deg", 0.0))))  # type: ignore[arg-type]


def _grid(placement: Placement, rows: int, cols: int, pitch: float, z: float) -> list[np.ndarray]:
    points = []
    for row in range(rows):
        for col in range(cols):
            local = ((col - (cols - 1) / 2) * pitch, (row - (rows - 1) / 2) * pitch, z)
            points.append(placement.apply(local))
    return points


def parse_scene(data: Mapping[str, Any]) -> Scene:
    """Build a Scene from plain data."""
    if not isinstance(data, Mapping) or "arms" not in data:
        raise ValidationError("scene", "must be a mapping with 'arms', 'racks', 'stations', 'furnaces'")
    arms = {name: _placement(spec, "base") for name, spec in data["arms"].items()}
    arm_urdf = {name: str(spec["urdf"]) for name, spec in data["arms"].items()}
    bodies: list[BodySpec] = []
    for name, spec in (data.get("racks") or {}).items():
        placement = _placement(spec)
        grid = _grid(placement, int(spec["rows"]), int(spec["cols"]), float(spec["pitch"]), 0.0)
        bodies.append(BodySpec(name, spec["urdf"], placement, {f"{name}/{i + 1}": p for i, p in enumerate(grid)}))
    for name, spec in (data.get("stations") or {}).items():
        placement = _placement(spec)
        positions = {f"{name}/{pos}": placement.apply(local) for pos, local in (spec.get("positions") or {}).items()}
        bodies.append(BodySpec(name, spec["urdf"], placement, positions, dict(spec)))
    furnaces = []
    for name, spec in (data.get("furnaces") or {}).items():
        placement = _placement(spec)
        grid = _grid(placement, int(spec["rows"]), int(spec["cols"]), float(spec["pitch"]), float(spec["floor"]))
        bodies.append(BodySpec(name, spec["urdf"], placement, {f"{name}/slot_{i + 1}": p for i, p in enumerate(grid)}))
        furnaces.append(name)
    return Scene(
        str(data.get("name", "cell")),
        float(data.get("physics_hz", 240.0)),
        str(data.get("table", "table.urdf")),
        arms,
        arm_urdf,
        tuple(bodies),
        tuple(furnaces),
        dict(data),
    )


def urdf_path(name: str) -> str:
    """A file under urdf/ (installed with the package's data files)."""
    return str(data_path("urdf", name))
