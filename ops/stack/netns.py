"""Namespaced hosts: one network namespace per broker node, joined by a bridge.

A fault suite that must cut a broker node off from its peers needs the nodes on separate
network stacks: on one loopback they share every route, and nothing short of killing a
process separates them. Each host here is a network namespace (`ip netns`) with loopback up
and one end of a veth pair holding an address on a private /24; the other end is enslaved to
a bridge in the root namespace, which holds the subnet's first address, so clients in the
root namespace reach every host by its address.

Cutting a host off from its peers adds blackhole routes (the only filter this machine's
kernel offers: there is no iptables, nft or tc action module): the cut host drops what it
sends to its peers and they drop what they send to it, while clients in the root namespace
still reach it. Isolating a host takes its bridge-side link down: nothing reaches it.

Every name (namespaces, links) and the subnet are derived from the stack's port offset, so
two stacks on one machine do not collide, and every step is idempotent: `up` after `up`, and
`down` after `down` or after a crash, leave the same state. The hosts have no default route:
nothing they run can send anywhere but to each other, the bridge and their own loopback.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ops.stack.accounts import StackError

SUBNET_FIRST_OCTETS = "10.213"
FIRST_HOST_OCTET = 11  # host 1 is .11, host 2 .12, ...; .1 is the bridge
NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000


@dataclass(frozen=True)
class Host:
    """One namespaced host: its namespace, its address, and both ends of its veth pair."""

    index: int
    namespace: str
    address: str
    bridge_link: str  # in the root namespace, enslaved to the bridge
    inner_link: str  # inside the namespace, holding `address`


@dataclass(frozen=True)
class HostNetwork:
    """`count` namespaced hosts of the stack with port offset `offset`."""

    offset: int
    count: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 200:
            raise ValueError(f"count: {self.count} hosts; between 1 and 200")
        if self.offset < 0:
            raise ValueError(f"offset: {self.offset}; a port offset is never negative")

    @property
    def prefix(self) -> str:
        """Every name of this network starts so; short, as links take at most 15 characters."""
        return f"sy{self.offset}"

    @property
    def subnet(self) -> ipaddress.IPv4Network:
        """10.213.<offset mod 256>.0/24: stacks whose offsets differ by less than 256 differ."""
        return ipaddress.IPv4Network(f"{SUBNET_FIRST_OCTETS}.{self.offset % 256}.0/24")

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def gateway(self) -> str:
        """The bridge's address: what the hosts see clients in the root namespace come from."""
        return str(self.subnet.network_address + 1)

    @property
    def hosts(self) -> list[Host]:
        base = self.subnet.network_address + FIRST_HOST_OCTET - 1
        return [
            Host(
                index=i,
                namespace=f"switchyard-{self.offset}-host{i}",
                address=str(base + i),
                bridge_link=f"{self.prefix}b{i}",
                inner_link=f"{self.prefix}n{i}",
            )
            for i in range(1, self.count + 1)
        ]

    def host(self, index: int) -> Host:
        if not 1 <= index <= self.count:
            raise ValueError(f"host: {index}; this network has hosts 1 to {self.count}")
        return self.hosts[index - 1]

    def up(self) -> None:
        """Create the bridge, the namespaces and their links; idempotent.

        Raises:
            StackError: not root, `ip` missing, or the subnet is routed by something else.
        """
        require_namespaces()
        if not _link_exists(self.bridge):
            self._check_subnet_free()
            _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "replace", f"{self.gateway}/{self.subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        for host in self.hosts:
            if not (NETNS_DIR / host.namespace).exists():
                _ip("netns", "add", host.namespace)
            ns = ("-n", host.namespace)
            if not _link_exists(host.bridge_link):
                _ip(*ns, "link", "del", host.inner_link, check=False)  # a half-made pair
                _ip(
                    "link", "add", host.bridge_link, "type", "veth", "peer", "name", host.inner_link
                )
                _ip("link", "set", host.inner_link, "netns", host.namespace)
            _ip("link", "set", host.bridge_link, "master", self.bridge, "up")
            _ip(*ns, "link", "set", "lo", "up")
            _ip(*ns, "addr", "replace", f"{host.address}/24", "dev", host.inner_link)
            _ip(*ns, "link", "set", host.inner_link, "up")

    def down(self) -> None:
        """Delete the namespaces (which takes their veth pairs with them) and the bridge;
        idempotent. Processes still running in a namespace keep it alive: stop them first."""
        if os.geteuid() != 0 or shutil.which("ip") is None:
            return
        for host in self.hosts:
            if (NETNS_DIR / host.namespace).exists():
                _ip("netns", "del", host.namespace, check=False)
            _ip("link", "del", host.bridge_link, check=False)
        _ip("link", "del", self.bridge, check=False)

    def exists(self) -> bool:
        return _link_exists(self.bridge)

    def cut_from_peers(self, index: int) -> None:
        """Drop every packet between host `index` and the other hosts, both ways; the root
        namespace (clients) still reaches it. Idempotent."""
        cut = self.host(index)
        for peer in self.hosts:
            if peer.index != cut.index:
                _ip("-n", cut.namespace, "route", "replace", "blackhole", f"{peer.address}/32")
                _ip("-n", peer.namespace, "route", "replace", "blackhole", f"{cut.address}/32")

    def heal(self, index: int) -> None:
        """Undo `cut_from_peers` and `isolate` for host `index`; idempotent."""
        healed = self.host(index)
        for peer in self.hosts:
            if peer.index != healed.index:
                for ns, dst in ((healed.namespace, peer.address), (peer.namespace, healed.address)):
                    _ip("-n", ns, "route", "del", "blackhole", f"{dst}/32", check=False)
        _ip("link", "set", healed.bridge_link, "up")

    def isolate(self, index: int) -> None:
        """Take host `index`'s bridge-side link down: nothing reaches it, nor it anything."""
        _ip("link", "set", self.host(index).bridge_link, "down")

    def cut_hosts(self) -> list[int]:
        """The hosts cut off from every peer: each holds a blackhole route to all the others."""
        hosts = self.hosts
        others = {h.index: {p.address for p in hosts if p.index != h.index} for h in hosts}
        cut = []
        for host in self.hosts:
            routes = _ip("-n", host.namespace, "route", "show", "type", "blackhole", check=False)
            dropped = {line.split()[1].removesuffix("/32") for line in routes.splitlines() if line}
            if others[host.index] and others[host.index] <= dropped:
                cut.append(host.index)
        return cut

    def enter(self, index: int, then: Callable[[], None] | None = None) -> Callable[[], None]:
        """A `preexec_fn` that moves a child into host `index`'s namespace, then runs `then`
        (for example dropping to a service account, which `ip netns exec` cannot follow)."""
        path = str(NETNS_DIR / self.host(index).namespace)
        libc = ctypes.CDLL(None, use_errno=True)

        def _enter() -> None:
            fd = os.open(path, os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns {path}")
            finally:
                os.close(fd)
            if then is not None:
                then()

        return _enter

    def _check_subnet_free(self) -> None:
        routed = _ip("-o", "route", "show", "to", "match", str(self.subnet.network_address + 1))
        for line in routed.splitlines():
            if line.split()[0] == str(self.subnet):
                raise StackError(
                    f"subnet {self.subnet} is already routed ({line.strip()}); another network "
                    f"uses it, so the hosts of offset {self.offset} cannot"
                )


@contextmanager
def host_network(offset: int, count: int = 3) -> Iterator[HostNetwork]:
    """The hosts for the duration of a block; torn down on exit, even after an error."""
    network = HostNetwork(offset, count)
    try:
        network.up()
        yield network
    finally:
        network.down()


def namespaces_unavailable() -> str:
    """Why namespaced hosts cannot be made here, or '' when they can."""
    if os.geteuid() != 0:
        return "namespaced hosts need root (ip netns add, veth pairs, a bridge)"
    if shutil.which("ip") is None:
        return "namespaced hosts need the `ip` command (iproute2)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"`ip netns` does not work here: {probe.stderr.strip()}"
    return ""


def require_namespaces() -> None:
    """Raises StackError with the reason when namespaced hosts cannot be made."""
    reason = namespaces_unavailable()
    if reason:
        raise StackError(reason)


def _link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def _ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise StackError(f"ip {' '.join(args)}: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout
