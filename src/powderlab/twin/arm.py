"""One UR5e arm with its gripper in the twin: IK, checked joint trajectories, real grasps.

Targets come from the shared UR5e kinematics (powderlab.drivers.kinematics), so the twin and the
real arm agree on joints. Every motion is planned as joint waypoints and checked, sample by
sample, against the cell, the labware and the other arm before the arm moves; a blocked path is
refused with nothing moved. Grasps are physical: in physics mode the fingers close under motor
force and a fixed constraint holds the item once both fingers touch it; in kinematic mode the
item is found between the fingers and carried at its relative pose (no dynamics, same checks).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pybullet
from scipy.spatial.transform import Rotation

from powderlab.core.errors import DeviceError, ErrorCode, ValidationError
from powderlab.drivers.arm import Height
from powderlab.drivers.kinematics import REACH_M, UR5E_D, Pose, analytic_solutions, forward
from powderlab.twin.items import Item
from powderlab.twin.scene import Placement, urdf_path

if TYPE_CHECKING:
    from powderlab.twin.world import World

log = logging.getLogger(__name__)

HOME = [0.0, -1.9, 1.9, -1.57, -1.5708, 0.0]
JOINTS = 6
FLANGE_LINK = 6
FINGER_JOINTS = (7, 8)
ARM_JOINTS = (0, 1, 2, 3, 4, 5)
ALL_JOINTS = (*ARM_JOINTS, *FINGER_JOINTS)
PENETRATION_M = 0.001  # contacts deeper than this are collisions
CHECK_STEP_RAD = 0.04  # joint-space spacing of collision samples
GRIPPER_TIME_S = 0.4
CLEAR_M = 0.05
SHARED_APPROACH_BACK_M = 0.14
FINGER_SPEED_M_S = 0.06
JOINT_LIMIT_RAD = 2 * np.pi  # every UR5e joint turns +-360 degrees
IK_TOLERANCE_M = 1e-6  # a closed-form solution must put the flange this close


@dataclass
class Motion:
    """A timed joint trajectory through waypoints (smooth start and stop on each segment)."""

    waypoints: list[np.ndarray]
    times: list[float]  # absolute sim time at each waypoint

    def at(self, t: float) -> np.ndarray:
        if t >= self.times[-1]:
            return self.waypoints[-1]
        for i in range(1, len(self.times)):
            if t < self.times[i]:
                span = self.times[i] - self.times[i - 1]
                u = 0.0 if span <= 0 else (t - self.times[i - 1]) / span
                s = u * u * (3 - 2 * u)
                return self.waypoints[i - 1] + s * (self.waypoints[i] - self.waypoints[i - 1])
        return self.waypoints[-1]

    def progress(self, t: float) -> float:
        total = self.times[-1] - self.times[0]
        return 1.0 if total <= 0 else min(1.0, max(0.0, (t - self.times[0]) / total))


class ArmModel:
    """The arm as a PyBullet multibody plus its controller state."""

    def __init__(self, world: World, name: str, placement: Placement) -> None:
        self.world, self.name, self.placement = world, name, placement
        c = world.client
        self._cid = c._client
        self.body = c.loadURDF(
            urdf_path(world.scene.arm_urdf[name]),
            placement.xyz,
            c.getQuaternionFromEuler([0, 0, placement.yaw]),
            useFixedBase=True,
        )
        for link in (-1, 0):  # the base stands on the table
            c.setCollisionFilterPair(self.body, world.bodies["table"], link, -1, 0)
        gripper = world.scene.raw.get("gripper", {})
        self.tcp_m = float(gripper.get("tcp", 0.065))
        self.approach_m = float(gripper.get("approach", 0.12))
        self.travel_m = float(gripper.get("travel", 0.018))
        self.open_half_gap = float(gripper.get("open_half_gap", 0.021))
        self.max_speed = world.scene.setting("arm", "max_joint_speed", 1.2)
        self.settle_s = world.scene.setting("arm", "settle_s", 0.3)
        self.q = np.array(HOME, dtype=float)
        self.finger = 0.0  # 0 open .. travel closed
        self.finger_target = 0.0
        self._fingers = [0.0, 0.0]
        self.held: Item | None = None
        self._held_offset: tuple[tuple[float, ...], tuple[float, ...]] | None = None
        self._constraint: int | None = None
        self.motion: Motion | None = None
        self.gripper_busy_until = 0.0
        self.protective_stop = False
        self.lost_object = False
        self.interrupted = False  # the last motion was stopped before its end (stop command)
        self.pending_stop_at: float | None = None  # fault: protective stop at this fraction of a move
        self.pending_drop_at: float | None = None  # fault: the held item slips at this fraction
        for joint in range(JOINTS):
            c.changeDynamics(self.body, joint, linearDamping=0, angularDamping=0)
        for joint in FINGER_JOINTS:
            c.changeDynamics(self.body, joint, lateralFriction=1.5)
        # Joints follow the controller (reset every physics step); no default motors fighting it.
        movable = [*range(JOINTS), *FINGER_JOINTS]
        c.setJointMotorControlArray(self.body, movable, c.VELOCITY_CONTROL, forces=[0.0] * len(movable))
        self._apply(self.q)
        self._set_fingers(0.0, reset=True)

    # --- geometry ----------------------------------------------------------------------------
    def to_base(self, point: np.ndarray) -> np.ndarray:
        c, s = math.cos(self.placement.yaw), math.sin(self.placement.yaw)
        d = np.asarray(point, dtype=float) - np.asarray(self.placement.xyz)
        return np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], d[2]])

    def tcp_point(self, position: str, height: Height) -> np.ndarray:
        """World point of the tool centre for a position and height."""
        base = self.world.positions[position]
        point = base + np.array([0.0, 0.0, self.world.crucible_height / 2])
        if Height(height) is Height.GRASP:
            return point
        point = point + np.array([0.0, 0.0, self.approach_m])
        if len(self.world.site.arms_serving(position)) > 1:
            # A shared position (handover): the taught approach leans back towards this arm's base,
            # so an arm waiting above it leaves the way down free for the other arm.
            towards = np.asarray(self.placement.xyz) - base
            towards[2] = 0.0
            point = point + SHARED_APPROACH_BACK_M * towards / max(float(np.linalg.norm(towards)), 1e-9)
        return point

    def flange_pose(self, tcp_world: np.ndarray) -> Pose:
        """The flange pose (base frame) that puts the tool centre at tcp_world, pointing down."""
        local = self.to_base(tcp_world)
        yaw = math.atan2(local[1], local[0])
        rotation = Rotation.from_euler("z", yaw) * Rotation.from_euler("x", math.pi)
        flange = local - rotation.apply([0.0, 0.0, self.tcp_m])
        rx, ry, rz = rotation.as_rotvec()
        return Pose(float(flange[0]), float(flange[1]), float(flange[2]), float(rx), float(ry), float(rz))

    def seed_for(self, tcp_world: np.ndarray) -> np.ndarray:
        local = self.to_base(tcp_world)
        return np.array([math.atan2(local[1], local[0]) + math.pi, -1.9, 1.9, -1.57, -1.5708, 0.0])

    def solve(self, tcp_world: np.ndarray, seed: np.ndarray | None = None) -> np.ndarray:
        """Joints for a tool centre point (NOT_REACHABLE when no solution).

        The closed-form UR5e solutions (up to 8 branches), each at its turn nearest the
        reference, and the one nearest the reference wins: the seed (the previous point of a
        path: no branch flips along it), else a pose facing the point with the home elbow
        (elbow up). The numerical solver was most of the twin's work in a campaign.
        """
        pose = self.flange_pose(tcp_world)
        reference = np.asarray(seed if seed is not None else self.seed_for(tcp_world), dtype=float)
        goal = pose.matrix()
        best, best_distance = None, math.inf
        for solution in analytic_solutions(goal):
            q = self.nearest_turn(solution, reference)
            flange = forward(q)
            if flange[2, 3] <= -0.5 or np.max(np.abs(flange[:3, 3] - goal[:3, 3])) > IK_TOLERANCE_M:
                continue
            distance = float(np.linalg.norm(q - reference))
            if distance < best_distance:
                best, best_distance = q, distance
        if best is None:
            reach = float(np.linalg.norm(goal[:3, 3] - [0.0, 0.0, UR5E_D[0]]))
            raise ValidationError(
                "pose",
                f"no joint solution: {reach:.3f} m from the shoulder (the UR5e reaches {REACH_M} m)",
                code=ErrorCode.NOT_REACHABLE,
            )
        return best if seed is not None else self.nearest_turn(best, self.q)

    @staticmethod
    def nearest_turn(q: np.ndarray, reference: np.ndarray) -> np.ndarray:
        """The same pose with each joint the turn nearest the reference within the joint limits.

        No 2 pi detours, and never a turn past a limit: clipping one would be a different pose
        (a joint 1 clipped from -7.2 to -6.28 rad put the tool 40 cm from where it was sent).
        """
        q, reference = np.asarray(q, dtype=float), np.asarray(reference, dtype=float)
        turns = q[None, :] + 2 * np.pi * np.arange(-2, 3)[:, None]  # every turn of each joint
        allowed = np.abs(turns) <= JOINT_LIMIT_RAD + 1e-9
        distance = np.where(allowed, np.abs(turns - reference[None, :]), np.inf)
        return turns[np.argmin(distance, axis=0), np.arange(q.size)]

    def flange_world(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        state = self.world.client.getLinkState(self.body, FLANGE_LINK, computeForwardKinematics=True)
        return state[4], state[5]

    def tcp_world(self) -> np.ndarray:
        position, orientation = self.flange_world()
        return np.array(position) + Rotation.from_quat(orientation).apply([0.0, 0.0, self.tcp_m])

    # --- state -------------------------------------------------------------------------------
    def _apply(self, q: np.ndarray) -> None:
        self._set_joints(q)
        if self.held is not None and self._constraint is None:
            self._carry()

    def _set_joints(self, q: np.ndarray) -> None:
        """All six joints in one call (the hot path of physics mode)."""
        pybullet.resetJointStatesMultiDof(self.body, ARM_JOINTS, [[float(v)] for v in q], physicsClientId=self._cid)

    def _set_all(self, q: np.ndarray) -> None:
        """Arm joints and fingers in one call (physics mode: every step)."""
        values = [[float(v)] for v in q] + [[v] for v in self._fingers]
        pybullet.resetJointStatesMultiDof(self.body, ALL_JOINTS, values, physicsClientId=self._cid)

    def _carry(self) -> None:
        """Kinematic carrying: put the held item at its offset from the flange."""
        assert self.held is not None and self._held_offset is not None
        c = self.world.client
        flange = self.flange_world()
        position, orientation = c.multiplyTransforms(flange[0], flange[1], *self._held_offset)
        c.resetBasePositionAndOrientation(self.held.body, position, orientation)
        c.resetBaseVelocity(self.held.body, [0, 0, 0], [0, 0, 0])

    def _set_fingers(self, closing: float, reset: bool = False) -> None:
        """Command the fingers; in physics mode they travel at FINGER_SPEED and stop on contact."""
        self.finger_target = closing
        if reset or self.world.mode == "kinematic" or closing < min(self._fingers):
            self._fingers = [closing, closing]
            for joint in FINGER_JOINTS:
                self.world.client.resetJointState(self.body, joint, closing)

    def _step_fingers(self, dt: float) -> None:
        """Close each finger until it touches something (a real contact, not a teleport)."""
        c = self.world.client
        for index, joint in enumerate(FINGER_JOINTS):
            if self._fingers[index] >= self.finger_target:
                continue
            if c.getContactPoints(bodyA=self.body, linkIndexA=joint):
                continue  # touching: the finger stops
            self._fingers[index] = min(self.finger_target, self._fingers[index] + FINGER_SPEED_M_S * dt)
            c.resetJointState(self.body, joint, self._fingers[index])

    def finger_positions(self) -> list[float]:
        return list(self._fingers)

    def moving(self) -> bool:
        return self.motion is not None or self.world.time < self.gripper_busy_until

    def remaining_s(self) -> float:
        ends = [self.gripper_busy_until - self.world.time]
        if self.motion is not None:
            ends.append(self.motion.times[-1] - self.world.time)
        return max(0.0, *ends)

    def update(self, t: float) -> None:
        """Follow the trajectory at time t (called by the world on every step)."""
        if self.world.mode == "physics":
            if self.world.time < self.gripper_busy_until:
                self._step_fingers(t - self.world.time)
            if self.motion is None:  # a position-controlled arm holds still
                self._set_all(self.q)
        if self.motion is None:
            if self.held is not None and self._constraint is None:
                self._carry()
            return
        progress = self.motion.progress(t)
        if self.pending_drop_at is not None and self.held is not None and progress >= self.pending_drop_at:
            self.pending_drop_at = None
            self.drop()
        if self.pending_stop_at is not None and progress >= self.pending_stop_at:
            self.pending_stop_at = None
            self.q = self.motion.at(t)
            self._apply(self.q)
            self.motion, self.protective_stop = None, True
            return
        self.q = np.array(self.motion.at(t))
        if self.world.mode == "physics":
            self._set_all(self.q)
        else:
            self._apply(self.q)
        if t >= self.motion.times[-1]:
            self.motion = None

    # --- collision checking ------------------------------------------------------------------
    def obstacles_hit(self, q: np.ndarray, ignore: set[int]) -> list[str]:
        """Names of what the arm (and its held item) would penetrate at joints q."""
        with self.world.arm_contacts():
            return self._obstacles_hit(q, ignore)

    def _obstacles_hit(self, q: np.ndarray, ignore: set[int]) -> list[str]:
        c = self.world.client
        saved = self.q.copy()
        held_pose = None
        if self.held is not None:
            held_pose = c.getBasePositionAndOrientation(self.held.body)
        self._set_joints(q)
        if self.held is not None and self._held_offset is not None:
            flange = self.flange_world()
            position, orientation = c.multiplyTransforms(flange[0], flange[1], *self._held_offset)
            c.resetBasePositionAndOrientation(self.held.body, position, orientation)
        c.performCollisionDetection()
        hits: set[str] = set()
        own = {self.body} | ({self.held.body} if self.held else set())
        table = self.world.bodies["table"]
        for body in own:
            for point in c.getContactPoints(bodyA=body):
                other, link, depth = point[2], point[3], point[8]
                if other in own or other in ignore or depth > -PENETRATION_M:
                    continue
                if body == self.body and link in (-1, 0) and other == table:
                    continue  # the base stands on the table
                hits.add(self.world.body_name(other))
        self._set_joints(saved)
        if held_pose is not None:
            c.resetBasePositionAndOrientation(self.held.body, *held_pose)
        return sorted(hits)

    def check_path(self, waypoints: list[np.ndarray], ignore: set[int]) -> list[str]:
        """Collisions anywhere along joint waypoints (sampled every CHECK_STEP_RAD)."""
        hits: set[str] = set()
        with self.world.arm_contacts():
            for a, b in pairwise(waypoints):
                count = max(1, int(np.ceil(np.max(np.abs(b - a)) / CHECK_STEP_RAD)))
                for i in range(1, count + 1):
                    hits.update(self.obstacles_hit(a + (b - a) * i / count, ignore))
        return sorted(hits)

    def set_link_contacts(self, on: bool) -> None:
        """Arm links (not the fingers) in or out of contact computation.

        The arm is position-controlled and its paths are checked before it moves, so physics never
        needs the links' contacts (they cost most of a step); checks switch them back on.
        """
        group, mask = (1, 0x7FFFFFFF) if on else (0, 0)
        for link in (-1, *ARM_JOINTS, FLANGE_LINK):
            pybullet.setCollisionFilterGroupMask(self.body, link, group, mask, physicsClientId=self._cid)

    # --- motion ------------------------------------------------------------------------------
    def start(self, waypoints: list[np.ndarray], speed: float) -> Motion:
        times = [self.world.time]
        for a, b in pairwise(waypoints):
            times.append(times[-1] + max(0.2, float(np.max(np.abs(b - a))) / (self.max_speed * speed)))
        self.motion = Motion([np.array(w) for w in waypoints], times)
        return self.motion

    def cartesian(self, start: np.ndarray, goal_tcp: np.ndarray, from_tcp: np.ndarray) -> list[np.ndarray]:
        """Joint waypoints along the tool's way between an approach and a grasp (either direction).

        The tool first leaves (or last enters) the grasp pose vertically by CLEAR_M, so open
        fingers never sweep sideways past the item, then goes straight to the other end.
        """
        low, high = (goal_tcp, from_tcp) if goal_tcp[2] < from_tcp[2] else (from_tcp, goal_tcp)
        clear = low + np.array([0.0, 0.0, min(CLEAR_M, max(0.0, high[2] - low[2]))])
        line = [from_tcp, clear, goal_tcp]
        points = [start]
        for a, b in pairwise(line):
            steps = max(1, int(np.ceil(np.linalg.norm(b - a) / 0.02)))
            for i in range(1, steps + 1):
                points.append(self.solve(a + (b - a) * i / steps, points[-1]))
        return points

    # --- gripper -----------------------------------------------------------------------------
    def _labware_distances(self, tcp: np.ndarray) -> list[tuple[Item, float]]:
        """Each loose crucible or vial (not the held one, not XRD holders) and its centre's distance from tcp."""
        lift = np.array([0.0, 0.0, self.world.crucible_height / 2])
        return [
            (item, float(np.linalg.norm(self.world.item_pose(item)[0] + lift - tcp)))
            for item in self.world.items.values()
            if item.kind != "xrd_holder" and item is not self.held
        ]

    def item_between_fingers(self) -> Item | None:
        tcp = self.tcp_world()
        nearest = min(self._labware_distances(tcp), key=lambda pair: pair[1], default=None)
        if nearest is not None and nearest[1] < 0.008:
            return nearest[0]
        if nearest is None:
            why = "no labware in the cell"
        else:
            why = f"the nearest labware, {nearest[0].labware_id}, is {nearest[1] * 1000:.1f} mm away"
        log.warning("%s: nothing between the fingers at %s; %s", self.name, np.round(tcp, 4), why)
        return None

    def begin_close(self) -> Item | None:
        """Start closing; returns the item that is between the fingers (if any)."""
        candidate = self.item_between_fingers()
        if self.world.mode == "kinematic":
            closing = self.open_half_gap - self.world.crucible_radius if candidate else self.travel_m
            self._set_fingers(closing)
            self.finger = closing
        else:
            self._set_fingers(self.travel_m)
        self.gripper_busy_until = self.world.time + GRIPPER_TIME_S
        return candidate

    def finish_close(self, candidate: Item | None) -> bool:
        """After the fingers moved: hold the candidate if both fingers touch it (physics) or it is there."""
        c = self.world.client
        if candidate is None:
            self.finger = self.travel_m
            return False
        if self.world.mode == "physics":
            touching = [bool(c.getContactPoints(self.body, candidate.body, linkIndexA=j)) for j in FINGER_JOINTS]
            self.finger = float(np.mean(self.finger_positions()))
            if not all(touching):
                return False
            self.world.wake(candidate)
            flange = self.flange_world()
            inverse_flange = c.invertTransform(*flange)
            pose = c.getBasePositionAndOrientation(candidate.body)
            offset = c.multiplyTransforms(*inverse_flange, *pose)
            self._constraint = c.createConstraint(
                self.body, FLANGE_LINK, candidate.body, -1, c.JOINT_FIXED, [0, 0, 0], offset[0], [0, 0, 0], offset[1]
            )
            c.changeConstraint(self._constraint, maxForce=200.0)
            self._held_offset = (offset[0], offset[1])
        else:
            flange = self.flange_world()
            inverse_flange = c.invertTransform(*flange)
            self._held_offset = c.multiplyTransforms(*inverse_flange, *c.getBasePositionAndOrientation(candidate.body))
        self.held, candidate.position = candidate, None
        return True

    def begin_open(self) -> Item | None:
        """Open the fingers and let go; returns the released item."""
        released = self.held
        self._let_go()
        self._set_fingers(0.0)
        self.finger = 0.0
        self.gripper_busy_until = self.world.time + GRIPPER_TIME_S
        if released is not None and self.world.mode == "physics":
            self.world.settle_until = max(self.world.settle_until, self.world.time + GRIPPER_TIME_S + self.settle_s)
        return released

    def _let_go(self) -> None:
        if self._constraint is not None:
            self.world.client.removeConstraint(self._constraint)
        self._constraint, self._held_offset, self.held = None, None, None

    def settle(self, item: Item) -> None:
        """Where a released item came to rest: a position near its base, else dropped."""
        point = self.world.item_pose(item)[0]
        position = self.world.nearest_position(point)
        self.world.freeze(item)
        if position is not None and self.world.item_at(position) is None:
            if self.world.mode == "kinematic":
                self.world.client.resetBasePositionAndOrientation(
                    item.body, self.world.positions[position] + np.array([0.0, 0.0, 0.0005]), [0, 0, 0, 1]
                )
            item.position, item.dropped = position, False
        else:
            log.warning(
                "%s released %s at %s, not on a free position (nearest: %s); it is dropped",
                self.name,
                item.labware_id,
                np.round(point, 4),
                position,
            )
            item.position, item.dropped = None, True
            if self.world.mode == "kinematic":
                self.world.client.resetBasePositionAndOrientation(item.body, [point[0], point[1], 0.0005], [0, 0, 0, 1])

    def drop(self) -> None:
        """The held item slips out of the gripper (fault)."""
        item = self.held
        if item is None:
            return
        self._let_go()
        self.lost_object = True
        item.position, item.dropped = None, True
        if self.world.mode == "physics":
            self.world.settle_until = max(self.world.settle_until, self.world.time + 1.0)
        else:
            point = self.world.item_pose(item)[0]
            self.world.client.resetBasePositionAndOrientation(item.body, [point[0], point[1], 0.0005], [0, 0, 0, 1])

    def require_free(self) -> None:
        if self.motion is not None:
            raise DeviceError(self.name, "already moving; one motion at a time")
