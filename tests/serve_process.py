"""`imagerepo serve` as a real subprocess, for tests of what only the server's own wiring does
(uvicorn, logging set-up, the peer address of a real socket)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import attrs
import httpx

from tests.fixtures_services import _free_ports

IMAGEREPO = str(Path(sys.executable).with_name("imagerepo"))


@attrs.define
class Server:
    url: str
    log: Path
    popen: subprocess.Popen[bytes]

    def stop(self) -> str:
        """Stops the server (flushing its log) and returns the whole log."""
        stop(self.popen)
        return self.log.read_text(errors="replace")


def stop(popen: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, so the process shuts down cleanly; SIGKILL if it has not within ``timeout``."""
    if popen.poll() is None:
        popen.send_signal(signal.SIGTERM)
        try:
            popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without any imagerepo, AWS or Azure setting, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGEREPO_", "AWS_", "AZURE_"))}
    return {**env, **settings}


@contextmanager
def serving(workdir: Path, settings: Mapping[str, str], ready_timeout: float = 60.0) -> Iterator[Server]:
    """``imagerepo serve`` on a free loopback port with these settings (no workers, no models)."""
    port = _free_ports(1)[0]
    env = clean_env(IMAGEREPO_DATA_DIR=str(workdir / "data"), IMAGEREPO_PORT=str(port), IMAGEREPO_WORKERS="0",
                    IMAGEREPO_LOCAL_MODELS="false")
    env.update(settings)
    log = workdir / "serve.log"
    with log.open("wb") as out:
        popen = subprocess.Popen([IMAGEREPO, "serve"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL)
    server = Server(f"http://127.0.0.1:{port}", log, popen)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if popen.poll() is not None:
                raise AssertionError(f"imagerepo serve exited with {popen.returncode}:\n{server.stop()}")
            try:
                if httpx.get(server.url + "/health/live", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"imagerepo serve not up after {ready_timeout:g} s:\n{server.stop()}")
            time.sleep(0.2)
        yield server
    finally:
        server.stop()
