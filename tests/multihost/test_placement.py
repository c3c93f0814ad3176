"""Site profiles that place stations and services on computers, and each computer's share of the lab
(plain Python: no namespaces, no root; ADR 0095)."""

from __future__ import annotations

import pytest
import yaml

from powderlab.bringup.launch_args import manifest_from_launch_args
from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.processes import LabProcesses
from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.resources import data_path
from powderlab.core.site import SiteProfile, parse_site

HOSTS = {
    "control": {"address": "10.231.7.11", "runs": ["lab_manager", "autonomy", "planner", "twin", "transfer"]},
    "weighing": {"address": "10.231.7.12", "runs": ["dosing", "milling"]},
    "furnaces": {"address": "10.231.7.13", "runs": ["furnaces"]},
    "records": {
        "address": "10.231.7.14",
        "runs": ["xrd", "database"],
        "database_url": "postgresql+psycopg://powderlab@10.231.7.14/campaigns",
    },
}


def site(tmp_path, hosts=HOSTS, network=None):
    data = yaml.safe_load(data_path("hardware", "default.yaml").read_text())
    data["hosts"] = hosts
    if network is not None:
        data["network"] = network
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_each_host_starts_only_its_share(tmp_path):
    path = site(tmp_path)
    shares = {
        host: build_manifest("mock", path, host=host, time_factor=100, autonomy=True, dashboard={"port": 0})
        for host in HOSTS
    }
    names = {host: sorted(node.name for node in m.nodes) for host, m in shares.items()}
    assert names == {
        "control": ["autonomy", "dashboard", "lab_manager", "sim_clock", "transfer"],
        "weighing": ["dosing", "milling"],
        "furnaces": ["furnaces"],
        "records": ["xrd"],
    }
    # together they are the whole lab, every node exactly once
    whole = build_manifest("mock", path, time_factor=100, autonomy=True, dashboard={"port": 0})
    assert sorted(name for share in names.values() for name in share) == sorted(n.name for n in whole.nodes)
    # the lab manager on one computer manages the stations of all of them
    manager = shares["control"].node("lab_manager").parameters["managed_nodes"]
    assert sorted(manager) == ["dosing", "furnaces", "milling", "transfer", "xrd"]
    assert shares["control"].manages_lab and not shares["weighing"].manages_lab


def test_lockstep_only_beside_the_time_server_and_the_database_from_the_site(tmp_path):
    path = site(tmp_path)
    control = build_manifest("mock", path, host="control", time_factor=100, autonomy=True)
    furnaces = build_manifest("mock", path, host="furnaces", time_factor=100, autonomy=True)
    assert control.node("transfer").parameters["time_server"] == "default"
    # a station on another computer cannot reach the Unix socket: it follows /clock
    assert furnaces.node("furnaces").parameters["time_server"] == ""
    assert furnaces.node("furnaces").parameters["use_sim_time"] is True
    assert control.node("autonomy").parameters["database"] == HOSTS["records"]["database_url"]
    # the engine's goal leases would wait for ever on stations that cannot take them over: no lockstep
    assert "time_server" not in control.node("autonomy").parameters
    assert control.node("sim_clock").parameters["hold_until_work"] is False
    # all stations beside the clock: lockstep as on one machine
    together = {"control": {"runs": ["lab_manager", "autonomy", "twin", "dosing", "milling", "furnaces", "xrd",
                                     "transfer"]}, "records": {"runs": ["database"]}}  # fmt: skip
    control = build_manifest("mock", site(tmp_path, together), host="control", time_factor=100, autonomy=True)
    assert control.node("autonomy").parameters["time_server"] == "default"
    assert control.node("sim_clock").parameters["hold_until_work"] is True


