"""Bad input is refused up front: exit 2, naming the entry or key, what is wrong and what is allowed,
before any lab process starts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from powderlab.cli.run_sample import load_recipe, real_time_notice
from powderlab.core.resources import data_path

pytestmark = pytest.mark.slow  # each case is a CLI process (pymatgen import): a few seconds

RECIPE = """\
recipe_id: bad-1
target: LiCoO2
precursors:
  - {powder: Li2CO3, target_mg: 377.5}
  - {powder: Co3O4, mass_mg: 820.2}
heating:
  - {kind: ramp, target_c: 300, rate_c_per_min: 2}
"""
TARGETS = """\
campaign: bad
targets:
  - target: LiCoO2
    recipes:
      - precursors: {Li2CO3: 377.5, Co3O4: 820.2}
        temperature_c: 900
  - target: Xx9Q
"""


def powderlab(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # a timeout, not a hang: the old code started the lab and ran the campaign
    return subprocess.run(
        [sys.executable, "-m", "powderlab", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("lab", ["local", "ros"])
def test_a_targets_file_with_an_unknown_element_is_refused_before_the_lab_starts(tmp_path, lab):
    targets = tmp_path / "targets.yaml"
    targets.write_text(TARGETS)
    report = tmp_path / "report"
    result = powderlab(
        "campaign", "--targets", str(targets), "--lab", lab, "--backend", "mock", "--report", str(report), "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{targets}: target 2: 'Xx9Q' is not a chemical formula: unknown elements 'Xx', 'Q'" in result.stderr
    assert not report.exists(), "the campaign started (it wrote its records) before the targets were checked"


def test_a_target_the_planner_cannot_make_is_refused_with_why(tmp_path):
    targets = tmp_path / "targets.yaml"
    targets.write_text("targets: [BaTiO3, NaCl2]\n")
    result = powderlab("campaign", "--targets", str(targets), "--planner", "arrows", "--json", cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "target 2: 'NaCl2': no precursor set: unknown phase or formula 'NaCl2'" in result.stderr
    fixed = powderlab("campaign", "--targets", str(targets), "--planner", "fixed", "--json", cwd=tmp_path)
    assert fixed.returncode == 2
    assert "target 1: 'BaTiO3': the fixed planner only tries the recipes given with a target" in fixed.stderr


@pytest.mark.parametrize("backend", [[], ["--backend", "mock"]])
def test_a_recipe_with_an_unknown_key_names_it_and_the_keys_allowed(tmp_path, backend):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(RECIPE)
    result = powderlab("run-sample", str(recipe), *backend, cwd=tmp_path)
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "powderlab run-sample: error: recipe precursors[2]: unknown key 'mass_mg'; allowed: powder, target_mg"
        in result.stderr
    )
    assert "__init__" not in result.stderr and "starting the lab" not in result.stdout


def test_run_sample_says_that_the_twin_runs_in_real_time_without_a_time_factor(tmp_path):
    notice = real_time_notice(load_recipe(str(data_path("sim", "recipes", "licoo2.yaml"))), "sim")
    # 138 + 40 min of ramps, 4 h dwell, 221 min of natural cooling, 600 s milling, 480 s scan
    assert "runs the twin in real time: this sample takes at least 10.9 h of wall time" in notice
    assert "milling 600 s" in notice and "--time-factor 2000" in notice
    help_text = powderlab("run-sample", "--help", cwd=tmp_path).stdout
    assert "REAL TIME" in " ".join(help_text.split())
    # the command prints it before it starts the lab (a missing site profile then stops it: no lab here)
    recipe = str(data_path("sim", "recipes", "licoo2.yaml"))
    missing_site = str(tmp_path / "no-site.yaml")
    real_time = powderlab("run-sample", recipe, "--backend", "sim", "--site", missing_site, cwd=tmp_path)
    assert real_time.returncode == 2 and "no-site.yaml" in real_time.stderr, real_time.stderr
    assert "note: --backend sim without --time-factor runs the twin in real time" in real_time.stderr
    paced = powderlab(
        "run-sample", recipe, "--backend", "sim", "--time-factor", "100", "--site", missing_site, cwd=tmp_path
    )
    assert paced.returncode == 2 and "real time" not in paced.stderr
