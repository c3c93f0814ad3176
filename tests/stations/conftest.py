"""A whole lab in one process on the mock backend and a virtual clock."""

import pytest

from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile
from powderlab.stations.lab import LocalLab
from powderlab.stations.transfer import TransferRequest


@pytest.fixture
def lab():
    lab = LocalLab(SiteProfile.load("default"))
    yield lab
    lab.close()


def move(lab, labware, source, destination, sample_id=""):
    outcome = lab["transfer"].run("transfer", TransferRequest(SampleRef(sample_id, labware), source, destination))
    assert outcome.ok, outcome.message
    return outcome
