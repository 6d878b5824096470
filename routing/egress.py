"""What a pool's tasks call outside the broker and the database, declared with the pool.

The chart's NetworkPolicy opens exactly these destinations for the pool's pods and nothing
else: a pool that makes outbound HTTP calls says so here, and a pool that does not cannot
reach the internet even if its task code tries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from routing.model import TopologyError

MAX_PORT = 65535


@dataclass(frozen=True)
class Egress:
    """One outbound destination: TCP ports, optionally narrowed to address ranges.

    Parameters:
        name: what it is, for people reading the rendered policy (`https`, `payments-api`).
        ports: TCP ports the pool's pods may open.
        cidrs: address ranges (`203.0.113.0/24`); empty means any address.
    """

    name: str
    ports: tuple[int, ...]
    cidrs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"egress {self.name!r}"
        if not self.name or not self.name.replace("-", "").isalnum():
            raise TopologyError(f"{where}: a name of letters, digits and '-'")
        if not self.ports:
            raise TopologyError(f"{where}: opens no port")
        for port in self.ports:
            if not 1 <= port <= MAX_PORT:
                raise TopologyError(f"{where}: port {port} outside 1-{MAX_PORT}")
        for cidr in self.cidrs:
            try:
                ipaddress.ip_network(cidr)
            except ValueError as exc:
                raise TopologyError(f"{where}: {cidr!r} is not a CIDR ({exc})") from None


# HTTPS and HTTP to any address: what a pool that calls webhooks or public APIs needs.
HTTPS = Egress("https", ports=(443,))
HTTP = Egress("http", ports=(80,))
