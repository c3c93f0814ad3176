"""`${NAME}` placeholders in connections (the emulated profile's port paths and OPC UA port).

Values come from, in order: the backend options' `variables`, the environment, the defaults
here. Real site profiles need none of this; they name their ports and endpoints outright.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

DEFAULTS = {
    "POWDERLAB_EMULATOR_DIR": f"/tmp/powderlab-emulated-{os.getuid()}",
    "POWDERLAB_OPCUA_PORT": "48400",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def lookup(name: str, overrides: Mapping[str, Any] | None = None) -> str:
    if overrides and name in overrides:
        return str(overrides[name])
    return os.environ.get(name, DEFAULTS.get(name, "${" + name + "}"))


def expand(value: Any, overrides: Mapping[str, Any] | None = None) -> Any:
    """The value with every ${NAME} in its strings replaced (mappings and lists recursively)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda match: lookup(match.group(1), overrides), value)
    if isinstance(value, Mapping):
        return {key: expand(item, overrides) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [expand(item, overrides) for item in value]
    return value
