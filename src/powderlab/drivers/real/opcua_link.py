"""One OPC UA client connection: subscriptions into a value cache, method calls, reconnect.

Values a driver watches arrive through one subscription (data changes, never polling) and land
in a cache guarded by a condition variable, so a blocking driver call can wait for "command 7
done" without spinning. When the connection drops, the link says so at once (connected False,
waiters woken with DeviceDisconnectedError) and a supervisor reconnects with exponential backoff;
nothing sent before the loss is assumed to have happened.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceDisconnectedError, DeviceError, DeviceTimeoutError
from powderlab.drivers.real.aio import LoopThread
from powderlab.drivers.real.opcua_settings import OpcUaSettings

# asyncua logs a traceback for every publish that meets a closed connection; the link reports the
# loss itself (status, last_error), so those records are noise here.
logging.getLogger("asyncua.client.ua_session").setLevel(logging.CRITICAL)
logging.getLogger("asyncua.common.subscription").setLevel(logging.ERROR)  # "revised values" notices

SECURITY_ERRORS = (
    ua.uaerrors.BadIdentityTokenRejected,
    ua.uaerrors.BadIdentityTokenInvalid,
    ua.uaerrors.BadUserAccessDenied,
    ua.uaerrors.BadCertificateInvalid,
    ua.uaerrors.BadCertificateUntrusted,
    ua.uaerrors.BadSecurityChecksFailed,
    ua.uaerrors.BadSecurityPolicyRejected,
)


# Status codes that mean the link itself is gone (server stopping, session or channel closed).
LINK_STATUS_ERRORS = frozenset(
    {
        "BadShutdown",
        "BadServerHalted",
        "BadSessionClosed",
        "BadSessionIdInvalid",
        "BadSessionNotActivated",
        "BadSecureChannelClosed",
        "BadSecureChannelIdInvalid",
        "BadConnectionClosed",
        "BadCommunicationError",
        "BadNotConnected",
        "BadTimeout",
        "BadServerNotConnected",
        "BadTooManySessions",
    }
)


class _Handler:
    """asyncua subscription handler: data changes into the link's cache."""

    def __init__(self, link: OpcUaLink) -> None:
        self.link = link

    def datachange_notification(self, node: Any, value: Any, data: Any) -> None:
        self.link._update(node.nodeid, value)

    def status_change_notification(self, status: Any) -> None:
        self.link._lost(f"subscription status {status}")


