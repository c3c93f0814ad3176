"""The arm's controller in the twin: the Arm contract over an ArmModel."""

from __future__ import annotations

import math

import numpy as np

from powderlab.core.errors import DeviceError, ErrorCode, ProtectiveStopError, ValidationError
from powderlab.core.units import require_range
from powderlab.drivers.arm import JOINT_COUNT, Arm, GripperState, Height, NotReachableError
from powderlab.drivers.base import DeviceStatus
from powderlab.twin.arm import HOME, JOINT_LIMIT_RAD, ArmModel
from powderlab.twin.devices.base import TwinDevice


class TwinArm(TwinDevice, Arm):
    """Plans in the world, refuses blocked paths before moving, waits for the motion in sim time.

    The base joint of a move to a position stays within the one turn whose ends point at the other
    arm, so a motion between two positions only this arm serves never sweeps across the space
    between the arms (it turns round through the arm's own side, never by a full turn); that space
    is entered only on the way to or from a shared position, whose zone the transfer station's arm
    coordinator grants (ADR 0080).
    """

    @property
    def model(self) -> ArmModel:
        return self.world.arms[self.name]

    def _other_arms(self) -> set[int]:
        return set()

    def _check_motion(self, speed: float) -> None:
        require_range("speed", speed, 0.01, 1.0)
        if self.model.protective_stop:
            raise ProtectiveStopError(self.name, "in protective stop; clear the cause and reset the arm")
        self.model.require_free()

    def _run(self, waypoints: list[np.ndarray], speed: float, ignore: set[int], what: str) -> None:
        with self.world.lock:
            hits = self.model.check_path(waypoints, ignore)
            if hits:
                raise DeviceError(self.name, f"collision: the path to {what} would hit {', '.join(hits)}; not moved")
            self.model.lost_object = False
            self.model.interrupted = False
            self.model.start(waypoints, speed)
        self.world.wait_until(lambda: self.model.motion is None, 3600.0)
        if self.model.interrupted:
            # As the real controller does: a stopped command ends CANCELED, never as if it arrived.
            raise DeviceError(self.name, f"stopped on the way to {what} (stop command); not there", ErrorCode.CANCELED)
        if self.model.protective_stop:
            raise ProtectiveStopError(
                self.name, f"protective stop on the way to {what}; clear the cause and reset the arm"
            )
        if self.model.lost_object:
            raise DeviceError(self.name, f"gripper lost the object on the way to {what} (object detection dropped)")

    def safe_stop(self) -> None:
        with self.world.lock:
            if self.model.motion is not None:
                self.model.motion, self.model.interrupted = None, True

    def joint_positions(self) -> list[float]:
        return [float(v) for v in self.model.q]

    def move_joints(self, joints: list[float], speed: float = 0.5) -> None:
        if len(joints) != JOINT_COUNT:
            raise ValidationError("joints", f"expected {JOINT_COUNT} joint angles, got {len(joints)}")
        for index, angle in enumerate(joints):
            require_range(f"joint {index + 1}", angle, -JOINT_LIMIT_RAD, JOINT_LIMIT_RAD, "rad")
        self._check_motion(speed)
        self._run([self.model.q.copy(), np.array(joints, dtype=float)], speed, set(), "the joint target")

    def move_home(self, speed: float = 0.5) -> None:
        self._check_motion(speed)
        home = self.model.nearest_turn(np.array(HOME), self.model.q)  # the home pose, without a full turn
        self._run([self.model.q.copy(), home], speed, set(), "home")

    def _own_turn(self, q: np.ndarray) -> np.ndarray:
        """q with the base joint turned into the window (front - 2 pi, front], front pointing at the other arm.

        The window's ends are the only base angles that point the arm at the other one, so a
        motion between two targets inside it never sweeps across the other arm's side.
        """
        others = [a.placement.xyz for name, a in self.world.arms.items() if name != self.name]
        if not others:
            return q
        local = self.model.to_base(np.asarray(others[0], dtype=float))
        front = math.atan2(local[1], local[0]) + math.pi  # the base angle that points the tool at it
        turned = np.array(q, dtype=float)
        turned[0] = front - (front - turned[0]) % (2 * math.pi)
        if abs(turned[0]) > JOINT_LIMIT_RAD:  # a window past a limit (not in the reference cell): as planned
            return np.array(q, dtype=float)
        return turned

    def _round_by_home(self, waypoints: list[np.ndarray]) -> list[np.ndarray]:
        """The same motion by way of home (the base joint turns through the arm's own side)."""
        home = self.model.nearest_turn(np.array(HOME), waypoints[0])
        first = self.model.nearest_turn(waypoints[1], home)
        shift = first - waypoints[1]  # whole turns: the rest of the path keeps its shape
        return [waypoints[0], home, first, *(w + shift for w in waypoints[2:])]

    def move_to(self, position: str, height: Height, speed: float = 0.5) -> None:
        self._check_motion(speed)
        self.check_reach(position)
        if position not in self.world.positions:
            raise NotReachableError(f"position in the twin's scene for arm '{self.name}'", position, [])
        model, height = self.model, Height(height)
        with self.world.lock:
            here = model.tcp_world()
            goal = model.tcp_point(position, height)
            grasp = model.tcp_point(position, Height.GRASP)
            above = model.tcp_point(position, Height.APPROACH)
            item = self.world.item_at(position)
            ignore = {item.body} if item is not None and model.held is None else set()
            try:
                near = [float(np.linalg.norm(here - p)) < 0.003 for p in (grasp, above)]
                if near[0] or near[1] or np.linalg.norm(here - goal) < 0.003:  # the way up or down here
                    waypoints = model.cartesian(model.q.copy(), goal, here)
                else:
                    target = self._own_turn(model.solve(goal))
                    waypoints = [model.q.copy(), target]
                    if height is Height.GRASP:
                        target_above = self._own_turn(model.solve(above))
                        waypoints = [model.q.copy(), target_above, *model.cartesian(target_above, grasp, above)[1:]]
            except ValidationError as error:
                raise NotReachableError(f"pose for arm '{self.name}' ({error})", position, self.serves) from None
            if height is Height.APPROACH:
                # An approach is only useful if the way down is clear (e.g. the furnace door is open).
                down = model.cartesian(waypoints[-1], grasp, above)
                hits = model.check_path(down, ignore)
                if hits:
                    raise DeviceError(
                        self.name, f"collision: the way down into {position} is blocked by {', '.join(hits)}; not moved"
                    )
            if model.check_path(waypoints, ignore) and len(waypoints) >= 2:
                waypoints = self._round_by_home(waypoints)
        self._run(waypoints, speed, ignore, position)

    def gripper(self) -> GripperState:
        model = self.model
        opening = 1.0 - model.finger / model.travel_m
        return GripperState(round(opening, 3), model.finger > 1e-4, model.held is not None)

    def set_gripper(self, closed: bool) -> GripperState:
        if self.model.protective_stop:
            raise ProtectiveStopError(self.name, "in protective stop; clear the cause and reset the arm")
        model = self.model
        with self.world.lock:
            if closed == (model.finger > 1e-4):
                return self.gripper()
            if closed:
                candidate = model.begin_close()
            else:
                released = model.begin_open()
        self.world.wait_until(lambda: not model.moving(), 60.0)
        with self.world.lock:
            if closed:
                model.finish_close(candidate)
            elif released is not None:
                self.world.wait_until(lambda: self.world.time >= self.world.settle_until, 10.0)
                model.settle(released)
            return self.gripper()

    def stop(self) -> None:
        self.safe_stop()

    def reset(self) -> None:
        self.model.protective_stop = False

    # --- faults ------------------------------------------------------------------------------
    def drop_next_carry(self, fraction: float) -> None:
        """Fault: the held object slips at `fraction` of the next carrying move."""
        with self.world.lock:
            self.model.pending_drop_at = float(fraction)

    def stop_during_next_move(self, fraction: float) -> None:
        """Fault: a protective stop at `fraction` of the next move (reset() clears it)."""
        with self.world.lock:
            self.model.pending_stop_at = float(fraction)

    def clear_faults(self) -> None:
        with self.world.lock:
            super().clear_faults()
            self.model.pending_drop_at = self.model.pending_stop_at = None

    def status(self) -> DeviceStatus:
        model = self.model
        values: dict[str, float | str | bool] = {f"joint_{i + 1}": round(float(a), 4) for i, a in enumerate(model.q)}
        values.update({"gripper_closed": model.finger > 1e-4, "holding": model.held.labware_id if model.held else ""})
        state = "protective_stop" if model.protective_stop else ("moving" if model.motion else "idle")
        code = ProtectiveStopError.code if model.protective_stop else 0
        return DeviceStatus(self.name, self.kind, True, state, fault_code=code, values=values)
