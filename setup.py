"""The powderlab ROS 2 package (ament_python), installable by colcon and by pip."""

from pathlib import Path

from setuptools import setup

PACKAGE = "powderlab"
ROOT = Path(__file__).resolve().parent
SOURCE = ROOT / "src"
SKIPPED = ("__pycache__", ".pyc", ".pyo", ".egg-info", "~", ".swp")


def shipped(path: Path) -> bool:
    """False for build litter (bytecode, editor backups) that never belongs in the package."""
    return path.is_file() and not any(part.endswith(SKIPPED) for part in path.relative_to(ROOT).parts)


def package_tree() -> tuple[list[str], dict[str, list[str]]]:
    """Every package and every data file under src/powderlab, derived from the tree.

    A folder with Python modules is a package (with or without __init__.py); every other file
    (data, static web files, licences) belongs to the nearest package above it. Nothing is listed
    by hand, so a new module, folder or data file cannot be left out of a wheel or a colcon install
    (tests/bringup/test_installed_package.py compares a wheel with `git ls-files src/powderlab`).
    """
    files = [path for path in sorted((SOURCE / PACKAGE).rglob("*")) if shipped(path)]
    folders = {path.parent for path in files if path.suffix == ".py"} | {SOURCE / PACKAGE}
    packages = sorted(".".join(folder.relative_to(SOURCE).parts) for folder in folders)
    data: dict[str, list[str]] = {}
    for path in files:
        if path.suffix == ".py":
            continue
        owner = next(folder for folder in path.parents if folder in folders)
        package = ".".join(owner.relative_to(SOURCE).parts)
        data.setdefault(package, []).append(path.relative_to(owner).as_posix())
    return packages, data


PACKAGES, PACKAGE_DATA = package_tree()


def data_tree(folder: str) -> list[tuple[str, list[str]]]:
    """(install dir, files) pairs for every file under a top-level data folder."""
    entries: dict[str, list[str]] = {}
    for path in sorted((ROOT / folder).rglob("*")):
        if shipped(path):
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
    packages=PACKAGES,
    package_data=PACKAGE_DATA,
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
