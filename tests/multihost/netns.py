"""Virtual lab computers for tests: Linux network namespaces on one bridge, nothing leaves the machine.

Each host is a network namespace with a loopback and one veth whose peer is enslaved to a bridge
(itself in a namespace of its own, so the machine's own interfaces never see the lab's traffic);
addresses come from a private /24 (10.231.x.0/24) that exists only inside the namespaces. Names carry
a short random tag so parallel runs never meet, and `close()` removes every namespace (and with it
every veth and the bridge) even after a failed test. Needs root (CAP_NET_ADMIN): `require_root()`
raises with the reason instead of skipping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass


class NetnsUnavailableError(RuntimeError):
    """The multihost tests cannot build their hosts here (not root, or no `ip netns`)."""


def require_root() -> None:
    """Fail loudly when network namespaces cannot be made: the multihost tests never skip."""
    if os.geteuid() != 0:
        raise NetnsUnavailableError(
            f"the multihost tests build network namespaces and need root (CAP_NET_ADMIN); running as uid "
            f"{os.geteuid()}: run them as root (CI does) or deselect them with -m 'not multihost'"
        )
    if subprocess.run(["ip", "netns", "list"], capture_output=True, check=False).returncode != 0:
        raise NetnsUnavailableError("`ip netns list` failed: iproute2 with network namespace support is needed")


def ip(*args: str, netns: str | None = None) -> None:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(command)}` failed ({done.returncode}): {done.stderr.strip()}")


@dataclass(frozen=True)
class Host:
    """One virtual computer: its namespace, its address and the bridge-side end of its cable."""

    name: str
    netns: str
    address: str
    veth: str  # inside the host's namespace
    cable: str  # the peer, on the bridge (pulling it down is pulling the cable)

    def command(self, argv: Sequence[str]) -> list[str]:
        """argv run inside this host's network namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]


class VirtualNetwork:
    """A bridge and some hosts on 10.231.<subnet>.0/24; remove with close() (also after errors)."""

    def __init__(self, host_names: Sequence[str], subnet: int | None = None) -> None:
        require_root()
        self.tag = secrets.token_hex(3)
        self.subnet = subnet if subnet is not None else 1 + secrets.randbelow(250)
        self.switch = f"plsw-{self.tag}"
        self.hosts: dict[str, Host] = {}
        self._namespaces: list[str] = []
        try:
            self._add_namespace(self.switch)
            ip("link", "add", "br0", "type", "bridge", netns=self.switch)
            ip("link", "set", "br0", "up", netns=self.switch)
            for index, name in enumerate(host_names, start=1):
                self._add_host(name, index)
        except BaseException:
            self.close()
            raise

    def _add_namespace(self, name: str) -> None:
        ip("netns", "add", name)
        self._namespaces.append(name)
        ip("link", "set", "lo", "up", netns=name)

    def _add_host(self, name: str, index: int) -> None:
        netns = f"plh{index}-{self.tag}"
        self._add_namespace(netns)
        veth, cable = f"eth-{self.tag}", f"c{index}-{self.tag}"
        ip("link", "add", veth, "netns", netns, "type", "veth", "peer", "name", cable, "netns", self.switch)
        ip("link", "set", cable, "master", "br0", netns=self.switch)
        ip("link", "set", cable, "up", netns=self.switch)
        address = f"10.231.{self.subnet}.{10 + index}"
        ip("addr", "add", f"{address}/24", "dev", veth, netns=netns)
        ip("link", "set", veth, "up", netns=netns)
        # DDS discovery is multicast: route it out of the lab interface (the namespace has no default route)
        ip("route", "add", "224.0.0.0/4", "dev", veth, netns=netns)
        self.hosts[name] = Host(name, netns, address, veth, cable)

    def set_link(self, host: str, up: bool) -> None:
        """Plug or pull a host's cable (its bridge-side end: the host's own interface stays up)."""
        ip("link", "set", self.hosts[host].cable, "up" if up else "down", netns=self.switch)

    def close(self) -> None:
        for netns in reversed(self._namespaces):
            with contextlib.suppress(RuntimeError):
                ip("netns", "del", netns)
        self._namespaces.clear()

    def __enter__(self) -> VirtualNetwork:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
