"""Teleoperation through ROS: the keyboard map of `powderlab teleop` and a sensor_msgs/Joy node.

Both only send JogArm requests to the transfer station (`<transfer>/jog`), one short increment
each, so the station's rules apply and motion stops when the input stops:
- keyboard: one key press (or the terminal's auto-repeat while a key is held) = one step;
- joystick: one step per tick (rate_hz) only while the dead-man button is held and Joy messages
  keep coming (joy_timeout_s); release the button or unplug the pad and the steps stop.

Run the Joy node next to a `joy` driver: `python -m powderlab.nodes.teleop --ros-args -p arm:=arm_a`
(console script `joy_teleop`).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Joy

from powderlab.nodes.qos import WALL_CLOCK

FRAME_JOINT, FRAME_TOOL = 0, 1


@dataclass(frozen=True)
class JogStep:
    """One jog request: frame (0 joint, 1 tool), axis 0..5, signed speed -1..1."""

    frame: int
    axis: int
    speed: float


# Keyboard: two rows of six axes (like a teach pendant's +/- pairs). Lower case: joints in the
# joint frame; the same keys in upper case: the tool axes x, y, z, rx, ry, rz.
KEY_PLUS = "qwerty"
KEY_MINUS = "asdfgh"
KEY_HELP = """\
powderlab teleop: one key press = one short step (hold a key: the terminal repeats it).
  q w e r t y   joint 1..6 +        Q W E R T Y   tool x y z rx ry rz +
  a s d f g h   joint 1..6 -        A S D F G H   tool x y z rx ry rz -
  o / c         gripper open / close
  1 .. 9        speed 0.1 .. 0.9 (now {speed:.1f})
  p             move home (park)    x or Ctrl-C   quit
