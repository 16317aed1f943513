"""A small TCP fault proxy for tests: put it in front of PostgreSQL or an S3 server on loopback
and switch what the wire does.

Modes, applied to connections already open and to new ones alike:

- ``pass``: bytes flow both ways.
- ``cut``: every connection is closed (FIN) by the proxy; new ones are closed on accept.
- ``stall``: connections stay open but nothing is forwarded; bytes wait in the kernel buffers and
  flow again on ``pass``. New connections are accepted and not connected upstream until then.
- ``reset``: every connection is aborted with a TCP RST (SO_LINGER 0); new ones likewise.

``switch_on(pattern, mode)`` changes the mode at a precise point: when the client next sends
bytes containing ``pattern`` (a ``COMMIT``, say), before they go further.

``set_mode`` returns once every open connection has acted on the new mode, so a test may go on
at once. The proxy binds 127.0.0.1 only, holds at most ``max_connections`` connections (more
are closed on accept), and stops by itself after ``lifetime`` seconds should a test forget to.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from typing import Literal

Mode = Literal["pass", "cut", "stall", "reset"]
MODES: tuple[Mode, ...] = ("pass", "cut", "stall", "reset")
_TICK = 0.02  # how often an idle connection looks at the mode


def _abort(sock: socket.socket) -> None:
    """Close with RST rather than FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class FaultProxy:
    def __init__(self, target_host: str, target_port: int, *, max_connections: int = 64,
                 lifetime: float = 300.0) -> None:
        self.target = (target_host, target_port)
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.accepted = 0  # connections accepted since start, for tests of the proxy itself
        self.stopped = threading.Event()
        self._mode: Mode = "pass"
        self._generation = 0  # bumped on every mode change
        self._seen: dict[int, int] = {}  # connection id -> generation it has acted on
        self._trigger: tuple[bytes, Mode] | None = None
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=max_connections)
        self._listener.settimeout(_TICK * 5)
        self._port = int(self._listener.getsockname()[1])
        self._acceptor = threading.Thread(target=self._accept_loop, name="faultproxy-accept", daemon=True)

    @property
    def port(self) -> int:
        return self._port

    @property
    def mode(self) -> Mode:
        return self._mode

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._seen)

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def set_mode(self, mode: Mode, wait: float = 10.0) -> None:
        """Switch the mode; returns when every open connection has acted on it."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._cond:
            self._mode = mode
            self._trigger = None
            self._generation += 1
            generation = self._generation
            self._cond.notify_all()
            settled = self._cond.wait_for(
                lambda: all(seen >= generation for seen in self._seen.values()), timeout=wait
            )
        if not settled:
            raise RuntimeError(f"fault proxy: connections did not switch to {mode!r} in {wait:g} s")

    def switch_on(self, pattern: bytes, mode: Mode) -> None:
        """Switch to ``mode`` when the client next sends bytes containing ``pattern``, before
        they go further: with ``stall`` they are delivered late (when the mode is ``pass``
        again), with ``cut`` or ``reset`` never."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        with self._cond:
            self._trigger = (pattern, mode)

    def stop(self) -> None:
        with self._cond:
            self.stopped.set()
            self._cond.notify_all()
        if self._acceptor.is_alive() and threading.current_thread() is not self._acceptor:
            self._acceptor.join(5)
        self._listener.close()
        for t in list(self._threads):
            t.join(5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        deadline = time.monotonic() + self.lifetime
        while not self.stopped.is_set():
            if time.monotonic() > deadline:
                self.stopped.set()  # forgotten by its test: stop by ourselves
                break
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._cond:
                full = len(self._seen) >= self.max_connections
                mode = self._mode
                self.accepted += 1
                cid = self.accepted
                if not (full or mode in ("cut", "reset")):
                    self._seen[cid] = self._generation
            if full or mode == "cut":
                client.close()
                continue
            if mode == "reset":
                _abort(client)
                continue
            t = threading.Thread(target=self._serve, args=(cid, client), name=f"faultproxy-{cid}", daemon=True)
            self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()
        self._listener.close()  # refuse new connections; open ones see ``stopped`` and close
        with self._cond:
            self._cond.notify_all()

    def _serve(self, cid: int, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        mode: Mode = "pass"
        held = b""  # bytes from the client caught by a trigger, forwarded when the stall ends
        sel = selectors.DefaultSelector()
        try:
            while True:
                with self._cond:
                    mode = "cut" if self.stopped.is_set() else self._mode
                    self._seen[cid] = self._generation
                    self._cond.notify_all()
                    if mode == "stall":
                        self._cond.wait(_TICK)
                        continue
                if mode in ("cut", "reset"):
                    return
                if upstream is None:
                    try:
                        upstream = socket.create_connection(self.target, timeout=5)
                    except OSError:
                        return  # the target is down: the client sees its connection closed
                    client.settimeout(5)
                    upstream.settimeout(5)
                    sel.register(client, selectors.EVENT_READ, upstream)
                    sel.register(upstream, selectors.EVENT_READ, client)
                if held:
                    upstream.sendall(held)
                    held = b""
                alive, held = self._pump(sel, client)
                if not alive:
                    return
        except OSError:
            return
        finally:
            sel.close()
            closer = _abort if mode == "reset" else socket.socket.close
            closer(client)
            if upstream is not None:
                closer(upstream)
            with self._cond:
                self._seen.pop(cid, None)
                self._cond.notify_all()

    def _pump(self, sel: selectors.BaseSelector, client: socket.socket) -> tuple[bool, bytes]:
        """Forward whatever is ready within one tick. Returns (still open, bytes held back by a
        trigger). An end of stream is passed on as a half-close, so bytes already sent still
        reach the other side (a COMMIT sent just before the client gave up, say)."""
        for key, _ in sel.select(_TICK):
            source: socket.socket = key.fileobj  # type: ignore[assignment]
            dest: socket.socket = key.data
            data = source.recv(65536)
            if not data:
                sel.unregister(source)
                with contextlib.suppress(OSError):
                    dest.shutdown(socket.SHUT_WR)
                if not sel.get_map():
                    return False, b""
                continue
            if source is client and self._fires(data):
                return True, data  # the mode has changed: this chunk waits for it
            dest.sendall(data)
        return True, b""

    def _fires(self, data: bytes) -> bool:
        with self._cond:
            if self._trigger is None or self._trigger[0] not in data:
                return False
            self._mode = self._trigger[1]
            self._trigger = None
            self._generation += 1
            self._cond.notify_all()
            return True
