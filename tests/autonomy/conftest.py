"""Fixtures of the autonomy tests."""

from __future__ import annotations

import pytest

from tests.autonomy.postgres import throwaway_cluster


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on 127.0.0.1 for the whole session, removed afterwards."""
    with throwaway_cluster() as url:
        yield url
