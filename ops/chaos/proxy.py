"""A TCP proxy on loopback that a test controls: pass traffic, reset it, or blackhole it.

Workers connect to the broker through it, so a test can cut their connection the two ways
networks fail: loudly (a reset) and silently (packets vanish; only heartbeats notice).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from ops.stack.layout import HOST

CHUNK = 65536


@dataclass
class _Link:
    client: socket.socket
    upstream: socket.socket
    blackholed: bool = False


@dataclass
class ChaosProxy:
    """Forwards 127.0.0.1:<port> to `target`; `accepted` records each new connection's time."""

    target: tuple[str, int]
    accepted: list[float] = field(default_factory=list)
    _links: list[_Link] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _listener: socket.socket | None = None
    _port: int = 0

    @property
    def port(self) -> int:
        assert self._port, "start() first"
        return self._port

    def start(self) -> ChaosProxy:
        """Listen (again, on the same port after a `stop`) and forward new connections."""
        listener = socket.create_server((HOST, self._port))
        self._port = int(listener.getsockname()[1])
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), daemon=True).start()
        return self

    def stop(self) -> None:
        """Refuse new connections and reset the open ones: the target is gone for clients."""
        if self._listener is not None:
            listener, self._listener = self._listener, None
            # A close alone leaves an `accept` blocked in the accept thread, which then takes
            # one more connection; shutting the listener down wakes it with an error.
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        self.reset()

    def reset(self) -> int:
        """Abort every open connection with a TCP RST; return how many."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            for sock in (link.client, link.upstream):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
        return len(links)

    def blackhole(self) -> int:
        """Silently drop everything on the open connections, which stay open; new ones pass."""
        with self._lock:
            for link in self._links:
                link.blackholed = True
            return len(self._links)

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._listener is not listener:  # stopped meanwhile: refuse, as a closed port would
                client.close()
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            link = _Link(client, upstream)
            with self._lock:
                self._links.append(link)
                self.accepted.append(time.monotonic())
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(link, src, dst), daemon=True).start()

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(CHUNK)
                if not data:
                    break
                if not link.blackholed:
                    dst.sendall(data)
        except OSError:
            pass
        if not link.blackholed:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
