"""UR5e forward and inverse kinematics."""

import numpy as np
import pytest

from powderlab.core.errors import ErrorCode, ValidationError
from powderlab.drivers.kinematics import Pose, forward, inverse


def test_zero_pose_matches_the_published_geometry():
    flange = forward([0, 0, 0, 0, 0, 0])[:3, 3]
    # all joints at zero: the arm stretches along -x: a2 + a3 = -0.8172 m; y = -(d4 + d6)... per UR's DH
    assert flange[0] == pytest.approx(-0.8172, abs=1e-4)
    assert flange[1] == pytest.approx(-(0.1333 + 0.0996), abs=1e-4)
    assert flange[2] == pytest.approx(0.1625 - 0.0997, abs=1e-4)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_inverse_undoes_forward(seed):
    rng = np.random.default_rng(seed)
    q = rng.uniform(-2.5, 2.5, 6)
    pose = Pose.from_matrix(forward(q))
    solution = inverse(pose, q + rng.normal(0, 0.05, 6))
    assert forward(solution)[:3, 3] == pytest.approx(forward(q)[:3, 3], abs=1e-4)


def test_out_of_reach_is_not_reachable():
    with pytest.raises(ValidationError) as error:
        inverse(Pose(2.0, 0.0, 0.2), [0, -1.5, 1.5, -1.5, -1.5, 0])
    assert error.value.code is ErrorCode.NOT_REACHABLE and "reach" in str(error.value)
