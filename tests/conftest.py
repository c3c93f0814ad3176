"""Test-wide settings: keep ROS 2 on loopback, in its own domain, with logs in a temp folder."""

from __future__ import annotations

import os
import tempfile

# Set before anything imports rclpy. Each pytest process (and xdist worker) gets its own domain
# so parallel runs never see each other's nodes.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or "0"
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")
os.environ.setdefault("ROS_DOMAIN_ID", str(10 + (os.getpid() % 40) * 2 + int(_worker) % 2))
_ros_home = tempfile.mkdtemp(prefix="powderlab-ros-")
os.environ.setdefault("ROS_HOME", _ros_home)
os.environ.setdefault("ROS_LOG_DIR", os.path.join(_ros_home, "log"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
