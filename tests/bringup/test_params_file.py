"""launch/powderlab.yaml sets only parameters the nodes declare (rclpy would drop others silently)."""

import yaml

from powderlab.core.resources import data_path
from powderlab.core.site import SiteProfile
from powderlab.dashboard.server import PARAMETERS as DASHBOARD
from powderlab.nodes.station_node import COMMON_PARAMETERS
from powderlab.nodes.teleop import JOY_PARAMETERS
from powderlab.stations.factory import STATION_CLASSES

MANAGER = {
    "autostart",
    "health_period_s",
    "transition_timeout_s",
    "service_wait_s",
    "managed_nodes",
    "liveliness_lease_s",
    "reactivate",
}
SIM_CLOCK = {"time_factor", "publish_rate_hz"}


def test_every_key_is_a_declared_parameter():
    document = yaml.safe_load(data_path("launch", "powderlab.yaml").read_text())
    site = SiteProfile.load("default")
    for key, section in document.items():
        node = key.removeprefix("/**/")
        keys = set(section["ros__parameters"])
        if node == "lab_manager":
            allowed = MANAGER
        elif node == "sim_clock":
            allowed = SIM_CLOCK
        elif node == "dashboard":
            allowed = set(DASHBOARD)
        elif node == "joy_teleop":
            allowed = set(JOY_PARAMETERS)
        else:
            allowed = set(COMMON_PARAMETERS) | set(STATION_CLASSES[site.station(node).kind].default_parameters)
        assert keys <= allowed, f"{key}: undeclared {sorted(keys - allowed)}"


def test_every_station_of_the_default_site_has_a_section():
    document = yaml.safe_load(data_path("launch", "powderlab.yaml").read_text())
    for station in SiteProfile.load("default").stations:
        assert f"/**/{station}" in document
