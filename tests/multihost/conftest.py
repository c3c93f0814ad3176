"""The multihost lab shared by the tests of a module (built once: its start-up is most of the cost)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.multihost.lab import MultiHostLab, folder_for_run


@pytest.fixture(scope="module")
def lab():
    # its own ROS domain, inside the namespaces only; the caller's domain (if any) is reused
    domain = int(os.environ.get("ROS_DOMAIN_ID", "60"))
    folder = folder_for_run()
    try:
        lab = MultiHostLab(folder, domain)  # fails loudly (NetnsUnavailableError) when not root
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        lab.startup_s = lab.start()
        yield lab
    finally:
        try:
            lab.close()  # namespaces, veths, bridge and the PostgreSQL server: also after a failure
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # (a failing test has printed the logs it needs)