class OpcUaLink:
    """A supervised OPC UA session with a cache of watched variables (relative string node ids)."""

    def __init__(self, device: str, settings: OpcUaSettings, watched: Sequence[str]) -> None:
        self.device = device
        self.settings = settings
        self.watched = list(watched)
        self._cond = threading.Condition()
        self._cache: dict[str, Any] = {}
        self._keys: dict[ua.NodeId, str] = {}
        self._connected = False
        self._generation = 0  # bumps on every loss, so waits started before it fail
        self._closing = False
        self._loop: LoopThread | None = None
        self._client: Client | None = None
        self._ns = 0
        self._lost_event: asyncio.Event | None = None
        self._supervisor: Any = None
        self.last_error = ""
        self.reconnects = 0

    # --- node ids ---
    def node_id(self, key: str) -> ua.NodeId:
        """A node id from a relative string id (in the link's namespace) or a full 'ns=..;s=..' id."""
        if key.startswith(("ns=", "i=", "s=", "nsu=")):
            return ua.NodeId.from_string(key)
        return ua.NodeId(key, self._ns)

    # --- lifecycle ---
    @property
    def connected(self) -> bool:
        return self._connected

    def connect(self) -> None:
        """Connect, subscribe and start the reconnect supervisor. Idempotent."""
        if self._connected:
            return
        self._close_loop()
        self._closing = False
        self._loop = LoopThread(self.device)
        try:
            self._loop.run(self._open(), self.settings.request_timeout_s * 3)
        except SECURITY_ERRORS as error:
            self._close_loop()
            raise DeviceError(
                self.device, f"OPC UA server {self.settings.endpoint} refused the session: {error}"
            ) from None
        except (OSError, TimeoutError, ua.UaError, ConnectionError) as error:
            self._close_loop()
            reason = self._describe(error)
            raise DeviceDisconnectedError(
                self.device, f"cannot connect to {self.settings.endpoint}: {reason}"
            ) from None
        self._supervisor = self._loop.spawn(self._supervise())

    def disconnect(self) -> None:
        """Close the session and stop the supervisor. Idempotent."""
        self._closing = True
        if self._loop is not None and self._client is not None:
            try:
                self._loop.run(self._close_client(), 3.0)
            except Exception:
                pass
        self._close_loop()
        self._set_connected(False)

    def _close_loop(self) -> None:
        if self._loop is not None:
            self._loop.close()
            self._loop = None
        self._client = None

    @staticmethod
    def _describe(error: BaseException) -> str:
        text = str(error) or type(error).__name__
        if isinstance(error, ConnectionRefusedError):
            return f"connection refused ({text})"
        return text

    async def _open(self) -> None:
        settings = self.settings
        # The watchdog probes the server every watchdog_s and counts a probe slower than that as a lost
        # link; a server that goes away closes the socket, which is noticed at once regardless.
        client = Client(settings.endpoint, timeout=settings.request_timeout_s, watchdog_intervall=settings.watchdog_s)
        client.application_uri = settings.application_uri
        client.session_timeout = 600_000  # what servers grant anyway (asyncua warns when it is cut)
        client.name = client.description = f"PowderLab {self.device}"
        if settings.secured:
            mode = (
                ua.MessageSecurityMode.SignAndEncrypt
                if settings.security.endswith("SignAndEncrypt")
                else ua.MessageSecurityMode.Sign
            )
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                certificate=str(settings.certificate),
                private_key=str(settings.private_key),
                server_certificate=str(settings.server_certificate),
                mode=mode,
            )
        if settings.username:
            client.set_user(settings.username)
            client.set_password(settings.password or "")
        client.connection_lost_callback = self._on_connection_lost
        await client.connect()
        try:
            self._ns = await client.get_namespace_index(settings.namespace)
            self._keys = {self.node_id(key): key for key in self.watched}
            if self.watched:
                nodes = [client.get_node(node_id) for node_id in self._keys]
                values = await client.read_values(nodes)
                for key, value in zip(self._keys.values(), values, strict=True):
                    self._store(key, value)
                subscription = await client.create_subscription(settings.publish_interval_ms, _Handler(self))
                await subscription.subscribe_data_change(nodes, queuesize=10)
        except BaseException:
            await client.disconnect()
            raise
        self._client = client
        self._lost_event = asyncio.Event()
        self._set_connected(True)

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), 2.0)
            except Exception:
                pass

    async def _on_connection_lost(self, error: Exception) -> None:
        self._lost(f"connection lost: {error!r}")

    def _lost(self, reason: str) -> None:
        if self._closing or not self._connected:
            return
        self.last_error = reason
        self._set_connected(False)
        if self._loop is not None and self._lost_event is not None:
            self._loop.loop.call_soon_threadsafe(self._lost_event.set)

    async def _supervise(self) -> None:
        """Wait for a loss, then reconnect with exponential backoff until it works or we close."""
        while not self._closing:
            assert self._lost_event is not None
            await self._lost_event.wait()
            await self._close_client()
            delay = self.settings.reconnect_initial_s
            while not self._closing:
                await asyncio.sleep(delay)
                try:
                    await asyncio.wait_for(self._open(), self.settings.request_timeout_s * 3)
                except Exception as error:
                    self.last_error = f"reconnect failed: {self._describe(error)}"
                    delay = min(delay * 2, self.settings.reconnect_max_s)
                    continue
                self.reconnects += 1
                break

    # --- cache ---
    def _set_connected(self, connected: bool) -> None:
        with self._cond:
            if self._connected and not connected:
                self._generation += 1
            self._connected = connected
            self._cond.notify_all()

    def _store(self, key: str, value: Any) -> None:
        with self._cond:
            self._cache[key] = value
            self._cond.notify_all()

    def _update(self, node_id: ua.NodeId, value: Any) -> None:
        key = self._keys.get(node_id)
        if key is not None:
            self._store(key, value)

    def value(self, key: str) -> Any:
        """The last value of a watched variable (DeviceDisconnectedError while the link is down)."""
        self.require()
        with self._cond:
            return self._cache.get(key)

    def cached(self, key: str, default: Any = None) -> Any:
        """The last value seen, connected or not (for status reports)."""
        with self._cond:
            return self._cache.get(key, default)

    def require(self) -> None:
        if not self._connected:
            detail = f" ({self.last_error})" if self.last_error else ""
            raise DeviceDisconnectedError(
                self.device, f"OPC UA link to {self.settings.endpoint} is down{detail}; reconnecting with backoff"
            )

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float, clock: Clock, what: str) -> None:
        """Block until predicate() holds on the cache; DeviceTimeoutError after timeout_s of the clock
        (and at least min_wait_s of wall time).

        A connection lost meanwhile raises DeviceDisconnectedError saying the outcome is unknown.
        """
        self.require()
        generation = self._generation
        deadline = clock.now() + timeout_s
        # Notifications travel in wall time: on a device clock running faster than the wall, a short
        # timeout must still leave the link min_wait_s of wall time to deliver the answer.
        wall_deadline = time.monotonic() + self.settings.min_wait_s
        while True:
            with self._cond:
                if self._generation != generation or not self._connected:
                    raise DeviceDisconnectedError(
                        self.device,
                        f"connection to {self.settings.endpoint} lost while waiting for {what} ({self.last_error}); "
                        "its outcome is unknown: check the device before resuming",
                    )
                if predicate():
                    return
                if clock.now() >= deadline and time.monotonic() >= wall_deadline:
                    raise DeviceTimeoutError(self.device, f"{what} did not finish within {timeout_s:g} s")
                self._cond.wait(0.02)
            clock.sleep(0.0)

    # --- services ---
    def _run(self, coroutine: Any, what: str) -> Any:
        self.require()
        assert self._loop is not None
        try:
            return self._loop.run(coroutine, self.settings.request_timeout_s)
        except ua.UaStatusCodeError:
            raise
        except (OSError, TimeoutError, ConnectionError) as error:
            self._lost(f"{what} failed: {self._describe(error)}")
            raise DeviceDisconnectedError(
                self.device,
                f"{what} got no answer from {self.settings.endpoint} ({self._describe(error)}); outcome unknown",
            ) from None

    def read(self, keys: Iterable[str]) -> list[Any]:
        """Read variables now (one Read request); watched ones also refresh the cache."""
        keys = list(keys)

        async def _read() -> list[Any]:
            assert self._client is not None
            return await self._client.read_values([self._client.get_node(self.node_id(k)) for k in keys])

        values = self._run(_read(), f"reading {keys[0]}")
        for key, value in zip(keys, values, strict=True):
            if key in self.watched:
                self._store(key, value)
        return values

    def write(self, key: str, value: Any, variant: ua.VariantType) -> None:
        """Write one variable."""

        async def _write() -> None:
            assert self._client is not None
            await self._client.get_node(self.node_id(key)).write_value(ua.DataValue(ua.Variant(value, variant)))

        self._run(_write(), f"writing {key}")

    def call(self, object_key: str, method_key: str, *args: ua.Variant) -> list[Any]:
        """Call a method; returns its output arguments."""

        async def _call() -> list[Any]:
            assert self._client is not None
            result = await self._client.get_node(self.node_id(object_key)).call_method(self.node_id(method_key), *args)
            if result is None:
                return []
            return list(result) if isinstance(result, list) else [result]

        return self._run(_call(), f"calling {method_key}")
