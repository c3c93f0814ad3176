"""Where the package's data folders (hardware/, launch/, sim/, urdf/) are.

In a source checkout (editable install, tests, `make sim`) they are the repository's top-level
folders. In a colcon or pip install they are under <prefix>/share/powderlab. We look at the
checkout first so edits take effect without reinstalling, then at the prefix the imported package
was installed into (<prefix>/lib/pythonX.Y/site-packages/powderlab for colcon and `pip install
--prefix`, <target>/powderlab for `pip install --target`), so an installed package uses its own
data even when another prefix (the venv, AMENT_PREFIX_PATH) holds an older copy; then sys.prefix
and AMENT_PREFIX_PATH.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "powderlab"


def share_dir() -> Path:
    """The folder that holds hardware/, launch/, sim/ and urdf/."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1]
    if (checkout / "package.xml").is_file() and (checkout / "hardware").is_dir():
        return checkout
    # site-packages, pythonX.Y, lib, <prefix>: the prefix is at most four folders up
    installed = [str(folder) for folder in package.parents[:4]]
    prefixes = [*installed, sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
    for prefix in prefixes:
        candidate = Path(prefix) / "share" / PACKAGE
        if prefix and (candidate / "hardware").is_dir():
            return candidate
    raise FileNotFoundError(
        f"cannot find the powderlab share folder (looked in {checkout} and <prefix>/share/{PACKAGE} "
        f"for prefixes {prefixes})"
    )


def data_path(*parts: str) -> Path:
    """A path below the share folder, e.g. data_path('hardware', 'default.yaml')."""
    return share_dir().joinpath(*parts)