def test_discovery_from_the_site_and_loopback_without_hosts(tmp_path):
    path = site(tmp_path, network={"discovery": "subnet", "static_peers": "hosts"})
    share = build_manifest("mock", path, host="weighing")
    assert share.environment["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    peers = sorted(share.environment["ROS_STATIC_PEERS"].split(";"))
    assert peers == ["10.231.7.11", "10.231.7.12", "10.231.7.13", "10.231.7.14"]
    processes = LabProcesses(share, tmp_path / "run", env={"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"})
    assert processes.env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
    assert processes.env["ROS_STATIC_PEERS"] == share.environment["ROS_STATIC_PEERS"]
    # hosts without network: SUBNET; the whole lab on one machine: the caller's environment, loopback by default
    assert build_manifest("mock", site(tmp_path), host="weighing").environment["ROS_AUTOMATIC_DISCOVERY_RANGE"] == (
        "SUBNET"
    )
    single = build_manifest("mock", "default")
    assert single.environment == {} and single.host == ""
    assert LabProcesses(single, tmp_path / "r", env={}).env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert [n.name for n in build_manifest("mock", "default", host="localhost").nodes] == [n.name for n in single.nodes]


def test_the_launch_argument_host(tmp_path):
    path = site(tmp_path)
    manifest = manifest_from_launch_args({"site": str(path), "host": "furnaces", "dashboard": "false"})
    assert [n.name for n in manifest.nodes] == ["furnaces"] and manifest.host == "furnaces"
    assert manifest_from_launch_args({"dashboard": "false"}).host == ""


@pytest.mark.parametrize(
    ("hosts", "network", "message"),
    [
        ({"a": {"runs": ["dosing", "lab_manager"]}}, None, "stations on no host: furnaces, milling, transfer, xrd"),
        ({"a": {"runs": ["dosing", "dosing"]}}, None, "'dosing' already runs on host 'a'"),
        ({"a": {"runs": ["oven"]}}, None, "'oven' is neither a station"),
        ({"a": {"runs": list(HOSTS["weighing"]["runs"])}}, None, "stations on no host"),
        ({"a": {"runs": ["dosing"], "cpu": 4}}, None, "unknown keys ['cpu']"),
        ({"a": {"runs": ["dosing"], "database_url": "x"}}, None, "only a host that runs 'database'"),
        (HOSTS, {"discovery": "everywhere"}, "'everywhere' is not a discovery range; allowed: localhost, subnet"),
        (HOSTS, {"static_peers": 7}, "must be a list of addresses"),
    ],
)
def test_bad_placements_are_refused_with_the_reason(tmp_path, hosts, network, message):
    with pytest.raises(ValidationError) as error:
        SiteProfile.load(site(tmp_path, hosts, network))
    assert message in str(error.value)


def test_no_lab_manager_and_a_planner_away_from_autonomy_are_refused():
    data = yaml.safe_load(data_path("hardware", "default.yaml").read_text())
    everything = ["dosing", "milling", "furnaces", "xrd", "transfer"]
    with pytest.raises(ValidationError, match="no host runs 'lab_manager'"):
        parse_site({**data, "hosts": {"a": {"runs": everything}}})
    with pytest.raises(ValidationError, match="'planner' runs inside the autonomy node"):
        parse_site(
            {**data, "hosts": {"a": {"runs": [*everything, "lab_manager", "autonomy"]}, "b": {"runs": ["planner"]}}}
        )


def test_unknown_host_names_the_sites_hosts(tmp_path):
    with pytest.raises(UnknownResourceError) as error:
        build_manifest("mock", site(tmp_path), host="kitchen")
    assert "kitchen" in str(error.value) and "control" in str(error.value)
    with pytest.raises(UnknownResourceError, match="localhost"):
        build_manifest("mock", "default", host="control")


def test_sim_stations_must_sit_beside_the_twin(tmp_path):
    with pytest.raises(ValidationError, match="its sim drivers reach the twin through a Unix socket"):
        build_manifest("sim", site(tmp_path), host="control")
    # another backend for the remote stations is fine
    remote = {"dosing": "mock", "milling": "mock", "furnaces": "mock", "xrd": "mock"}
    share = build_manifest("sim", site(tmp_path), host="control", station_backends=remote)
    assert "twin" in [n.name for n in share.nodes]


def test_the_example_site_places_every_station():
    profile = SiteProfile.load("example-site")
    assert {profile.host_of(name) for name in profile.stations} <= set(profile.hosts)
    assert profile.network.environment()["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "SUBNET"
