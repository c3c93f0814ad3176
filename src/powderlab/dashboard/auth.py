"""Users of the dashboard (a YAML file of scrypt-hashed passwords) and login sessions.

The users file looks like::

    users:
      alice:
        password: scrypt$16384$8$1$<salt, base64>$<hash, base64>

Add or change a user with `powderlab dashboard add-user NAME` (asks for the password twice, or
reads it from stdin with --password-stdin); never write a password in clear. The file is re-read
when it changes, so adding a user needs no restart. Hashing is the standard library's scrypt
(hashlib.scrypt, RFC 7914), compared in constant time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from powderlab.core.errors import ValidationError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD_LENGTH = 8


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """An scrypt hash string `scrypt$N$r$p$salt$hash` (salt: 16 random bytes unless given)."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """True when password matches the stored scrypt hash (False for any malformed hash)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def check_user_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise ValidationError("user name", f"'{name}' is not allowed; use 1-64 letters, digits, '_', '.', '-'")
    return name


def add_user(path: Path, name: str, password: str) -> None:
    """Add or replace a user in the users file (created with mode 0600), written atomically."""
    check_user_name(name)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError("password", f"at least {MIN_PASSWORD_LENGTH} characters, got {len(password)}")
    path = Path(path)
    document = yaml.safe_load(path.read_text()) if path.is_file() else None
    document = document or {}
    users = document.setdefault("users", {}) or {}
    document["users"] = users
    users[name] = {"password": hash_password(password)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as handle:
        handle.write("# PowderLab dashboard users: add with `powderlab dashboard add-user NAME`\n")
        yaml.safe_dump(document, handle, sort_keys=True)
    os.chmod(handle.name, 0o600)
    os.replace(handle.name, path)


class UserStore:
    """The users file, re-read when it changes; a missing file means no users (read-only dashboard)."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path else None
        self._users: dict[str, str] = {}
        self._mtime: float | None = None
        self._lock = threading.Lock()

    def _reload(self) -> None:
        if self.path is None or not self.path.is_file():
            self._users, self._mtime = {}, None
            return
        mtime = self.path.stat().st_mtime
        if mtime == self._mtime:
            return
        document = yaml.safe_load(self.path.read_text()) or {}
        users = document.get("users") or {}
        if not isinstance(users, dict):
            raise ValidationError(f"users file {self.path}", "'users' must be a mapping of name -> {password: ...}")
        self._users = {str(n): str((u or {}).get("password", "")) for n, u in users.items()}
        self._mtime = mtime

    def names(self) -> list[str]:
        with self._lock:
            self._reload()
            return sorted(self._users)

    def authenticate(self, name: str, password: str) -> bool:
        with self._lock:
            self._reload()
            stored = self._users.get(name)
        if stored is None:
            verify_password(password, hash_password("timing"))  # same work for unknown users
            return False
        return verify_password(password, stored)


@dataclass
class Session:
    """A logged-in user."""

    user: str
    expires: float


class Sessions:
    """Random bearer tokens (kept in an HttpOnly cookie) -> user, with an idle timeout."""

    def __init__(self, timeout_s: float = 8 * 3600.0) -> None:
        self.timeout_s = timeout_s
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[token] = Session(user, time.monotonic() + self.timeout_s)
        return token

    def user(self, token: str | None) -> str | None:
        """The user of a live session (and the session's timeout restarts), or None."""
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            now = time.monotonic()
            if session is None or session.expires < now:
                self._sessions.pop(token, None)
                return None
            session.expires = now + self.timeout_s
            return session.user

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)
