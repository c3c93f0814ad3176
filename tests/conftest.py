"""Test-wide settings: keep ROS 2 on loopback, in its own domain, with logs in a temp folder."""

from __future__ import annotations

import os
import random
import tempfile

# Set before anything imports rclpy. Each pytest process (and xdist worker) picks its own domain
# so parallel runs on one machine never see each other's nodes.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
# Fast DDS allows domain ids 0-232: a wide range, so test runs in parallel on one machine rarely meet
os.environ.setdefault("ROS_DOMAIN_ID", str(random.SystemRandom().randint(1, 232)))
_ros_home = tempfile.mkdtemp(prefix="powderlab-ros-")
os.environ.setdefault("ROS_HOME", _ros_home)
os.environ.setdefault("ROS_LOG_DIR", os.path.join(_ros_home, "log"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Jazzy skips message field type checks unless asked; an int in a float64 field then serialises
# as garbage. Tests (and the node processes they start) check every field.
os.environ["ROS_PYTHON_CHECK_FIELDS"] = "1"
