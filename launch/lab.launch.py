"""Bring up a whole PowderLab lab on a ROS 2 Jazzy install.

    ros2 launch powderlab lab.launch.py backend:=mock
    ros2 launch powderlab lab.launch.py backend:=sim
    ros2 launch powderlab lab.launch.py backend:=real site:=<your site profile>

Every node, namespace and parameter comes from powderlab.bringup (the same manifest that
`powderlab up` starts); this file only turns it into launch_ros actions. Station nodes are
lifecycle nodes; the lab_manager node configures and activates them (autostart:=true).

On a lab of several computers each runs its share: `host:=NAME` (a host of the site profile).
Stations are respawned when they die, and the lab manager re-activates them (ADR 0096).
"""

from launch.actions import DeclareLaunchArgument, OpaqueFunction, SetEnvironmentVariable
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node

from launch import LaunchDescription
from powderlab.bringup.launch_args import LAUNCH_ARGUMENTS, manifest_from_launch_args
from powderlab.bringup.processes import RESPAWN_DELAY_S, RESPAWNED


def launch_setup(context, *args, **kwargs):
    values = {name: LaunchConfiguration(name).perform(context) for name, _, _ in LAUNCH_ARGUMENTS}
    manifest = manifest_from_launch_args(values)
    log_arguments = ["--ros-args", "--log-level", values["log_level"]]
    # a host's share discovers the lab's other computers as the site profile says (ADR 0095)
    actions = [SetEnvironmentVariable(name, value) for name, value in manifest.environment.items()]
    for node in manifest.nodes:
        node_class = LifecycleNode if node.lifecycle else Node
        respawn = node.module in RESPAWNED
        actions.append(
            node_class(
                package="powderlab",
                executable=node.executable,
                name=node.name,
                namespace=node.namespace,
                parameters=[str(manifest.params_file), dict(node.parameters)],
                arguments=log_arguments,
                output="screen",
                respawn=respawn,
                respawn_delay=RESPAWN_DELAY_S if respawn else 0.0,
            )
        )
    return actions


def generate_launch_description():
    declared = [
        DeclareLaunchArgument(name, default_value=default, description=description)
        for name, default, description in LAUNCH_ARGUMENTS
    ]
    return LaunchDescription([*declared, OpaqueFunction(function=launch_setup)])
