"""A lab computer runs `cd ros2_ws && colcon build` and gets both packages.

colcon builds in the CMake build tree `make setup` already compiled the interfaces in (same
sources, same build type), so the test proves what colcon adds (finding both packages, building,
installing, an importable install) in seconds instead of compiling the typesupport a second time
(241 s of a 20-minute CI). The setup's tree is pointed back at the venv afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARE_FOLDERS = ("launch", "hardware", "sim", "urdf")  # installed to share/powderlab by setup.py
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
    setup_tree = prefix / "build"
    cache = setup_tree / "powderlab_interfaces" / "CMakeCache.txt"
    shared = cache.is_file()
    build_type = re.search(r"^CMAKE_BUILD_TYPE:STRING=(.*)$", cache.read_text(), re.M).group(1) if shared else ""
    # setuptools keeps what an earlier build copied to build/lib: start empty so a file setup.py
    # leaves out cannot reach the install from a stale copy (the interfaces' CMake tree is kept)
    shutil.rmtree(setup_tree / "powderlab" / "build", ignore_errors=True)
    try:
        build = subprocess.run(
            [
                "colcon",
                "--log-base",
                str(tmp_path / "log"),
                "build",
                "--build-base",
                str(setup_tree if shared else tmp_path / "build"),
                "--install-base",
                str(tmp_path / "install"),
                "--cmake-force-configure",  # install here, whatever the shared tree was configured for
                "--cmake-args",
                "-DBUILD_TESTING=OFF",
                f"-DCMAKE_BUILD_TYPE={build_type}",  # the setup's: nothing is compiled again
                f"-DPython3_EXECUTABLE={sys.executable}",
            ],
            cwd=ROOT / "ros2_ws",
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
    finally:
        if shared:  # the setup's tree installs into the venv again
            subprocess.run(
                [
                    "cmake", "-S", str(ROOT / "ros2_ws" / "src" / "powderlab_interfaces"),
                    "-B", str(setup_tree / "powderlab_interfaces"), f"-DCMAKE_INSTALL_PREFIX={prefix}",
                ],
                env=env, capture_output=True, timeout=300, check=True,
            )  # fmt: skip
    assert build.returncode == 0, build.stdout[-4000:] + build.stderr[-4000:]
    for package in ("powderlab_interfaces", "powderlab"):
        assert f"Finished <<< {package} " in build.stdout  # ros2_ws/src/powderlab links to the root
    install = tmp_path / "install"
    assert (install / "powderlab" / "share" / "powderlab" / "launch" / "lab.launch.py").is_file()
    assert (install / "powderlab" / "share" / "powderlab" / "hardware" / "default.yaml").is_file()
    for executable in ("station_node", "lab_manager", "sim_clock", "dashboard"):
        assert (install / "powderlab" / "lib" / "powderlab" / executable).is_file()
    python = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages = install / "powderlab" / "lib" / python / "site-packages"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "src/powderlab", *SHARE_FOLDERS], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    missing = [
        name
        for name in filter(None, listed)
        if (ROOT / name).is_file()
        and not (
            site_packages / name.removeprefix("src/")
            if name.startswith("src/")
            else install / "powderlab" / "share" / "powderlab" / name
        ).is_file()
    ]
    assert missing == [], "tracked files the colcon install lacks"
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
