"""The keyboard map and the Joy mapping (dead-man, deadzone, strongest axis, tool frame)."""

import pytest
from sensor_msgs.msg import Joy

from powderlab.nodes.teleop import FRAME_JOINT, FRAME_TOOL, JogStep, JoyMapping, key_to_step


@pytest.mark.parametrize(
    ("key", "step"),
    [
        ("q", JogStep(FRAME_JOINT, 0, 0.5)),
        ("h", JogStep(FRAME_JOINT, 5, -0.5)),
        ("E", JogStep(FRAME_TOOL, 2, 0.5)),
        ("D", JogStep(FRAME_TOOL, 2, -0.5)),
        ("z", None),
        ("", None),
    ],
)
def test_keys(key, step):
    assert key_to_step(key, 0.5) == step


def joy(axes=(0.0,) * 8, buttons=(0,) * 8):
    return Joy(axes=[float(a) for a in axes], buttons=list(buttons))


def test_no_motion_without_the_deadman():
    mapping = JoyMapping()
    assert mapping.step(joy(axes=(1.0, 0, 0, 0, 0, 0, 0, 0))) is None


def test_strongest_axis_wins_and_the_deadzone_is_ignored():
    mapping = JoyMapping(speed_scale=0.5)
    held = [0] * 8
    held[4] = 1
    assert mapping.step(joy(axes=(0.1, 0, 0, 0, 0, 0, 0, 0), buttons=held)) is None
    step = mapping.step(joy(axes=(0.3, -0.9, 0, 0, 0, 0, 0, 0), buttons=held))
    assert step == JogStep(FRAME_JOINT, 1, pytest.approx(-0.45))
    tool = list(held)
    tool[5] = 1
    assert mapping.step(joy(axes=(0, 0, 0, 0.8, 0, 0, 0, 0), buttons=tool)) == JogStep(
        FRAME_TOOL, 2, pytest.approx(0.4)
    )


def test_short_joy_messages_do_not_crash():
    mapping = JoyMapping()
    assert mapping.step(Joy(axes=[1.0], buttons=[])) is None
