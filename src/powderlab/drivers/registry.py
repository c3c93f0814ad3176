"""Backends by name. Each backend module offers build_devices(station, clock, options)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.errors import UnknownResourceError
from powderlab.core.site import StationConfig
from powderlab.drivers.base import Device

# "real" picks the protocol (opcua / serial) per device from its `connection:` in the site profile.
BACKEND_MODULES = {
    "mock": "powderlab.drivers.mock",
    "sim": "powderlab.drivers.sim",
    "real": "powderlab.drivers.real",
}


def build_devices(
    station: StationConfig, backend: str, clock: Clock, options: Mapping[str, Any] | None = None
) -> dict[str, Device]:
    """The devices of one station on one backend, not yet connected."""
    if backend not in BACKEND_MODULES:
        raise UnknownResourceError("backend", backend, BACKEND_MODULES)
    try:
        module = importlib.import_module(BACKEND_MODULES[backend])
    except ModuleNotFoundError as error:
        if error.name == BACKEND_MODULES[backend]:
            raise UnknownResourceError("backend (not built yet)", backend, ["mock"]) from None
        raise
    return module.build_devices(station, clock, options or {})
