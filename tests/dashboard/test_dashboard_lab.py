"""The dashboard over a real lab (node processes), through its HTTP API: access, logging, every
command kind, campaign, camera and XRD seams, and teleoperation from the keyboard and a Joy pad."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest
from PIL import Image as PilImage
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, Joy
from std_srvs.srv import SetBool

from powderlab.core.errors import ErrorCode
from powderlab.nodes.qos import LATCHED
from tests.dashboard.conftest import CAMERA_TOPIC, USER, Api, joints
from tests.ros.conftest import sample, transfer_goal

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def test_reading_is_open_and_commands_need_a_login(dashboard_lab, api):
    state = api.state()
    assert set(state["stations"]) == {"transfer", "dosing", "milling", "furnaces", "xrd"}
    assert state["user"] is None and state["users_configured"]
    assert {a for a in state["arms"]} == {"arm_a", "arm_b"} and len(state["arms"]["arm_a"]["joints"]) == 6
    assert any(p["name"] == "storage/1" and p["labware_id"] == "crucible_01" for p in state["positions"])
    assert "<title>PowderLab dashboard</title>" in api.get("").decode()
    assert b"uPlot" in api.get("static/uPlot.iife.min.js")

    before = joints(dashboard_lab.client, "arm_a")
    status, refused = api.post(
        "api/command", {"command": "jog", "arm": "arm_a", "frame": "joint", "axis": 0, "speed": 1.0}
    )
    assert status == 401 and "log in" in refused["message"]
    status, _ = api.login(USER, "wrong-password")
    assert status == 401
    status, _ = api.post("api/login", {"user": USER, "password": "alice-password"}, csrf=False)
    assert status == 403  # a cross-site form cannot log in
    time.sleep(0.5)
    assert joints(dashboard_lab.client, "arm_a") == before
    entries = [json.loads(line) for line in dashboard_lab.command_log.read_text().splitlines()]
    assert any(e["command"] == "jog" and e["user"].startswith("anonymous@") and not e["ok"] for e in entries)


def test_commands_are_logged_with_their_user_and_reach_the_station_log(dashboard_lab, api):
    status, answer = api.login()
    assert status == 200 and answer["user"] == USER and api.state()["user"] == USER
    before = joints(dashboard_lab.client, "arm_a")
    result = api.command(command="jog", arm="arm_a", frame="joint", axis=1, speed=0.5)
    assert result["ok"], result
    deadline = time.monotonic() + 10
    while joints(dashboard_lab.client, "arm_a")[1] == before[1] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert joints(dashboard_lab.client, "arm_a")[1] == pytest.approx(before[1] + 0.5 * 0.5 * 0.1, abs=1e-3)
    entries = [json.loads(line) for line in dashboard_lab.command_log.read_text().splitlines()]
    jog = [e for e in entries if e["command"] == "jog" and e["ok"]][-1]
    assert jog["user"] == USER and jog["arguments"] == {"arm": "arm_a", "frame": "joint", "axis": 1, "speed": 0.5}
    assert any(c["command"] == "jog" and c["user"] == USER for c in api.state()["commands"])
    assert "jog arm_a by dashboard:alice" in dashboard_lab.log_of("transfer")
    bad = api.command(command="jog", arm="arm_a", frame="sideways", axis=1, speed=0.5)
    assert not bad["ok"] and "joint, tool" in bad["message"]
    unknown = api.command(command="launch_rocket")
    assert not unknown["ok"] and "estop" in unknown["message"]


def test_manual_station_commands_and_interlocks(dashboard_lab, api):
    api.login()
    opened = api.command(command="manual", station="furnaces", action="open_door", target="furnace_1")
    assert opened["ok"] and opened["message"] == "furnace_1 door open"
    api.wait(lambda s: next(f for f in s["furnaces"] if f["name"] == "furnace_1")["door"] == "open", what="door open")
    closed = api.command(command="manual", station="furnaces", action="close_door", target="furnace_1")
    assert closed["ok"], closed
    tared = api.command(command="manual", station="dosing", action="tare")
    assert tared["ok"] and "tared" in tared["message"]
    gripper = api.command(command="arm", arm="arm_b", action="gripper_close")
    assert gripper["ok"] and "closed" in gripper["message"]
    api.wait(lambda s: s["arms"]["arm_b"]["gripper_closed"], what="arm_b gripper closed")
    assert api.command(command="arm", arm="arm_b", action="gripper_open")["ok"]
    far = api.command(command="arm", arm="arm_b", action="move_to", argument="storage/3")
    assert not far["ok"] and "furnace_*" in far["message"]
    assert "manual open_door furnace_1 by dashboard:alice" in dashboard_lab.log_of("furnaces")


def test_fault_recovery_confirms_a_position(dashboard_lab, api):
    api.login()
    cleared = api.command(command="set_position", position="storage/32", labware_id="")
    assert cleared["ok"], cleared
    api.wait(lambda s: any(p["name"] == "storage/32" and p["state"] == "empty" for p in s["positions"]), what="empty")
    placed = api.command(
        command="set_position",
        position="storage/32",
        labware_id="crucible_32",
        labware_kind="crucible",
        sample_id="S-9",
    )
    assert placed["ok"], placed
    state = api.wait(
        lambda s: any(p["name"] == "storage/32" and p["sample_id"] == "S-9" for p in s["positions"]), what="placed"
    )
    assert next(p for p in state["positions"] if p["name"] == "storage/32")["labware_id"] == "crucible_32"
    assert "confirmed by dashboard:alice" in dashboard_lab.log_of("transfer")


def test_campaign_progress_and_pause(dashboard_lab, api, helper):
    api.login()
    assert api.state()["campaign"] is None
    missing = api.command(command="campaign_pause")
    assert not missing["ok"] and "no campaign" in missing["message"]
    asked = []

    def set_paused(request, response):
        asked.append(request.data)
        response.success, response.message = True, "campaign paused" if request.data else "campaign resumed"
        return response

    node = helper.node
    publisher = node.create_publisher(msg.CampaignProgress, "autonomy/progress", LATCHED)
    service = node.create_service(SetBool, "autonomy/set_paused", set_paused)
    try:
        publisher.publish(
            msg.CampaignProgress(
                campaign="C-1",
                state="running",
                targets=["LiCoO2"],
                samples_total=4,
                samples_done=1,
                samples=[
                    msg.SampleProgress(
                        sample_id="S-1",
                        target="LiCoO2",
                        state="running",
                        stage="heating",
                        station="furnaces",
                        target_yield=-1.0,
                    )
                ],
            )
        )
        state = api.wait(lambda s: s["campaign"] is not None, what="campaign shown")
        assert state["campaign"]["campaign_id"] == "C-1" and state["campaign"]["samples"][0]["stage"] == "heating"
        paused = api.command(command="campaign_pause")
        assert paused["ok"] and paused["message"] == "campaign paused" and asked == [True]
    finally:
        node.destroy_service(service)
        node.destroy_publisher(publisher)
    api.wait(lambda s: s["campaign"] is None, what="no campaign once the autonomy node is gone")


def test_camera_frames_are_served_as_jpeg(dashboard_lab, api, helper):
    publisher = helper.node.create_publisher(Image, CAMERA_TOPIC, qos_profile_sensor_data)
    try:
        pixels = bytes((x * 4) % 256 for x in range(64 * 48 * 3))
        deadline = time.monotonic() + 20
        while api.state()["camera"] is None and time.monotonic() < deadline:
            publisher.publish(Image(height=48, width=64, encoding="rgb8", step=64 * 3, data=pixels))
            time.sleep(0.2)
        assert api.state()["camera"] == {"number": api.state()["camera"]["number"], "width": 64, "height": 48}
        jpeg = api.get("api/camera.jpg")
        assert jpeg[:2] == b"\xff\xd8"
        assert PilImage.open(io.BytesIO(jpeg)).size == (64, 48)
    finally:
        helper.node.destroy_publisher(publisher)


def test_start_a_scan_and_see_its_pattern_and_fit(dashboard_lab, api, helper):
    api.login()
    # powder in the crucible first: the twin's diffractometer sees only what is really in the holder
    client = dashboard_lab.client
    moved = client.run("transfer", "transfer", transfer_goal("crucible_05", "storage/5", "dosing/balance"), 120.0)
    assert moved.error_code == ErrorCode.NONE, moved.error_msg
    powders = [msg.PowderDose(powder="TiO2", target_mg=150.0)]
    dose = actions.Dose.Goal(sample=sample("crucible_05", "S-scan"), powders=powders)
    dosed = client.run("dosing", "dose", dose, 120.0)
    assert dosed.error_code == ErrorCode.NONE, dosed.error_msg
    started = api.command(command="measure_xrd", source="dosing/balance", destination="done/5")
    assert started["ok"], started
    state = api.wait(lambda s: len(s["patterns"]) > 0, timeout_s=90, what="a pattern")
    pattern = api.get(f"api/pattern/{state['patterns'][-1]['id']}")
    assert len(pattern["two_theta_deg"]) == len(pattern["intensity"]) == 4501 and pattern["analysis"] is None
    analysis = helper.node.create_publisher(msg.XrdAnalysis, "autonomy/analysis", 10)
    try:
        fit = msg.XrdAnalysis(
            sample_id=pattern["sample_id"],
            target="LiCoO2",
            target_yield=0.8,
            residual=0.12,
            phases=[msg.PhaseFraction(phase_id="LiCoO2_R-3m", formula="LiCoO2", weight_fraction=0.8, confidence=0.9)],
        )
        deadline = time.monotonic() + 20
        while not api.state()["patterns"][-1]["analysed"] and time.monotonic() < deadline:
            analysis.publish(fit)
            time.sleep(0.2)
        assert api.get(f"api/pattern/{pattern['id']}")["analysis"]["phases"][0]["formula"] == "LiCoO2"
    finally:
        helper.node.destroy_publisher(analysis)
    assert any(c["command"] == "measure_xrd (result)" and c["ok"] for c in api.state()["commands"])


def test_anyone_may_engage_the_estop_but_reset_needs_a_login(dashboard_lab, api):
    status, engaged = api.post("api/command", {"command": "estop"})
    assert status == 200 and engaged["ok"], engaged
    api.wait(
        lambda s: s["estop"]["engaged"] and all(st["mode"] == "estopped" for st in s["stations"].values()),
        what="every station e-stopped",
    )
    status, _ = api.post("api/command", {"command": "reset"})
    assert status == 401
    api.login()
    assert api.command(command="reset")["ok"]
    api.wait(
        lambda s: not s["estop"]["engaged"] and all(st["mode"] == "idle" for st in s["stations"].values()),
        what="every station idle again",
    )
    assert "E-STOP engaged by dashboard:anonymous@127.0.0.1" in dashboard_lab.log_of("lab_manager")


def test_keyboard_teleop_in_a_terminal(dashboard_lab):
    client = dashboard_lab.client
    before = joints(client, "arm_b")
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "powderlab", "teleop", "--arm", "arm_b", "--user", "pytest"],
        stdin=child_fd,
        stdout=child_fd,
        stderr=child_fd,
        close_fds=True,
    )
    os.close(child_fd)
    output = b""

    def read_until(text: bytes, timeout_s: float = 30.0) -> None:
        nonlocal output
        deadline = time.monotonic() + timeout_s
        while text not in output:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from powderlab teleop; got:\n{output.decode(errors='replace')}")
            ready, _, _ = select.select([main_fd], [], [], 0.2)
            if ready:
                try:
                    output += os.read(main_fd, 4096)
                except OSError:
                    break

    try:
        read_until(b"waiting for")
        for _ in range(3):
            os.write(main_fd, b"q")
            time.sleep(0.2)
        read_until(b"joint 1 +")
        os.write(main_fd, b"A")  # tool x -
        read_until(b"tool x -")
        os.write(main_fd, b"x")
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main_fd)
    after = joints(client, "arm_b")
    # up to three steps of 0.5 x 0.5 rad/s x 0.1 s, plus the tool step; a key pressed while the previous
    # step is still moving the twin's arm is dropped (one jog in flight, as on the dashboard)
    assert after[0] > before[0] + 0.02
    assert "jog arm_b by keyboard:pytest" in dashboard_lab.log_of("transfer")


def test_joy_node_moves_only_while_the_deadman_is_held(dashboard_lab, helper):
    client = dashboard_lab.client
    process = subprocess.Popen(
        [sys.executable, "-m", "powderlab.nodes.teleop", "--ros-args", "-p", "arm:=arm_b", "-p", "rate_hz:=20.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    publisher = helper.node.create_publisher(Joy, "joy", 10)
    try:
        start = joints(client, "arm_b")
        held = Joy(axes=[0.0, 0.9, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], buttons=[0, 0, 0, 0, 1, 0, 0, 0])  # axis 1: joint 2
        released = Joy(axes=list(held.axes), buttons=[0] * 8)
        deadline = time.monotonic() + 30
        while joints(client, "arm_b")[1] < start[1] + 0.1 and time.monotonic() < deadline:
            publisher.publish(held)
            time.sleep(0.05)
        moved = joints(client, "arm_b")
        assert moved[1] >= start[1] + 0.1, "the joystick did not move joint 2"
        for _ in range(10):  # the stick stays deflected, the dead-man is released
            publisher.publish(released)
            time.sleep(0.05)
        settled = joints(client, "arm_b")
        time.sleep(1.0)
        assert joints(client, "arm_b") == settled
        publisher.publish(held)  # one last message, then silence: the timeout stops the steps
        time.sleep(1.5)
        quiet = joints(client, "arm_b")
        time.sleep(1.0)
        assert joints(client, "arm_b") == quiet
    finally:
        helper.node.destroy_publisher(publisher)
        process.terminate()
        process.wait(timeout=20)


def test_every_manifest_executable_is_a_console_script():
    from pathlib import Path

    setup = (Path(__file__).resolve().parents[2] / "setup.py").read_text()
    for node in ("dashboard = powderlab.dashboard.server:main", "joy_teleop = powderlab.nodes.teleop:main"):
        assert node in setup


def test_api_unknown_pattern_is_404(dashboard_lab):
    api = Api(dashboard_lab.url)
    import urllib.error

    with pytest.raises(urllib.error.HTTPError) as error:
        api.get("api/pattern/999")
    assert error.value.code == 404
