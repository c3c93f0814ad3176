"""`powderlab xrd`: simulate -> analyze through real files, phases, add-phase."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from powderlab.chemistry.phases import default_library
from powderlab.cli import xrd
from powderlab.core.errors import ValidationError


def run(argv: list[str]) -> int:
    # powderlab.cli.main also imports commands other branches add; build the xrd command alone
    parser = argparse.ArgumentParser(prog="powderlab")
    xrd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


def test_simulate_then_analyze_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pattern = tmp_path / "mix.xy"
    assert run(["xrd", "simulate", "LiCoO2=0.7", "Co3O4=0.3", "-o", str(pattern), "--seed", "4"]) == 0
    capsys.readouterr()
    assert run(["xrd", "analyze", str(pattern), "--elements", "Li,Co,O", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    fractions = {p["phase_id"]: p["weight_fraction"] for p in result["phases"]}
    assert set(fractions) == {"LiCoO2", "Co3O4"}
    assert fractions["LiCoO2"] == pytest.approx(0.7, abs=0.04)
    assert result["unknown_phase_suspected"] is False


def test_analyze_with_reference_cifs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    library = default_library()
    cifs = []
    for name in ("ZnO", "ZnFe2O4", "Fe2O3"):
        path = tmp_path / f"{name}.cif"
        library.get(name).structure().to(filename=str(path))
        cifs.append(str(path))
    pattern = tmp_path / "mix.csv"
    run(["xrd", "simulate", f"{cifs[0]}=0.4", "ZnFe2O4=0.6", "-o", str(pattern)])
    capsys.readouterr()
    run(["xrd", "analyze", str(pattern), "--references", *cifs, "--json"])
    result = json.loads(capsys.readouterr().out)
    assert {p["phase_id"] for p in result["phases"]} == {"ZnO", "ZnFe2O4"}


def test_add_phase_and_list(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(xrd.USER_PHASE_DIR_ENV, str(tmp_path / "lib"))
    cif = tmp_path / "novel.cif"
    default_library().get("MgO").structure().to(filename=str(cif))
    assert run(["xrd", "add-phase", str(cif), "--id", "MyMgO", "--energy-per-atom", "-6.3"]) == 0
    capsys.readouterr()
    run(["xrd", "phases", "--elements", "Mg,O", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert {"MgO", "MyMgO", "Mg"} <= {r["phase_id"] for r in rows}


def test_bad_arguments_are_named(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="PHASE=FRACTION"):
        run(["xrd", "simulate", "LiCoO2", "-o", str(tmp_path / "x.xy")])
    cif = tmp_path / "MgO.cif"
    default_library().get("MgO").structure().to(filename=str(cif))
    with pytest.raises(ValidationError, match="'MgO' is a packaged phase"):
        run(["xrd", "add-phase", str(cif), "--library-dir", str(tmp_path / "lib")])
    with pytest.raises(ValidationError, match="--elements"):
        run(["xrd", "analyze", str(tmp_path / "x.xy"), "--elements", "Qq"])
