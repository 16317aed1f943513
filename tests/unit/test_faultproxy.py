"""The test fault proxy does what the fault tests rely on: forwards, cuts, stalls, resets, recovers."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.faultproxy import FaultProxy, Mode


@pytest.fixture
def echo() -> Iterator[int]:
    """An echo server on loopback; yields its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    stop = threading.Event()
    conns: list[socket.socket] = []

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # the proxy may reset us
            while data := conn.recv(4096):
                conn.sendall(data)

    def loop() -> None:
        while not stop.is_set():
            try:
                conn = server.accept()[0]
            except TimeoutError:
                continue
            conns.append(conn)
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    t = threading.Thread(target=loop, daemon=True)
    t.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        t.join()
        server.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy(echo: int) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", echo) as p:
        yield p


def connect(proxy: FaultProxy) -> socket.socket:
    return socket.create_connection(("127.0.0.1", proxy.port), timeout=5)


def roundtrip(s: socket.socket, data: bytes) -> bytes:
    s.sendall(data)
    got = b""
    while len(got) < len(data):
        piece = s.recv(4096)
        if not piece:
            break
        got += piece
    return got


def test_pass_forwards_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as s:
        assert roundtrip(s, b"hello") == b"hello"
        assert roundtrip(s, b"x" * 200_000) == b"x" * 200_000


def ended(s: socket.socket, mode: str) -> bool:
    """Whether the proxy ended ``s`` the way ``mode`` says: FIN for cut, RST for reset."""
    try:
        return s.recv(10) == b"" and mode == "cut"
    except ConnectionResetError:
        return mode == "reset"


@pytest.mark.parametrize("mode", ["cut", "reset"])
def test_cut_and_reset_end_open_and_new_connections_then_pass_serves_again(
    proxy: FaultProxy, mode: Mode
) -> None:
    with connect(proxy) as s:
        assert roundtrip(s, b"a") == b"a"
        proxy.set_mode(mode)
        assert ended(s, mode)
    try:
        fresh = connect(proxy)
    except ConnectionResetError:  # the RST can beat connect() back to the caller
        assert mode == "reset"
    else:
        with fresh:
            assert ended(fresh, mode)
    proxy.set_mode("pass")
    with connect(proxy) as s:
        assert roundtrip(s, b"back") == b"back"


def test_stall_holds_bytes_and_releases_them_on_pass(proxy: FaultProxy) -> None:
    with connect(proxy) as s:
        assert roundtrip(s, b"a") == b"a"
        proxy.set_mode("stall")
        s.sendall(b"held")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)  # nothing comes back while stalled
        fresh = connect(proxy)  # a new connection is accepted but goes nowhere
        fresh.settimeout(0.3)
        fresh.sendall(b"new")
        with pytest.raises(TimeoutError):
            fresh.recv(10)
        proxy.set_mode("pass")
        s.settimeout(5)
        fresh.settimeout(5)
        assert s.recv(10) == b"held"  # nothing was lost, only delayed
        assert fresh.recv(10) == b"new"
        fresh.close()


def test_a_trigger_stalls_at_the_pattern_and_delivers_it_late(proxy: FaultProxy) -> None:
    with connect(proxy) as s:
        proxy.switch_on(b"COMMIT", "stall")
        assert roundtrip(s, b"BEGIN") == b"BEGIN"  # no match: forwarded
        s.sendall(b"COMMIT")
        s.settimeout(0.3)
        with pytest.raises(TimeoutError):
            s.recv(10)
        assert proxy.mode == "stall"
        proxy.set_mode("pass")
        s.settimeout(5)
        assert s.recv(10) == b"COMMIT"


def test_a_trigger_that_cuts_never_delivers_the_bytes(proxy: FaultProxy) -> None:
    with connect(proxy) as s:
        proxy.switch_on(b"COMMIT", "cut")
        s.sendall(b"COMMIT")
        assert s.recv(10) == b""
    assert proxy.mode == "cut"


def test_stops_by_itself_after_its_lifetime(echo: int) -> None:
    p = FaultProxy("127.0.0.1", echo, lifetime=0.5).start()
    try:
        open_one = connect(p)
        assert roundtrip(open_one, b"a") == b"a"
        assert p.stopped.wait(10)
        assert open_one.recv(10) == b""  # its connections are closed
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", p.port), timeout=1)  # and its port
        open_one.close()
    finally:
        p.stop()


def test_connections_beyond_the_limit_are_closed(echo: int) -> None:
    with FaultProxy("127.0.0.1", echo, max_connections=1) as p, connect(p) as first:
        assert roundtrip(first, b"1") == b"1"
        with connect(p) as second:
            assert second.recv(10) == b""
        assert roundtrip(first, b"still") == b"still"


def test_refuses_a_mode_it_does_not_know(proxy: FaultProxy) -> None:
    with pytest.raises(ValueError, match="unknown mode"):
        proxy.set_mode("drop")  # type: ignore[arg-type]
