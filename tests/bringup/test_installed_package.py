"""The package as `pip install .` installs it is whole, and works from there, not from the source tree.

A wheel is built from a copy of the tree without what git ignores (so no build/ litter of an earlier
build can hide a file that setup.py leaves out), compared with `git ls-files`, and installed non-editable
into a temporary --target folder. The checks then run the venv's interpreter (the ROS wheels live
in its site-packages) with that folder first on PYTHONPATH and the working directory outside the
repository, and assert that `powderlab` and its share folder are the installed ones.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ros.conftest import processes_with

ROOT = Path(__file__).resolve().parents[2]
SHARE_FOLDERS = ("launch", "hardware", "sim", "urdf")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def tracked(*folders: str, new: bool = False) -> list[str]:
    """Files git tracks below the folders (that exist in the working tree), repository-relative;
    new=True adds the files git does not track yet but does not ignore either (work in progress)."""
    others = ["--others", "--exclude-standard"] if new else []
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", *others, "--", *folders],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sorted(name for name in listed.split("\0") if name and (ROOT / name).is_file())


@dataclass(frozen=True)
class Installed:
    """A wheel built from the tracked tree and where it was installed."""

    wheel: Path
    target: Path
    work: Path

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.target)  # first on sys.path, before the editable install's .pth
        env["ROS_HOME"] = str(self.work / "ros_home")
        env["ROS_LOG_DIR"] = str(self.work / "ros_home" / "log")
        return env

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """`python -m powderlab ARGS` from the installed package."""
        return subprocess.run(
            [sys.executable, "-m", "powderlab", *args],
            cwd=self.work, env=self.env(), capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    base = tmp_path_factory.mktemp("installed")
    tree = base / "tree"
    for name in tracked(".", new=True):  # the tree as it is, without what .gitignore leaves out (build/)
        if (ROOT / name).is_symlink():  # ros2_ws/src/powderlab links back to the root
            continue
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(base / "dist"), str(tree)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    (wheel,) = (base / "dist").glob("powderlab-*.whl")
    target = base / "target"
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(target), str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    work = base / "work"
    work.mkdir()
    return Installed(wheel, target, work)


def test_the_wheel_has_every_tracked_module_and_data_file(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    in_wheel = {name for name in names if name.startswith("powderlab/")}
    expected = {name.removeprefix("src/") for name in tracked("src/powderlab")}
    assert expected, "git ls-files src/powderlab listed nothing"
    assert sorted(expected - in_wheel) == [], "tracked under src/powderlab but not in the wheel"
    data = re.compile(r"^powderlab-[^/]+\.data/data/share/powderlab/")
    shared = {data.sub("", name) for name in names if data.match(name)}
    assert sorted(set(tracked(*SHARE_FOLDERS)) - shared) == [], "tracked data folders missing from share/powderlab"
    assert "package.xml" in shared


def test_the_installed_package_is_the_one_imported(installed):
    code = (
        "import json, powderlab, powderlab.dashboard.app as app, powderlab.chemistry.phases as phases; "
        "from powderlab.core.resources import share_dir; "
        "print(json.dumps([powderlab.__file__, str(app.STATIC), str(phases.DATA_DIR), str(share_dir())]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=installed.work, env=installed.env(),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for path in json.loads(result.stdout):
        assert Path(path).resolve().is_relative_to(installed.target.resolve()), f"{path} is not the installed copy"


def test_the_installed_package_analyses_an_xrd_pattern(installed):
    pattern = installed.work / "mix.xy"
    simulated = installed.run("xrd", "simulate", "LiCoO2=0.7", "Co3O4=0.3", "-o", str(pattern), "--seed", "1")
    assert simulated.returncode == 0, simulated.stderr
    analysed = installed.run("xrd", "analyze", str(pattern), "--elements", "Li,Co,O", "--json")
    assert analysed.returncode == 0, analysed.stderr
    fractions = {phase["phase_id"]: phase["weight_fraction"] for phase in json.loads(analysed.stdout)["phases"]}
    assert set(fractions) == {"LiCoO2", "Co3O4"}
    assert fractions["LiCoO2"] == pytest.approx(0.7, abs=0.05)


def test_the_installed_package_serves_the_dashboard(installed):
    users = installed.work / "users.yaml"
    server = subprocess.Popen(
        [sys.executable, "-m", "powderlab", "dashboard", "--host", "127.0.0.1", "--port", "0", "--users", str(users)],
        cwd=installed.work, env=installed.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        lines = []
        deadline = time.monotonic() + 120
        url = None
        while url is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            lines.append(line)
            match = re.search(r"dashboard: serving on (http://127\.0\.0\.1:\d+/)", line)
            url = match.group(1) if match else None
        assert url, "the dashboard did not start:\n" + "".join(lines)
        with urllib.request.urlopen(url, timeout=30) as response:
            index = response.read().decode()
        assert response.status == 200 and "/static/app.js" in index
        for asset, marker in (("static/app.js", ""), ("static/style.css", ""), ("static/uPlot.iife.min.js", "uPlot")):
            with urllib.request.urlopen(url + asset, timeout=30) as response:
                body = response.read().decode()
            assert response.status == 200 and body and marker in body, asset
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_installed_package_runs_a_mock_sample(installed):
    run_dir = installed.work / "run"
    recipe = installed.target / "share" / "powderlab" / "sim" / "recipes" / "licoo2.yaml"
    assert recipe.is_file()
    completed = installed.run(
        "run-sample", str(recipe), "--backend", "mock", "--sample-id", "S-installed", "--run-dir", str(run_dir),
        "--time-factor", "20000", timeout=300,  # the 10.6 h heat in ~2 s, not ~20 s at the mock's default 2000
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "sample S-installed: done; XRD pattern of 4501 points (10-100 deg)" in output
    assert processes_with(str(run_dir)) == [], "node processes left behind"


def test_the_installed_package_migrates_a_campaign_store(installed):
    # the Alembic environment and revisions ship in the wheel and run without an alembic.ini
    database = installed.work / "campaigns.db"
    code = (
        "import json, sys, sqlite3, powderlab.autonomy.migrate as m; from powderlab.autonomy.store import Store; "
        "Store(sys.argv[1]).close(); "
        "rev = sqlite3.connect(sys.argv[1]).execute('select version_num from alembic_version').fetchall(); "
        "print(json.dumps([str(m.MIGRATIONS), m.revisions(), rev]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(database)], cwd=installed.work, env=installed.env(),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    folder, revisions, stamped = json.loads(result.stdout)
    assert Path(folder).resolve().is_relative_to(installed.target.resolve())
    assert revisions[0] == "0001" and stamped == [[revisions[-1]]]
