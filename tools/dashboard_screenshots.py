"""Screenshots of the dashboard's main views into docs/screenshots/ (referenced by docs/dashboard.md).

    .venv/bin/python tools/dashboard_screenshots.py [--out docs/screenshots]

Starts a mock lab on sim time with its dashboard (a temporary user), gives it something to show
(a crucible measured by XRD, a furnace heating, a campaign and a fit from a stand-in autonomy
publisher, a camera test image until the twin's camera is merged), and photographs each tab in
Debian's headless Chromium.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import random
import socket
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def camera_test_image(width: int = 320, height: int = 240) -> bytes:
    """An RGB test image standing in for the twin's camera (clearly labelled as such)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (40, 48, 64))
    draw = ImageDraw.Draw(image)
    for i in range(8):
        draw.rectangle((10 + i * 38, 150, 40 + i * 38, 200), fill=(90 + i * 20, 120, 160))
    draw.text((12, 12), "camera test image", fill=(255, 255, 255))
    draw.text((12, 30), "(the twin's camera publishes here)", fill=(200, 200, 200))
    return image.tobytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(101, 200)))
    os.environ["ROS_PYTHON_CHECK_FIELDS"] = "1"

    from playwright.sync_api import sync_playwright
    from powderlab_interfaces import action as actions
    from powderlab_interfaces import msg
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image
    from std_srvs.srv import SetBool

    from powderlab.bringup.manifest import build_manifest
    from powderlab.bringup.session import LabSession
    from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
    from powderlab.dashboard.auth import add_user
    from powderlab.nodes.conversions import profile_to_msgs
    from powderlab.nodes.qos import LATCHED

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix="powderlab-screens-"))
    add_user(run_dir / "users.yaml", "tech", "screenshot-pass")
    port = free_port()
    manifest = build_manifest(
        "mock",
        time_factor=60.0,
        dashboard={"port": port, "users_file": str(run_dir / "users.yaml"), "command_log": str(run_dir / "c.jsonl")},
    )
    session = LabSession(manifest, run_dir, startup_timeout_s=120.0)
    client = session.start()
    url = f"http://127.0.0.1:{port}/"
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def post(path: str, body: dict) -> dict:
        request = urllib.request.Request(
            url + path, json.dumps(body).encode(), {"Content-Type": "application/json", "X-PowderLab": "1"}
        )
        with opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def state() -> dict:
        with opener.open(url + "api/state", timeout=20) as response:
            return json.loads(response.read())

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if len(state()["stations"]) == 5:
                    break
            except OSError:
                pass
            time.sleep(0.3)
        post("api/login", {"user": "tech", "password": "screenshot-pass"})
        node = client.node
        camera = node.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        progress = node.create_publisher(msg.CampaignProgress, "autonomy/progress", LATCHED)
        analysis = node.create_publisher(msg.XrdAnalysis, "autonomy/analysis", 10)
        node.create_service(SetBool, "autonomy/set_paused", lambda req, res: setattr(res, "success", True) or res)
        pixels = camera_test_image()
        for _ in range(5):
            camera.publish(Image(height=240, width=320, encoding="rgb8", step=960, data=pixels))
            time.sleep(0.1)
        post(
            "api/command",
            {"command": "set_position", "position": "storage/2", "labware_id": "crucible_02", "sample_id": "S-2"},
        )
        time.sleep(0.5)
        post("api/command", {"command": "measure_xrd", "source": "storage/2", "destination": "done/2"})
        post("api/command", {"command": "jog", "arm": "arm_b", "frame": "joint", "axis": 1, "speed": 1.0})
        profile = HeatingProfile(
            (
                HeatingSegment(SegmentKind.RAMP, target_c=900.0, rate_c_per_min=10.0),
                HeatingSegment(SegmentKind.DWELL, duration_min=240.0),
            )
        )
        client.send("furnaces", "heat", actions.Heat.Goal(furnace="furnace_3", profile=profile_to_msgs(profile)))
        samples = [
            msg.SampleProgress(
                sample_id=f"S-{i}", target=t, recipe_id=f"R-{i}", state=st, stage=sg, station=sn, target_yield=y
            )
            for i, (t, st, sg, sn, y) in enumerate(
                [
                    ("LiCoO2", "running", "heating", "furnaces", -1.0),
                    ("LiCoO2", "running", "xrd", "xrd", -1.0),
                    ("NaTiO2", "queued", "", "", -1.0),
                    ("LiMn2O4", "done", "analysis", "", 0.82),
                ],
                start=1,
            )
        ]
        progress.publish(
            msg.CampaignProgress(
                campaign="C-demo",
                state="running",
                reasons=["waiting: furnace batch filling"],
                targets=["LiCoO2", "NaTiO2", "LiMn2O4"],
                samples_total=12,
                samples_done=3,
                samples_failed=1,
                samples=samples,
            )
        )
        deadline = time.monotonic() + 90
        while not state()["patterns"] and time.monotonic() < deadline:
            time.sleep(0.5)
        sample_id = state()["patterns"][-1]["sample_id"] if state()["patterns"] else ""
        for _ in range(5):
            analysis.publish(
                msg.XrdAnalysis(
                    sample_id=sample_id,
                    target="LiCoO2",
                    target_yield=0.74,
                    residual=0.118,
                    phases=[
                        msg.PhaseFraction(
                            phase_id="LiCoO2_R-3m", formula="LiCoO2", weight_fraction=0.74, confidence=0.93
                        ),
                        msg.PhaseFraction(
                            phase_id="Co3O4_Fd-3m", formula="Co3O4", weight_fraction=0.26, confidence=0.81
                        ),
                    ],
                )
            )
            time.sleep(0.2)
        time.sleep(12)  # some furnace history for the plots
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.goto(url)
            page.fill("#login-user", "tech")
            page.fill("#login-password", "screenshot-pass")
            page.click("#login-button")
            page.wait_for_selector("#user-name:has-text('tech')")
            time.sleep(3)
            page.screenshot(path=str(out / "overview.png"), full_page=True)
            for tab, name in (("teleop", "teleoperation"), ("samples", "samples-xrd"), ("logs", "logs")):
                page.click(f'nav#tabs button[data-tab="{tab}"]')
                time.sleep(1.5)
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
            page.click('nav#tabs button[data-tab="overview"]')
            page.click("#estop")
            page.wait_for_selector('#stations tr[data-station="xrd"] .mode:has-text("estopped")')
            time.sleep(1)
            page.screenshot(path=str(out / "estop.png"), full_page=False)
            page.click("#reset")
            time.sleep(1)
            browser.close()
        print(f"screenshots in {out}: {', '.join(sorted(p.name for p in out.glob('*.png')))}")
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
