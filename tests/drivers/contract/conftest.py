"""Fixtures of the contract suite: one harness per backend, per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.drivers.contract.harness import HARNESSES, Harness, backends_for


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize `harness` by every backend that has the module's device kind (DEVICE_KIND)."""
    if "harness" in metafunc.fixturenames:
        kind = metafunc.module.DEVICE_KIND
        metafunc.parametrize("backend", backends_for(kind), scope="function")


@pytest.fixture
def harness(backend: str) -> Iterator[Harness]:
    instance = HARNESSES[backend]()
    try:
        yield instance
    finally:
        instance.close()
