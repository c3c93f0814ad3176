"""PowderLab: a ROS 2 control stack for autonomous solid-state synthesis labs."""

__version__ = "0.1.0"
