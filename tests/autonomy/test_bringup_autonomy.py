"""The autonomy node in the manifest, the launch arguments and `powderlab up --autonomy`."""

from __future__ import annotations

from powderlab.bringup.launch_args import manifest_from_launch_args
from powderlab.bringup.manifest import build_manifest
from powderlab.cli.main import build_parser


def test_manifest_adds_the_autonomy_node_with_its_parameters(tmp_path) -> None:
    plain = build_manifest("mock")
    assert "autonomy" not in [n.name for n in plain.nodes]
    manifest = build_manifest("mock", time_factor=100.0, state_dir=tmp_path, autonomy=True)
    node = manifest.node("autonomy")
    assert node.module == "powderlab.nodes.autonomy_node" and node.executable == "autonomy_node"
    assert node.parameters["database"] == str(tmp_path / "autonomy.sqlite")
    assert node.parameters["use_sim_time"] is True and node.parameters["transfer_node"] == "transfer"
    custom = build_manifest("mock", autonomy={"database": "postgresql://x@127.0.0.1/y", "seed": 4})
    assert custom.node("autonomy").parameters["seed"] == 4


def test_launch_argument_and_cli_flag() -> None:
    manifest = manifest_from_launch_args({"autonomy": "true", "autonomy_database": "/tmp/c.sqlite"})
    assert manifest.node("autonomy").parameters["database"] == "/tmp/c.sqlite"
    args = build_parser().parse_args(["up", "--autonomy", "--database", "/tmp/x.sqlite"])
    assert args.autonomy and args.database == "/tmp/x.sqlite"
    campaign = build_parser().parse_args(["campaign", "--lab", "local", "--json", "--seed", "4"])
    assert campaign.seed == 4 and campaign.backend == "mock"
