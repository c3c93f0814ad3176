"""First recipes for any formula: balancing doped targets with gases, impossible targets, the
literature recommender on a hand-built table, the shipped table's split, the batch command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from powderlab.chemistry.balance import balance_formulas, formula_key, precursor_composition
from powderlab.cli.main import main
from powderlab.core.errors import ValidationError
from powderlab.planner.literature import Inventory, LiteratureModel
from powderlab.planner.literature_build import build_table, clean_reactions, is_held_out, with_temperature_model
from powderlab.planner.literature_recipes import FirstRecipePlanner

# --- balancing ---------------------------------------------------------------------------------


def test_a_doped_target_balances_with_fractional_amounts_and_co2():
    reaction = balance_formulas("Ba0.8Sr0.2TiO3", ["BaCO3", "SrCO3", "TiO2"])
    assert reaction.precursors == pytest.approx({"BaCO3": 0.8, "SrCO3": 0.2, "TiO2": 1.0})
    assert reaction.gases == pytest.approx({"CO2": 1.0})
    masses = reaction.masses_mg(1000.0)
    assert sum(masses.values()) == pytest.approx(1000.0)
    assert masses["BaCO3"] / masses["SrCO3"] == pytest.approx(0.8 * 197.34 / (0.2 * 147.63), rel=1e-3)
    by_target = reaction.masses_mg(500.0, basis="target")  # 500 mg of product
    weight = float(precursor_composition("Ba0.8Sr0.2TiO3").weight)
    assert by_target["TiO2"] == pytest.approx(500.0 / weight * 79.866, rel=1e-3)


def test_gases_leave_or_enter_as_the_chemistry_says():
    nmc = balance_formulas("LiNi0.8Co0.1Mn0.1O2", ["LiOH·H2O", "Ni(OH)2", "Co3O4", "MnO2"])
    assert nmc.gases["O2"] < 0 and nmc.gases["H2O"] > 0  # takes up O2 from the air, releases water
    nitrates = balance_formulas("LaFeO3", ["La(NO3)3·6H2O", "Fe(NO3)3·9H2O"])
    assert nitrates.gases["NO2"] == pytest.approx(6.0) and "NH3" not in nitrates.gases
    phosphate = balance_formulas("LiFePO4", ["Li2CO3", "FeC2O4·2H2O", "NH4H2PO4"])
    assert phosphate.gases["NH3"] > 0 and "NO2" not in phosphate.gases
    assert "->" in str(phosphate) and "LiFePO4" in str(phosphate)


def test_hydrates_and_adducts_are_one_powder():
    assert formula_key("4MgCO3-Mg(OH)2·5H2O") == formula_key("(MgCO3)4-Mg(OH)2·5H2O")
    assert formula_key("LiOH·H2O") == "LiH3O2"
    with pytest.raises(ValidationError, match="not a chemical formula"):
        precursor_composition("Fe(NO3)3·9Xq")


@pytest.mark.parametrize(
    ("target", "precursors", "message"),
    [
        ("Li2ZrO3", ["Li2CO3"], "no precursor brings Zr"),
        ("LiF", ["LiF", "CaO"], "Ca would stay in the product"),
        ("Xx9Q", ["Li2CO3"], "not a chemical formula"),
    ],
)
def test_impossible_balances_say_why(target, precursors, message):
    with pytest.raises(ValidationError, match=message):
        balance_formulas(target, precursors)


# --- the recommender on a hand-built table -------------------------------------------------------

TABLE = {
    "meta": {},
    "names": {},
    "targets": [
        ["BaTiO3", {"Ba": 0.2, "Ti": 0.2, "O": 0.6}, [[["BaCO3", "TiO2"], 5, 1200.0]], 1200.0],
        ["SrTiO3", {"Sr": 0.2, "Ti": 0.2, "O": 0.6}, [[["SrCO3", "TiO2"], 3, 1250.0]], 1250.0],
        [
            "Ba0.5Sr0.5TiO3",
            {"Ba": 0.1, "Sr": 0.1, "Ti": 0.2, "O": 0.6},
            [[["BaCO3", "SrCO3", "TiO2"], 2, 1150.0]],
            1150.0,
        ],
        ["LiCoO2", {"Li": 0.25, "Co": 0.25, "O": 0.5}, [[["Co3O4", "Li2CO3"], 4, 900.0]], 900.0],
        ["LiMn2O4", {"Li": 1 / 7, "Mn": 2 / 7, "O": 4 / 7}, [[["Li2CO3", "MnO2"], 2, 800.0]], 800.0],
    ],
}
INVENTORY = ["BaCO3", "SrCO3", "TiO2", "Ti", "Li2CO3", "LiOH", "Co3O4", "CoO", "MnO2", "Ba(NO3)2"]


def test_similar_targets_vote_for_their_precursor_set():
    planner = FirstRecipePlanner(Inventory(INVENTORY, "test"), LiteratureModel(TABLE))
    recipes = planner.recipes("Ba0.7Sr0.3TiO3", 3)
    assert set(recipes[0].precursors) == {"BaCO3", "SrCO3", "TiO2"}
    assert "used for" in recipes[0].why[0] and "Ba0.5Sr0.5TiO3" in recipes[0].why[0]
    assert 1150 <= recipes[0].temperature_c <= 1250  # from the titanates, not from LiCoO2 (900 C)
    assert recipes[0].score >= recipes[-1].score
    assert len({tuple(r.precursors) for r in recipes}) == len(recipes)


def test_the_inventory_decides_which_powder_stands_in():
    # no Li2CO3 on the shelf: LiOH (unused in the table) brings Li
    planner = FirstRecipePlanner(Inventory(["LiOH", "Co3O4"], "test"), LiteratureModel(TABLE))
    recipe = planner.recipes("LiCoO2", 1)[0]
    assert set(recipe.precursors) == {"Co3O4", "LiOH"}
    assert recipe.reaction.gases["H2O"] == pytest.approx(0.5)


def test_the_temperature_correction_of_the_table_applies():
    plain = LiteratureModel(TABLE)
    median, _ = plain.temperature({"Ba": 0.2, "Ti": 0.2, "O": 0.6})
    corrected = LiteratureModel({**TABLE, "temperature_model": {"weights": {"bias": 100.0, "neighbours": 500.0}}})
    value, why = corrected.temperature({"Ba": 0.2, "Ti": 0.2, "O": 0.6})
    assert value == pytest.approx(100.0 + 0.5 * median)
    assert "corrected for the composition" in why
    fitted = with_temperature_model(TABLE)["temperature_model"]
    assert fitted["targets"] == 5 and "neighbours" in fitted["weights"]


def test_impossible_targets_are_refused_with_the_reason():
    planner = FirstRecipePlanner(Inventory(INVENTORY, "test shelf"), LiteratureModel(TABLE))
    with pytest.raises(ValidationError, match="needs Pu, which no powder of the inventory"):
        planner.recipes("Li2PuO3")
    with pytest.raises(ValidationError, match="not a chemical formula"):
        planner.recipes("Hello")
    with pytest.raises(ValidationError, match="nothing to dose"):
        planner.recipes("H2O")


def test_the_table_builder_refuses_held_out_targets():
    raw = [
        {
            "target": {"material_formula": "BaTiO3"},
            "precursors": [{"material_formula": "BaCO3"}, {"material_formula": "TiO2"}, {"material_formula": "H2O"}],
            "operations": [{"type": "HeatingOperation", "conditions": {"heating_temperature": [{"values": [1100.0]}]}}],
        }
    ]
    (reaction,) = clean_reactions(raw)
    assert reaction.precursors == ("BaCO3", "TiO2") and reaction.temperature_c == 1100.0  # water dropped
    held_out = next(f for f in ("LiCoO2", "SrTiO3", "BaTiO3", "CaTiO3", "MgO", "ZnO", "NiO", "CuO") if is_held_out(f))
    with pytest.raises(ValueError, match="held-out"):
        build_table([reaction.__class__(held_out, {}, ("X",), ("X",), None)])


# --- the shipped table ---------------------------------------------------------------------------


def test_no_held_out_target_is_in_the_shipped_table():
    model = LiteratureModel.load()
    assert len(model.targets) > 3000
    assert [t for t in model.targets if is_held_out(t)] == []
    assert "Kononova" in model.meta["citation"]


# --- the batch command ---------------------------------------------------------------------------


def test_batch_command_json_keys_as_written_errors_and_exit_code(tmp_path, capsys):
    targets = tmp_path / "targets.txt"
    targets.write_text("Ba0.8Sr0.2TiO3\n# a comment\nLiNi0.8Co0.1Mn0.1O2\nXx9Q\nLi2PuO3\n")
    inventory = tmp_path / "inventory.txt"
    inventory.write_text("# shelf\nBaCO3\nSrCO3\nTiO2\nLiOH·H2O  # hydrate\nNi(OH)2\nCo3O4\nMnO2\n")
    code = main(
        ["plan", "recipes", "--targets-file", str(targets), "--inventory", str(inventory), "--count", "2", "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert list(data) == ["Ba0.8Sr0.2TiO3", "LiNi0.8Co0.1Mn0.1O2", "Xx9Q", "Li2PuO3"]
    first = data["Ba0.8Sr0.2TiO3"][0]
    assert set(first) == {"precursors", "temperature_c", "equation", "score", "why"}
    assert sorted(first["precursors"]) == ["BaCO3", "SrCO3", "TiO2"]
    assert len(data["LiNi0.8Co0.1Mn0.1O2"]) >= 1 and "LiOH·H2O" in data["LiNi0.8Co0.1Mn0.1O2"][0]["precursors"]
    assert "not a chemical formula" in data["Xx9Q"]["error"]
    assert "Pu" in data["Li2PuO3"]["error"]


def test_batch_command_exit_0_when_every_target_plans(tmp_path, capsys):
    targets = tmp_path / "targets.txt"
    targets.write_text("BaTiO3\n")
    assert main(["plan", "recipes", "--targets-file", str(targets), "--json"]) == 0  # the site's dosing heads
    assert json.loads(capsys.readouterr().out)["BaTiO3"][0]["precursors"]


@pytest.mark.parametrize(
    "args",
    [
        ["plan", "recipes"],
        ["plan", "recipes", "BaTiO3", "--targets-file", "x.txt"],
        ["plan", "recipes", "BaTiO3", "--inventory", "/nonexistent/inventory.txt"],
        ["plan", "recipes", "BaTiO3", "--count", "0"],
    ],
)
def test_bad_usage_exits_2(args, capsys):
    assert main(args) == 2
    assert "error" in capsys.readouterr().err


def test_one_target_by_the_command_line_in_a_process(tmp_path):
    inventory = tmp_path / "inventory.txt"
    inventory.write_text("Li2CO3\nCo3O4\n")
    done = subprocess.run(
        [sys.executable, "-m", "powderlab", "plan", "recipes", "LiCoO2", "--inventory", str(inventory)],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Co3O4 + Li2CO3" in done.stdout and "mg batch" in done.stdout and "why:" in done.stdout


def test_campaign_planner_literature_starts_with_the_literature_then_learns():
    from powderlab.autonomy.analysis import make_planner
    from powderlab.autonomy.model import Attempt, ExperimentStatus, PhaseFraction, Target

    planner = make_planner("literature")
    target = Target("BaTiO3", budget=6)
    first = planner.next_recipe(target, [])
    assert first.reason.startswith("literature: used for")
    assert sorted(d.powder for d in first.recipe.precursors) == ["BaCO3", "TiO2"]
    assert 600 <= first.recipe.heating.max_temperature_c <= 1200  # brought into the furnace's range
    unreacted = (PhaseFraction("BaCO3", "BaCO3", 0.6, 0.9), PhaseFraction("TiO2", "TiO2", 0.4, 0.9))
    attempt = Attempt("e1", 1, first.recipe, ExperimentStatus.ANALYSED, 0.0, unreacted)
    planner.report(target, attempt)
    second = planner.next_recipe(target, [attempt])  # the literature's only dosable set is spent: ARROWS
    assert second is not None and not second.reason.startswith("literature")
