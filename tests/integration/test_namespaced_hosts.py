"""Namespaced hosts for real: made, reachable across the bridge, cut and healed, removed.

Every check is a real TCP connect: a listener runs inside one host and a client connects
from another host or from the root namespace.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ops.stack.layout import Ports
from ops.stack.netns import NETNS_DIR, HostNetwork, host_network, namespaces_unavailable
from ops.stack.processes import port_open, wait_until

REASON = namespaces_unavailable()
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "namespaces available")
PORT = 7911
# Every test uses hosts of an offset next to the stack's, so a running partition scenario's
# hosts are never touched.
OFFSET = Ports.from_environment().offset + 7

LISTEN = (
    "import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(); print('up', flush=True)\n"
    "while True: s.accept()[0].close()\n"
)
CONNECT = (
    "import socket,sys\n"
    "try: socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()\n"
    "except OSError: sys.exit(1)\n"
)


@pytest.fixture
def network() -> Iterator[HostNetwork]:
    with host_network(OFFSET, 3) as net:
        yield net


@pytest.fixture
def listener(network: HostNetwork) -> Iterator[str]:
    """A TCP listener inside host 2; yields its address."""
    address = network.host(2).address
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTEN, address, str(PORT)],
        stdout=subprocess.PIPE,
        preexec_fn=network.enter(2),  # noqa: PLW1509 - setns before exec; no threads here
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"up"
    yield address
    proc.kill()
    proc.wait()
    proc.stdout.close()


def connects_from(network: HostNetwork, index: int, address: str) -> bool:
    """A TCP connect from inside host `index` to address:PORT succeeds."""
    return (
        subprocess.run(
            [sys.executable, "-c", CONNECT, address, str(PORT)],
            preexec_fn=network.enter(index),
            check=False,
        ).returncode
        == 0
    )


def test_hosts_reach_each_other_and_the_root_namespace_reaches_them(
    network: HostNetwork, listener: str
) -> None:
    assert all((NETNS_DIR / h.namespace).exists() for h in network.hosts)
    assert connects_from(network, 1, listener)
    assert connects_from(network, 3, listener)
    assert port_open(listener, PORT, timeout=2)
    assert not port_open("127.0.0.1", PORT)  # the listener is in host 2, not on our loopback


def test_a_cut_host_loses_its_peers_but_not_the_clients_and_heals(
    network: HostNetwork, listener: str
) -> None:
    network.cut_from_peers(2)
    network.cut_from_peers(2)  # idempotent
    assert network.cut_hosts() == [2]
    assert not connects_from(network, 1, listener)
    assert not connects_from(network, 3, listener)
    assert port_open(listener, PORT, timeout=2)  # clients in the root namespace still reach it
    network.heal(2)
    assert network.cut_hosts() == []
    assert connects_from(network, 1, listener)
    assert connects_from(network, 3, listener)


def test_an_isolated_host_is_reached_by_nothing_until_healed(
    network: HostNetwork, listener: str
) -> None:
    network.isolate(2)
    assert not port_open(listener, PORT, timeout=1)
    assert not connects_from(network, 1, listener)
    network.heal(2)
    assert wait_until(lambda: port_open(listener, PORT, timeout=1), 10)
    # The peer's neighbour entry for the host failed while it was down; it resolves again
    # on a later attempt, not necessarily the first.
    assert wait_until(lambda: connects_from(network, 1, listener), 20)


def test_down_removes_everything_and_up_is_idempotent() -> None:
    network = HostNetwork(OFFSET, 3)
    network.up()
    network.up()
    network.down()
    network.down()
    links = [network.bridge, *(h.bridge_link for h in network.hosts)]
    assert not any(Path(f"/sys/class/net/{name}").exists() for name in links)
    assert not any((NETNS_DIR / h.namespace).exists() for h in network.hosts)
