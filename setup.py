"""The powderlab ROS 2 package (ament_python), installable by colcon and by pip."""

from pathlib import Path

from setuptools import find_packages, setup

PACKAGE = "powderlab"
ROOT = Path(__file__).resolve().parent


def data_tree(folder: str) -> list[tuple[str, list[str]]]:
    """(install dir, files) pairs for every file under a top-level data folder."""
    entries: dict[str, list[str]] = {}
    for path in sorted((ROOT / folder).rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            relative = path.relative_to(ROOT)
            entries.setdefault(f"share/{PACKAGE}/{relative.parent}", []).append(str(relative))
    return sorted(entries.items())


setup(
    name=PACKAGE,
    version="0.1.0",
    description="ROS 2 control stack for autonomous solid-state synthesis labs",
    license="Apache-2.0",
    python_requires=">=3.11",
    package_dir={"": "src"},
    packages=find_packages("src"),
    include_package_data=True,
    package_data={"": ["*.yaml", "*.json", "*.json.gz", "*.cif", "*.html", "*.js", "*.css", "*.csv", "*.txt"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        *data_tree("launch"),
        *data_tree("hardware"),
        *data_tree("sim"),
        *data_tree("urdf"),
    ],
    zip_safe=False,
    entry_points={
        "console_scripts": [
            "powderlab = powderlab.cli.main:main",
            "station_node = powderlab.nodes.station_node:main",
            "lab_manager = powderlab.nodes.lab_manager:main",
            "sim_clock = powderlab.nodes.sim_clock:main",
            "twin_node = powderlab.nodes.twin_node:main",
            "autonomy_node = powderlab.nodes.autonomy_node:main",
            "dashboard = powderlab.dashboard.server:main",
            "joy_teleop = powderlab.nodes.teleop:main",
        ],
    },
)
