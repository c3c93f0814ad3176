"""`powderlab campaign`: what its options give the lab it starts (no lab is started here)."""

from __future__ import annotations

import argparse

import yaml

from powderlab.bringup.manifest import build_manifest
from powderlab.cli import campaign


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    campaign.register(parser.add_subparsers())
    return parser.parse_args(["campaign", *argv])


def twin_of(backend: str, factor: float) -> dict:
    manifest = build_manifest(
        backend=backend, time_factor=factor, backend_options=campaign.backend_options(backend, factor)
    )
    return manifest.node("twin").parameters


def test_time_factor_0_runs_the_twin_as_fast_as_possible_with_a_slow_camera() -> None:
    args = parse("--backend", "sim")
    assert args.time_factor == 0
    twin = twin_of("sim", 0.0)
    assert twin["time_factor"] == 0.0  # as fast as possible (the lab's 0 alone paces the twin at real time)
    assert twin["camera_rate_hz"] == campaign.CAMERA_RATE_HZ == 0.1  # one frame in 10 s, for the recording


def test_a_time_factor_paces_the_twin() -> None:
    twin = twin_of("sim", 2000.0)
    assert twin["time_factor"] == 2000.0
    assert twin["camera_rate_hz"] == 0.1


def test_mock_backend_gets_no_twin_options() -> None:
    assert yaml.safe_load(campaign.backend_options("mock", 0.0)) == {}


def test_furnace_filling_options_reach_the_autonomy_node_only_when_given() -> None:
    given = campaign._limits(parse("--in-flight-per-target", "2", "--batch-wait-s", "3600"))
    assert given["in_flight_per_target"] == 2 and given["batch_wait_s"] == 3600.0
    default = campaign._limits(parse())
    assert "in_flight_per_target" not in default and "batch_wait_s" not in default


def test_campaigns_default_to_the_real_planner_and_analysis_and_the_stand_ins_are_explicit() -> None:
    """Issue 16 item 6: literature start then active learning, the real XRD analysis; the fixed list
    and the stand-in analyzer only when asked for (tests)."""
    from powderlab.autonomy.analysis import DEFAULT_ANALYZER, DEFAULT_PLANNER, make_analyzer, make_planner
    from powderlab.cli.main import build_parser
    from powderlab.cli.up import autonomy_parameters

    args = parse()
    assert (args.planner, args.analyzer) == ("literature", "chemistry")
    assert (DEFAULT_PLANNER, DEFAULT_ANALYZER) == ("literature", "chemistry")  # the autonomy node's too
    assert make_planner(args.planner).name == make_planner("literature").name != make_planner("fixed").name
    assert make_analyzer(args.analyzer).name == "chemistry-whole-pattern-fit"
    chosen = parse("--planner", "fixed", "--analyzer", "standin")
    assert (chosen.planner, chosen.analyzer) == ("fixed", "standin")
    up = build_parser().parse_args(["up", "--autonomy", "--planner", "fixed", "--analyzer", "standin"])
    assert autonomy_parameters(up) == {"planner": "fixed", "analyzer": "standin"}
    assert autonomy_parameters(build_parser().parse_args(["up", "--autonomy"])) is True  # the node's defaults
