"""Where the package's data folders (hardware/, launch/, sim/, urdf/) are.

In a source checkout (editable install, tests, `make sim`) they are the repository's top-level
folders. In a colcon or pip install they are under <prefix>/share/powderlab. We look at the
checkout first so edits take effect without reinstalling.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

PACKAGE = "powderlab"


def share_dir() -> Path:
    """The folder that holds hardware/, launch/, sim/ and urdf/."""
    checkout = Path(__file__).resolve().parents[3]
    if (checkout / "package.xml").is_file() and (checkout / "hardware").is_dir():
        return checkout
    prefixes = [sys.prefix, *os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep)]
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
