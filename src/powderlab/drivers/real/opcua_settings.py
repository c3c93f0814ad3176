"""How to reach an OPC UA server, read from a device's `connection:` in the site profile.

Security is Basic256Sha256 with Sign or SignAndEncrypt, a client certificate + key (made by
`powderlab certs create`), the server's certificate to trust, and a username / password (the
password from an environment variable, never from the profile). `security: none` (anonymous, no
signing) is refused unless the profile marks the connection `emulator: true` and the endpoint is
on the loopback interface: real hardware never runs unsecured by accident.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from powderlab.core.errors import ValidationError

SECURITY_MODES = ("none", "Basic256Sha256,Sign", "Basic256Sha256,SignAndEncrypt")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class OpcUaSettings:
    """Endpoint, namespace and security of one OPC UA connection."""

    endpoint: str
    namespace: str
    security: str = "none"
    certificate: Path | None = None
    private_key: Path | None = None
    server_certificate: Path | None = None
    application_uri: str = "urn:powderlab:client"
    username: str | None = None
    password: str | None = None
    request_timeout_s: float = 4.0
    publish_interval_ms: float = 20.0
    reconnect_initial_s: float = 0.2
    reconnect_max_s: float = 5.0
    watchdog_s: float = 3.0
    min_wait_s: float = 2.0

    @property
    def secured(self) -> bool:
        return self.security != "none"


def _path(value: Any, base: Path | None) -> Path | None:
    if not value:
        return None
    path = Path(os.path.expanduser(str(value)))
    if not path.is_absolute() and base is not None:
        path = base / path
    return path


def opcua_settings(device: str, connection: Mapping[str, Any], base: Path | None = None) -> OpcUaSettings:
    """Parse and check the OPC UA part of a connection; errors name the key and what is allowed."""
    where = f"{device}: connection"
    endpoint = str(connection.get("endpoint") or "")
    if not endpoint.startswith("opc.tcp://"):
        raise ValidationError(f"{where}.endpoint", f"'{endpoint}' is not an opc.tcp:// endpoint")
    security = str(connection.get("security", "none"))
    if security not in SECURITY_MODES:
        raise ValidationError(f"{where}.security", f"'{security}' is not allowed; allowed: {', '.join(SECURITY_MODES)}")
    if security == "none":
        host = urlparse(endpoint).hostname or ""
        if not connection.get("emulator") or host not in LOOPBACK_HOSTS:
            raise ValidationError(
                f"{where}.security",
                "'none' (anonymous, unsigned) is allowed only for emulators on 127.0.0.1 (emulator: true); "
                "use Basic256Sha256,SignAndEncrypt with certificates from `powderlab certs create`",
            )
    password = connection.get("password")
    if password is None and connection.get("password_env"):
        password = os.environ.get(str(connection["password_env"]))
        if password is None:
            raise ValidationError(
                f"{where}.password_env", f"environment variable {connection['password_env']} is not set"
            )
    settings = OpcUaSettings(
        endpoint=endpoint,
        namespace=str(connection.get("namespace", "urn:powderlab:emulator")),
        security=security,
        certificate=_path(connection.get("certificate"), base),
        private_key=_path(connection.get("private_key"), base),
        server_certificate=_path(connection.get("server_certificate"), base),
        application_uri=str(connection.get("application_uri", "urn:powderlab:client")),
        username=connection.get("username"),
        password=None if password is None else str(password),
        request_timeout_s=float(connection.get("request_timeout_s", 4.0)),
        publish_interval_ms=float(connection.get("publish_interval_ms", 20.0)),
        reconnect_initial_s=float(connection.get("reconnect_initial_s", 0.2)),
        reconnect_max_s=float(connection.get("reconnect_max_s", 5.0)),
        watchdog_s=float(connection.get("watchdog_s", 3.0)),
        min_wait_s=float(connection.get("min_wait_s", 2.0)),
    )
    if settings.secured:
        for key in ("certificate", "private_key", "server_certificate"):
            path = getattr(settings, key)
            if path is None:
                raise ValidationError(f"{where}.{key}", f"is required with security {security}")
            if not path.is_file():
                raise ValidationError(f"{where}.{key}", f"no file at {path}; create it with `powderlab certs create`")
    return settings