"""


def key_to_step(key: str, speed: float) -> JogStep | None:
    """The jog step of a key (None for keys that are not jog keys)."""
    lower = key.lower()
    if len(key) != 1 or lower not in KEY_PLUS + KEY_MINUS:
        return None
    frame = FRAME_TOOL if key.isupper() else FRAME_JOINT
    if lower in KEY_PLUS:
        return JogStep(frame, KEY_PLUS.index(lower), speed)
    return JogStep(frame, KEY_MINUS.index(lower), -speed)


@dataclass(frozen=True)
class JoyMapping:
    """How a gamepad drives the arm (defaults fit an Xbox-style pad under the ROS joy driver)."""

    deadman_button: int = 4  # hold LB to move
    tool_frame_button: int = 5  # hold RB as well: the axes move the tool instead of the joints
    gripper_open_button: int = 1
    gripper_close_button: int = 0
    axes: tuple[int, ...] = (0, 1, 3, 4, 6, 7)  # joystick axes -> joint 1..6 (or x, y, z, rx, ry, rz)
    deadzone: float = 0.15
    speed_scale: float = 1.0

    def step(self, joy: Joy) -> JogStep | None:
        """The jog step for one Joy message: the strongest axis beyond the deadzone, only with the dead-man held."""
        if not _pressed(joy, self.deadman_button):
            return None
        best: tuple[float, int] | None = None
        for jog_axis, joy_axis in enumerate(self.axes):
            if 0 <= joy_axis < len(joy.axes):
                value = float(joy.axes[joy_axis])
                if abs(value) > self.deadzone and (best is None or abs(value) > abs(best[0])):
                    best = (value, jog_axis)
        if best is None:
            return None
        frame = FRAME_TOOL if _pressed(joy, self.tool_frame_button) else FRAME_JOINT
        speed = max(-1.0, min(1.0, best[0] * self.speed_scale))
        return JogStep(frame, best[1], speed)


_DEFAULTS = JoyMapping()
JOY_PARAMETERS: dict[str, tuple[Any, str]] = {
    "arm": ("arm_a", "arm to move"),
    "transfer_node": ("transfer", "node that owns the arms (its jog and manual services)"),
    "joy_topic": ("joy", "sensor_msgs/Joy input"),
    "rate_hz": (10.0, "jog steps per second while the dead-man is held"),
    "joy_timeout_s": (0.5, "no Joy message for this long counts as the dead-man released"),
    "deadman_button": (_DEFAULTS.deadman_button, "button that must be held for any motion"),
    "tool_frame_button": (_DEFAULTS.tool_frame_button, "held with the dead-man: move the tool, not the joints"),
    "gripper_open_button": (_DEFAULTS.gripper_open_button, "button: open the gripper"),
    "gripper_close_button": (_DEFAULTS.gripper_close_button, "button: close the gripper"),
    "axes": (list(_DEFAULTS.axes), "joystick axes mapped to joint 1..6 / tool x, y, z, rx, ry, rz"),
    "deadzone": (_DEFAULTS.deadzone, "axis values below this are ignored"),
    "speed_scale": (_DEFAULTS.speed_scale, "jog speed fraction at full stick"),
}


def _pressed(joy: Joy, button: int) -> bool:
    return 0 <= button < len(joy.buttons) and bool(joy.buttons[button])


class JoyTeleop(Node):
    """Maps sensor_msgs/Joy to the transfer station's jog service with a dead-man button."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("joy_teleop", **kwargs)
        described = JOY_PARAMETERS
        values = {
            name: self.declare_parameter(name, default, ParameterDescriptor(description=text)).value
            for name, (default, text) in described.items()
        }
        self.arm = str(values["arm"])
        self.mapping = JoyMapping(
            int(values["deadman_button"]),
            int(values["tool_frame_button"]),
            int(values["gripper_open_button"]),
            int(values["gripper_close_button"]),
            tuple(int(a) for a in values["axes"]),
            float(values["deadzone"]),
            float(values["speed_scale"]),
        )
        self.timeout_s = float(values["joy_timeout_s"])
        from powderlab_interfaces import srv

        self._srv = srv
        group = ReentrantCallbackGroup()
        transfer = str(values["transfer_node"])
        self.jog_client = self.create_client(srv.JogArm, f"{transfer}/jog", callback_group=group)
        self.manual_client = self.create_client(srv.ManualCommand, f"{transfer}/manual", callback_group=group)
        self._last: tuple[float, Joy] | None = None
        self._buttons: list[int] = []
        self._in_flight = threading.Event()
        self.steps_sent = 0
        self.create_subscription(Joy, str(values["joy_topic"]), self._on_joy, 10, callback_group=group)
        self.create_timer(1.0 / float(values["rate_hz"]), self._tick, callback_group=group, clock=WALL_CLOCK)

    def _on_joy(self, joy: Joy) -> None:
        self._last = (time.monotonic(), joy)
        pressed = [int(b) for b in joy.buttons]
        for button, command in (
            (self.mapping.gripper_open_button, "gripper_open"),
            (self.mapping.gripper_close_button, "gripper_close"),
        ):
            was = button < len(self._buttons) and self._buttons[button]
            if _pressed(joy, button) and not was and _pressed(joy, self.mapping.deadman_button):
                self.manual_client.call_async(
                    self._srv.ManualCommand.Request(command=command, target=self.arm, source="joy")
                )
        self._buttons = pressed

    def _tick(self) -> None:
        if self._last is None or self._in_flight.is_set():
            return  # never queue steps: at most one in flight, so motion never outlives the input
        received, joy = self._last
        if time.monotonic() - received > self.timeout_s:
            return
        step = self.mapping.step(joy)
        if step is None or not self.jog_client.service_is_ready():
            return
        request = self._srv.JogArm.Request(
            arm=self.arm, frame=step.frame, axis=step.axis, speed=float(step.speed), source="joy"
        )
        self._in_flight.set()
        future = self.jog_client.call_async(request)
        future.add_done_callback(self._on_jogged)

    def _on_jogged(self, future: Any) -> None:
        self._in_flight.clear()
        self.steps_sent += 1
        response = future.result()
        if response is not None and not response.success:
            self.get_logger().warn(f"jog refused: {response.message}", throttle_duration_sec=2.0)


def main(args: list[str] | None = None) -> int:
    from powderlab.nodes.station_node import spin_node

    rclpy.init(args=args if args is not None else sys.argv)
    spin_node(JoyTeleop(), threads=4)
    return 0


if __name__ == "__main__":
    sys.exit(main())
