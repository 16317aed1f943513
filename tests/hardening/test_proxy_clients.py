"""Behind a reverse proxy the client is the right-most X-Forwarded-For address that no trusted
proxy owns: what a client writes to the left of it never changes whom the throttle counts."""

from __future__ import annotations

import ipaddress
import itertools
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from imagerepo.entrypoints.client_address import forwarded_client
from tests.hardening.support import PASSWORD
from tests.serve_process import serving
from tests.strategies import addresses_in, ip_networks

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _outside(networks: list[Network]) -> st.SearchStrategy[str]:
    """Addresses in none of ``networks`` (no IPv4-mapped IPv6 ones: they count as IPv4)."""
    return st.ip_addresses().filter(lambda a: not any(a in n for n in networks)).filter(
        lambda a: not (isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped)).map(str)


def _split(entries: list[str], cuts: list[int]) -> list[str]:
    """The entries as several X-Forwarded-For header lines (as proxies may send them)."""
    bounds = sorted({0, len(entries), *(c % (len(entries) + 1) for c in cuts)})
    return [", ".join(entries[a:b]) for a, b in itertools.pairwise(bounds)]


@st.composite
def proxied(draw: st.DrawFn) -> tuple[list[Network], str, list[str], str]:
    """(trusted networks, direct peer in them, trusted hops between, a client outside them)."""
    trusted = draw(st.lists(ip_networks(), min_size=1, max_size=3))
    peer = draw(st.sampled_from(trusted).flatmap(addresses_in))
    hops = draw(st.lists(st.sampled_from(trusted).flatmap(addresses_in), max_size=3))
    client = draw(_outside(trusted))
    return trusted, peer, hops, client


@given(proxied(), st.lists(st.text(max_size=40), max_size=5), st.lists(st.integers(0, 20), max_size=3))
def test_spoofed_left_entries_never_change_the_client(
    case: tuple[list[Network], str, list[str], str], spoofed: list[str], cuts: list[int]
) -> None:
    trusted, peer, hops, client = case
    header = _split([*spoofed, client, *hops], cuts)
    assert forwarded_client(peer, header, trusted) == str(ipaddress.ip_address(client))


@given(st.lists(ip_networks(), max_size=3).flatmap(lambda ns: st.tuples(st.just(ns), _outside(ns))),
       st.lists(st.text(max_size=40), max_size=5))
def test_an_untrusted_peer_is_the_client_whatever_it_sends(
    case: tuple[list[Network], str], header: list[str]
) -> None:
    trusted, peer = case
    assert forwarded_client(peer, header, trusted) == peer


@pytest.mark.parametrize("entry", ["garbage", "", "unknown"])
def test_an_entry_no_proxy_would_write_stops_at_the_last_trusted_hop(entry: str) -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert forwarded_client("10.0.0.1", [f"203.0.113.9, {entry}, 10.0.0.2"], trusted) == "10.0.0.2"


def test_addresses_with_ports_and_mapped_ipv4_are_read() -> None:
    trusted = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
    assert forwarded_client("::ffff:127.0.0.1", ["203.0.113.9:4711, [::1]:80"], trusted) == "203.0.113.9"
    assert forwarded_client("::1", ["[2001:db8::7]:443"], trusted) == "2001:db8::7"


WRONG = "wrong " + PASSWORD


def _wrong_sign_ins(http: httpx.Client, forwarded_for: Callable[[str], str], n: int = 15) -> list[int]:
    """``n`` wrong sign-ins for alice, each from a new made-up address placed by ``forwarded_for``."""
    statuses = []
    for _ in range(n):
        made_up = str(ipaddress.IPv4Address(secrets.randbits(32)))
        r = http.post("/api/v1/sessions", json={"username": "alice", "password": WRONG},
                      headers={"X-Forwarded-For": forwarded_for(made_up)})
        statuses.append(r.status_code)
    assert set(statuses) <= {401, 429}, statuses
    return statuses


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{"IMAGEREPO_TRUST_PROXY": "true"},
                                      {"IMAGEREPO_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"}],
                         ids=["TRUST_PROXY=true means loopback", "TRUSTED_PROXIES"])
def test_a_client_behind_a_trusted_proxy_cannot_pick_its_address(settings: dict[str, str], tmp_path: Path) -> None:
    """15 wrong sign-ins through the proxy, each with a made-up left-most address, are throttled;
    the real user behind the same proxy (another right-most address) still signs in, which only
    holds when the forwarded address, not the proxy's, is counted."""
    with serving(tmp_path, settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD}).status_code == 201
        assert 429 in _wrong_sign_ins(http, lambda made_up: f"{made_up}, 203.0.113.7")

        r = http.post("/api/v1/sessions", json={"username": "alice", "password": PASSWORD},
                      headers={"X-Forwarded-For": "198.51.100.9", "X-Forwarded-Proto": "https"})
        assert r.status_code == 201, r.text
        assert "secure" in r.headers["set-cookie"].lower()  # the proxy said the client used https


@pytest.mark.slow
def test_forwarded_headers_from_an_untrusted_peer_are_ignored(tmp_path: Path) -> None:
    """The loopback peer is not in IMAGEREPO_TRUSTED_PROXIES: a new right-most address on every
    attempt changes nothing, the peer itself is throttled, and its X-Forwarded-Proto is ignored."""
    with serving(tmp_path, {"IMAGEREPO_TRUSTED_PROXIES": "10.0.0.0/8"}) as server, \
            httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.post("/api/v1/accounts", json={"username": "alice", "password": PASSWORD}).status_code == 201
        assert 429 in _wrong_sign_ins(http, lambda made_up: made_up)
        http.post("/api/v1/accounts", json={"username": "bob", "password": PASSWORD})
        r = http.post("/api/v1/sessions", json={"username": "bob", "password": PASSWORD},
                      headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 201, r.text
        assert "secure" not in r.headers["set-cookie"].lower()
