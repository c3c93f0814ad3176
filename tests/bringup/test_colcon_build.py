"""A lab computer runs `cd ros2_ws && colcon build` and gets both packages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]


def test_interfaces_import_in_the_venv():
    code = "import powderlab_interfaces.action as a, powderlab_interfaces.msg, powderlab_interfaces.srv; print(a.Dose)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "Dose" in result.stdout


def test_colcon_builds_the_workspace(tmp_path):
    prefix = Path(sys.prefix)
    env = dict(os.environ, AMENT_PREFIX_PATH=str(prefix), CMAKE_PREFIX_PATH=str(prefix))
    env["PATH"] = f"{prefix / 'bin'}{os.pathsep}{env['PATH']}"
    build = subprocess.run(
        [
            "colcon",
            "--log-base",
            str(tmp_path / "log"),
            "build",
            "--build-base",
            str(tmp_path / "build"),
            "--install-base",
            str(tmp_path / "install"),
            "--cmake-args",
            "-DBUILD_TESTING=OFF",
        ],
        cwd=ROOT / "ros2_ws",
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    for package in ("powderlab_interfaces", "powderlab"):
        assert f"Finished <<< {package} " in build.stdout  # ros2_ws/src/powderlab links to the root
    install = tmp_path / "install"
    assert (install / "powderlab" / "share" / "powderlab" / "launch" / "lab.launch.py").is_file()
    assert (install / "powderlab" / "share" / "powderlab" / "hardware" / "default.yaml").is_file()
    for executable in ("station_node", "lab_manager", "sim_clock"):
        assert (install / "powderlab" / "lib" / "powderlab" / executable).is_file()
    site = install / "powderlab_interfaces" / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    probe = (
        f"import sys; sys.path.insert(0, {str(site / 'site-packages')!r}); "
        "import powderlab_interfaces.action as a; print(a.__file__)"
    )
    env["LD_LIBRARY_PATH"] = f"{install / 'powderlab_interfaces' / 'lib'}{os.pathsep}{env.get('LD_LIBRARY_PATH', '')}"
    imported = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert imported.returncode == 0, imported.stderr
    assert str(install) in imported.stdout
