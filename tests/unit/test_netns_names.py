"""Namespaced hosts' names and subnets follow the stack's port offset, so stacks never share one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ops.stack.namespaced_cluster import on_host
from ops.stack.netns import HostNetwork, namespaces_unavailable

LINK_NAME_MAX = 15  # IFNAMSIZ - 1: the kernel refuses a longer link name


@pytest.mark.parametrize("offset", [0, 100, 1200, 99_999])
def test_link_names_fit_the_kernel_limit(offset: int) -> None:
    network = HostNetwork(offset, 3)
    names = [network.bridge] + [n for h in network.hosts for n in (h.bridge_link, h.inner_link)]
    assert all(len(n) <= LINK_NAME_MAX for n in names), names


def test_two_stacks_share_no_name_and_no_subnet() -> None:
    a, b = HostNetwork(1200, 3), HostNetwork(1300, 3)
    names_a = {a.bridge, *(x for h in a.hosts for x in (h.namespace, h.bridge_link, h.inner_link))}
    names_b = {b.bridge, *(x for h in b.hosts for x in (h.namespace, h.bridge_link, h.inner_link))}
    assert not names_a & names_b
    assert not a.subnet.overlaps(b.subnet)


def test_addresses_are_private_and_inside_the_subnet() -> None:
    network = HostNetwork(1200, 3)
    assert network.subnet.is_private
    addresses = [network.gateway, *(h.address for h in network.hosts)]
    assert len(set(addresses)) == 4
    assert all(a in {str(ip) for ip in network.subnet.hosts()} for a in addresses)


@pytest.mark.parametrize(("field", "kwargs"), [("count", {"count": 0}), ("offset", {"offset": -1})])
def test_bad_arguments_name_the_field(field: str, kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match=field):
        HostNetwork(**{"offset": 1200, "count": 3, **kwargs})
    with pytest.raises(ValueError, match="host"):
        HostNetwork(1200, 3).host(4)


def test_a_url_moved_to_a_host_keeps_user_port_and_vhost() -> None:
    url = "amqp://user:p%40ss@127.0.0.1:6880/switchyard"
    assert on_host(url, "10.213.176.12") == "amqp://user:p%40ss@10.213.176.12:6880/switchyard"


NOT_ROOT = """
import os
from ops.stack.accounts import StackError
from ops.stack.netns import HostNetwork, namespaces_unavailable
os.setgid(65534); os.setuid(65534)  # after the imports: the checkout may be closed to nobody
print(namespaces_unavailable())
try:
    HostNetwork(1200, 3).up()
except StackError as exc:
    print("refused:", exc)
"""


def test_without_root_the_hosts_are_refused_with_the_reason() -> None:
    """As a plain user (run as `nobody` when the tests run as root), nothing is attempted."""
    if os.geteuid() == 0:
        done = subprocess.run(
            [sys.executable, "-c", NOT_ROOT], capture_output=True, text=True, check=True
        )
        out = done.stdout
    else:
        from ops.stack.accounts import StackError

        with pytest.raises(StackError) as refused:
            HostNetwork(1200, 3).up()
        out = f"{namespaces_unavailable()}\nrefused: {refused.value}"
    assert out.count("namespaced hosts need root") == 2, out
