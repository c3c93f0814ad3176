"""Users file, password hashing, sessions and the add-user command."""

import subprocess
import sys

import pytest
import yaml

from powderlab.core.errors import ValidationError
from powderlab.dashboard.auth import Sessions, UserStore, add_user, hash_password, verify_password


def test_hash_round_trip_and_salt():
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$16384$8$1$") and "correct horse" not in stored
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert hash_password("correct horse") != stored  # a new salt each time
    assert not verify_password("x", "md5$abc") and not verify_password("x", "garbage")


def test_users_file_is_reread_when_it_changes(tmp_path):
    path = tmp_path / "users.yaml"
    store = UserStore(path)
    assert store.names() == [] and not store.authenticate("alice", "secret-pass")
    add_user(path, "alice", "secret-pass")
    assert store.names() == ["alice"] and store.authenticate("alice", "secret-pass")
    assert not store.authenticate("alice", "wrong-pass") and not store.authenticate("bob", "secret-pass")
    add_user(path, "bob", "another-pass")
    assert store.names() == ["alice", "bob"]
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert "secret-pass" not in path.read_text()
    assert set(yaml.safe_load(path.read_text())["users"]) == {"alice", "bob"}


@pytest.mark.parametrize(
    ("name", "password", "field"), [("a b", "long-enough", "user name"), ("carol", "short", "password")]
)
def test_bad_users_are_refused(tmp_path, name, password, field):
    with pytest.raises(ValidationError, match=field):
        add_user(tmp_path / "users.yaml", name, password)


def test_sessions_expire():
    sessions = Sessions(timeout_s=0.05)
    token = sessions.create("alice")
    assert sessions.user(token) == "alice" and sessions.user("forged") is None and sessions.user(None) is None
    import time

    time.sleep(0.1)
    assert sessions.user(token) is None
    token = sessions.create("alice")
    sessions.end(token)
    assert sessions.user(token) is None


def test_add_user_command(tmp_path):
    path = tmp_path / "users.yaml"
    result = subprocess.run(
        [sys.executable, "-m", "powderlab", "dashboard", "add-user", "tech1", "--users", str(path), "--password-stdin"],
        input="a-long-password\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "tech1" in result.stdout and UserStore(path).authenticate("tech1", "a-long-password")
    listed = subprocess.run(
        [sys.executable, "-m", "powderlab", "dashboard", "users", "--users", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.stdout.strip() == "tech1"
