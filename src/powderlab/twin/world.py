"""The twin's world: one PyBullet scene, the labware in it, the process models and sim time.

Every access holds `world.lock`. Time advances only in `advance()`: a server's loop calls it
paced to a real-time factor (or as fast as possible); in manual mode (tests, the contract suite)
nothing moves until someone advances or waits, like a VirtualClock. Physics steps at the scene's
rate (240 Hz) only while something moves (an arm, a gripper, a settling body); otherwise time
jumps in coarse steps and only the process models integrate, so a four-hour dwell is cheap.

`World(...)` is where the cell is put together (the composition root): the modules of its parts
(arm, devices, chemistry, faults) import no world at run time, only its type, so the twin's import
graph has no cycle (tests/twin/test_import_graph.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
import pybullet
from pybullet_utils.bullet_client import BulletClient

from powderlab.chemistry.candidates import library_with_candidates
from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.site import SiteProfile
from powderlab.twin.arm import ArmModel
from powderlab.twin.chemistry import TwinChemistry
from powderlab.twin.clock import TwinClock
from powderlab.twin.devices import build_twin_devices
from powderlab.twin.faults import FaultInjector
from powderlab.twin.items import Item
from powderlab.twin.scene import Scene, urdf_path
from powderlab.twin.timeline import IDLE_STEP_S, Timeline

__all__ = ["MODES", "Steppable", "TwinClock", "World"]  # TwinClock lives in twin.clock; callers import it here too

MODES = ("physics", "kinematic")
MOTION_STEP_S = 0.05  # longest step of a kinematic-mode motion
MODEL_STEP_S = 0.05  # process models step at most this often while physics runs


class Steppable(Protocol):
    """A process model that integrates over time."""

    def step(self, time_s: float, dt: float) -> None: ...


class World(Timeline):
    """The cell: bodies, items, arms, device models, faults and the sim clock."""

    def __init__(
        self,
        site: SiteProfile | None = None,
        scene: Scene | None = None,
        mode: str = "kinematic",
        seed: int = 0,
        gui: bool = False,
        candidates: str | None = None,
    ) -> None:
        """candidates: a candidate library file (predicted structures of new targets, ADR 0109): the
        hidden world holds them too, and their hidden fates decide what forms and what is measured."""
        if mode not in MODES:
            raise ValidationError("twin mode", f"'{mode}' is not a mode; allowed: {', '.join(MODES)}")
        self.site = site or SiteProfile.load("default")
        self.scene = scene or Scene.load("cell")
        self.mode = mode
        self.seed = int(seed)
        super().__init__()
        self.physics_dt = 1.0 / self.scene.physics_hz
        self.physics_steps = 0
        self._model_dt = 0.0
        self.settle_until = 0.0
        self.client = BulletClient(connection_mode=pybullet.GUI if gui else pybullet.DIRECT)
        self.client.setGravity(0, 0, -9.81)
        self.client.setTimeStep(self.physics_dt)
        self.client.setPhysicsEngineParameter(numSolverIterations=20, deterministicOverlappingPairs=1)
        self.positions = self.scene.positions()
        self.bodies: dict[str, int] = {}  # fixed bodies by name (table, racks, stations, furnaces)
        self.items: dict[str, Item] = {}
        self.models: list[Steppable] = []
        self._hooks: list[Callable[[float], None]] = []
        # The parts, in this order: the arms need the loaded cell; the labware spawns after the arms
        # (body ids as before); devices and the fault injector need everything else.
        self._load_cell()
        self.arms: dict[str, ArmModel] = {
            name: ArmModel(self, name, placement) for name, placement in self.scene.arms.items()
        }
        self._checking = False
        if mode == "physics":
            for arm in self.arms.values():
                arm.set_link_contacts(False)
        self._spawn_labware()
        self.chemistry = TwinChemistry(self.seed, library_with_candidates(candidates) if candidates else None)
        self.devices: dict[str, Any] = {}
        build_twin_devices(self)
        self.faults = FaultInjector(self)

    # --- building ----------------------------------------------------------------------------
    def _load_cell(self) -> None:
        c = self.client
        self.bodies["table"] = c.loadURDF(urdf_path(self.scene.table), useFixedBase=True)
        for spec in self.scene.bodies:
            orientation = c.getQuaternionFromEuler([0, 0, spec.placement.yaw])
            self.bodies[spec.name] = c.loadURDF(
                urdf_path(spec.urdf), spec.placement.xyz, orientation, useFixedBase=True
            )

    def _spawn_labware(self) -> None:
        crucible = self.scene.raw.get("labware", {}).get("crucible", {})
        self.crucible_height = float(crucible.get("height", 0.04))
        self.crucible_radius = float(crucible.get("radius", 0.015))
        for position, labware in self.site.initial_labware.items():
            self.spawn(labware.labware_id, labware.kind.value, position, float(crucible.get("mass_mg", 25_000.0)))
        xrd = self.scene.body("xrd")
        holders = int(self.scene.raw.get("labware", {}).get("holder", {}).get("count", 8))
        first = np.array(xrd.extra.get("holder_magazine", (0.0, 0.08, 0.02)), dtype=float)
        pitch = float(xrd.extra.get("holder_pitch", 0.035))
        self.holder_slots = {}
        for i in range(holders):
            name = f"holder_{i + 1:02d}"
            point = xrd.placement.apply(first + np.array([i * pitch, 0.0, 0.0]))
            self.holder_slots[name] = point
            self.positions[f"xrd/magazine_{i + 1}"] = point
            self.spawn(name, "xrd_holder", f"xrd/magazine_{i + 1}", 2_000.0, dynamic=False)

    @contextlib.contextmanager
    def arm_contacts(self) -> Iterator[None]:
        """Arm links take part in contacts inside this block (always, in kinematic mode)."""
        if self.mode == "kinematic" or self._checking:
            yield
            return
        self._checking = True
        try:
            for arm in self.arms.values():
                arm.set_link_contacts(True)
            yield
        finally:
            for arm in self.arms.values():
                arm.set_link_contacts(False)
            self._checking = False

    def spawn(self, labware_id: str, kind: str, position: str, empty_mg: float, dynamic: bool = True) -> Item:
        """Put a new item at a position (its base on the position's base point)."""
        if position not in self.positions:
            raise UnknownResourceError("scene position", position, sorted(self.positions))
        urdf = {"crucible": "crucible.urdf", "vial": "vial.urdf", "xrd_holder": "xrd_holder.urdf"}[kind]
        point = self.positions[position]
        body = self.client.loadURDF(urdf_path(urdf), point + np.array([0.0, 0.0, 0.0005]), useFixedBase=not dynamic)
        item = Item(labware_id, kind, body, position, empty_mg=empty_mg)
        item.mass_kg = float(self.client.getDynamicsInfo(body, -1)[0])
        if dynamic:
            self.client.changeDynamics(body, -1, lateralFriction=1.0)
            self.freeze(item)
        self.items[labware_id] = item
        return item

    def freeze(self, item: Item) -> None:
        """An item at rest sleeps as a static body (no solver cost); it wakes when touched by a gripper."""
        self.client.changeDynamics(item.body, -1, mass=0.0)

    def wake(self, item: Item) -> None:
        self.client.changeDynamics(item.body, -1, mass=item.mass_kg)

    # --- queries -------------------------------------------------------------------------------
    def item_at(self, position: str) -> Item | None:
        for item in self.items.values():
            if item.position == position:
                return item
        return None

    def item_pose(self, item: Item) -> tuple[np.ndarray, tuple[float, ...]]:
        position, orientation = self.client.getBasePositionAndOrientation(item.body)
        return np.array(position), orientation

    def slot_error_m(self, item: Item, position: str) -> float:
        """Distance of the item's base centre from a position's base point."""
        return float(np.linalg.norm(self.item_pose(item)[0] - self.positions[position]))

    def nearest_position(self, point: np.ndarray, tolerance_m: float = 0.012) -> str | None:
        best, best_distance = None, tolerance_m
        for name, base in self.positions.items():
            distance = float(np.linalg.norm(point - base))
            if distance < best_distance:
                best, best_distance = name, distance
        return best

    def body_name(self, body: int) -> str:
        for name, uid in self.bodies.items():
            if uid == body:
                return name
        for name, arm in self.arms.items():
            if arm.body == body:
                return name
        for item in self.items.values():
            if item.body == body:
                return item.labware_id
        return f"body {body}"

    def add_hook(self, hook: Callable[[float], None]) -> None:
        """Call hook(time) after every advance step (fault schedules)."""
        self._hooks.append(hook)

    # --- time ----------------------------------------------------------------------------------
    def moving(self) -> bool:
        return any(arm.moving() for arm in self.arms.values()) or self.time < self.settle_until

    def step_grid_s(self) -> float:
        if self.moving():
            return self.physics_dt if self.mode == "physics" else MOTION_STEP_S
        return IDLE_STEP_S

    def _next_dt(self, remaining: float) -> float:
        dt = min(self._to_grid(self.step_grid_s()), remaining)
        if self.moving() and self.mode != "physics":
            dt = min(dt, self._next_motion_event() or dt)  # a motion ends exactly when it ends
        return dt

    def _manual_step(self) -> float:
        if self.moving():
            return self.physics_dt if self.mode == "physics" else MOTION_STEP_S
        return IDLE_STEP_S

    def _next_motion_event(self) -> float | None:
        remaining = [arm.remaining_s() for arm in self.arms.values() if arm.moving()]
        remaining = [r for r in remaining if r > 1e-9]
        return min(remaining) if remaining else None

    def _step(self, dt: float) -> None:
        t = self.time + dt
        for arm in self.arms.values():
            arm.update(t)
        if self.mode == "physics" and self.moving():
            self.client.stepSimulation()
            self.physics_steps += 1
        self._model_dt += dt
        if self._model_dt >= MODEL_STEP_S - 1e-12 or not self.moving():
            for model in self.models:  # process models integrate at up to 20 Hz, not at the physics rate
                model.step(t, self._model_dt)
            self._model_dt = 0.0
        self.time = t
        for hook in self._hooks:
            hook(t)

    def close(self) -> None:
        with self.lock:
            try:
                self.client.disconnect()
            except pybullet.error:
                pass
