"""ProcessImageAnalyzer: runs an analyzer in child processes that can be killed and replaced.

Python cannot stop a thread, so a stage that hangs in a model (or a decoder) can only be cut off
by ending its process. Each child builds the real analyzer once (its models load lazily, once per
child) and analyzes the images sent to it; a child that overruns the timeout is killed and
replaced, one that crashes is replaced, and the parent keeps no thread per call.

Results come back as JSON, never pickle: a child that a hostile image managed to subvert cannot
run code in the parent, which holds the database pool and the keys.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.ports.image_analyzer import ImageAnalyzer

log = logging.getLogger(__name__)

AnalyzerFactory = Callable[[], ImageAnalyzer]

_READY = b"ready"


def _watch_parent(parent_pid: int) -> None:
    """Ends the child when its parent is gone, even in the middle of a stage that hangs."""
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os._exit(0)


def _child_main(fd: int, nice: int, parent_pid: int) -> None:
    """The child's loop: the factory first, then a content type, the image bytes and the preview
    (empty: none) in, one JSON reply out per image."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in a terminal: the parent decides
    if nice:
        with contextlib.suppress(OSError):
            os.nice(nice)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    conn = Connection(fd)
    factory: AnalyzerFactory = pickle.loads(conn.recv_bytes())  # noqa: S301 - sent by the parent that started us
    analyzer: ImageAnalyzer | None = None
    conn.send_bytes(_READY)
    while True:
        try:
            content_type = conn.recv_bytes().decode()
            data = conn.recv_bytes()
            preview = conn.recv_bytes() or None
        except (EOFError, OSError):
            return  # the parent closed its end: shut down
        try:
            if analyzer is None:
                analyzer = factory()
            reply = json.dumps({"ok": analyzer.analyze(data, content_type, preview=preview).to_json()}, allow_nan=False)
        except AnalysisFailed as e:
            reply = json.dumps({"failed": e.message, "retryable": e.retryable, "retry_after": e.retry_after})
        except Exception as e:
            reply = json.dumps({"error": f"{type(e).__name__}: {e}"[:500], "traceback": traceback.format_exc()})
        conn.send_bytes(reply.encode())


# The child is a fresh interpreter (fork + exec, never a bare fork of this threaded process) with
# this process's import path. Unlike multiprocessing's spawn it does not re-run the parent's
# __main__, so a script without an ``if __name__ == "__main__"`` guard is safe.
_BOOT = (
    "import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
    "from imagerepo.adapters.process_analyzer import _child_main; "
    "_child_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))"
)


class _ChildDied(Exception):
    pass


class _Child:
    def __init__(self, factory: bytes, nice: int) -> None:
        mine, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed code
                [sys.executable, "-c", _BOOT, json.dumps(sys.path), str(theirs.fileno()), str(nice), str(os.getpid())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())
        self.pid: int = self.process.pid
        self.ready = False
        self._stop_lock = threading.Lock()
        self._stopped = False
        with contextlib.suppress(OSError):  # it died at once: wait_ready says how
            self.conn.send_bytes(factory)

    def wait_ready(self, timeout: float) -> None:
        if self.ready:
            return
        if not self.conn.poll(timeout):
            raise _ChildDied(f"it did not start within {timeout:g} s")
        try:
            self.conn.recv_bytes()
        except (EOFError, OSError):
            raise _ChildDied(self._how_it_ended()) from None
        self.ready = True

    def call(
        self, data: bytes, content_type: str, timeout: float, preview: bytes | None = None
    ) -> dict[str, Any] | None:
        """The child's reply, or None when it did not answer within ``timeout``."""
        try:
            self.conn.send_bytes(content_type.encode())
            self.conn.send_bytes(data)
            self.conn.send_bytes(preview or b"")
            if not self.conn.poll(timeout):
                return None
            reply: dict[str, Any] = json.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            raise _ChildDied(self._how_it_ended()) from None
        return reply

    def _how_it_ended(self) -> str:
        with self._stop_lock:
            if self._stopped:
                return "it was stopped"
            try:
                code = self.process.wait(5.0)
            except subprocess.TimeoutExpired:
                return "it closed its end of the pipe"
        if code < 0:
            name = signal.Signals(-code).name
            return f"killed by {name}" + (", perhaps out of memory" if name == "SIGKILL" else "")
        return f"exit code {code}"

    def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; a caller waiting on the pipe sees it end."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            if self.process.poll() is None:
                self.process.terminate()
                try:
                    self.process.wait(grace)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait()
            self.conn.close()


class ProcessImageAnalyzer:
    """At most ``processes`` children, started on demand, each analyzing one image at a time.

    ``factory`` builds the real analyzer inside a child, so it must be picklable: a module-level
    function or class, or a ``functools.partial`` of one. Children run ``nice`` steps below the
    parent so request handling keeps its speed. ``timeout_seconds`` counts from when the image
    is sent to a ready child (starting a child does not count against it).
    """

    def __init__(
        self,
        factory: AnalyzerFactory,
        *,
        name: str,
        processes: int = 2,
        timeout_seconds: float = 120.0,
        nice: int = 10,
        start_timeout_seconds: float = 120.0,
        terminate_grace_seconds: float = 2.0,
    ) -> None:
        if processes < 1:
            raise ValueError("processes must be at least 1")
        self.name = name
        self.processes = processes
        self.timeout_seconds = timeout_seconds
        self.start_timeout_seconds = start_timeout_seconds
        self.terminate_grace_seconds = terminate_grace_seconds
        try:
            self._factory = pickle.dumps(factory)
        except (pickle.PicklingError, AttributeError, TypeError) as e:
            raise ValueError(f"the analyzer factory must be picklable (a module-level callable): {e}") from e
        self._nice = nice
        self._cond = threading.Condition()
        self._idle: list[_Child] = []
        self._children: set[_Child] = set()
        self._starting = 0
        self._closed = False

    def pids(self) -> list[int]:
        """Process ids of the live children (for operations and tests)."""
        with self._cond:
            return sorted(c.pid for c in self._children)

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        child = self._acquire()
        while child.ready and child.process.poll() is not None:  # died while idle: not this image's fault
            self._discard(child)
            child = self._acquire()
        try:
            child.wait_ready(self.start_timeout_seconds)
            reply = child.call(data, content_type, self.timeout_seconds, preview)
        except _ChildDied as e:
            self._discard(child)
            if self._closed:
                raise AnalysisFailed("analysis was interrupted by a shutdown", retryable=True) from None
            log.error("analysis process %d ended unexpectedly (%s); replaced", child.pid, e)
            raise AnalysisFailed(f"the analysis process ended unexpectedly ({e}); it was replaced") from None
        except BaseException:
            self._discard(child)
            raise
        if reply is None:
            log.warning("analysis process %d ran past %g s; killed and replaced", child.pid, self.timeout_seconds)
            self._discard(child)
            raise AnalysisFailed(f"analysis took longer than {self.timeout_seconds:g} s")
        self._release(child)
        if "ok" in reply:
            return AnalysisResult.from_json(reply["ok"])
        if "failed" in reply:
            retry_after = reply["retry_after"]
            raise AnalysisFailed(str(reply["failed"])[:500], retryable=bool(reply["retryable"]),
                                 retry_after=None if retry_after is None else float(retry_after))
        log.error("analysis crashed in process %d:\n%s", child.pid, reply.get("traceback", ""))
        raise AnalysisFailed(f"analyzer error: {reply['error']}")

    def _acquire(self) -> _Child:
        with self._cond:
            while True:
                if self._closed:
                    raise AnalysisFailed("the analyzer is shut down", retryable=True)
                if self._idle:
                    return self._idle.pop()
                if len(self._children) + self._starting < self.processes:
                    self._starting += 1
                    break
                self._cond.wait()
        return self._start()

    def _start(self) -> _Child:
        """Start a child (the caller reserved a slot in ``_starting``)."""
        try:
            child = _Child(self._factory, self._nice)
        except BaseException:
            with self._cond:
                self._starting -= 1
                self._cond.notify()
            raise
        with self._cond:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self._children.add(child)
        if closed:  # close() ran while it started: it must not outlive the pool
            child.stop(self.terminate_grace_seconds)
            raise AnalysisFailed("the analyzer is shut down", retryable=True)
        return child

    def _release(self, child: _Child) -> None:
        with self._cond:
            if child in self._children:
                self._idle.append(child)
                self._cond.notify()

    def _discard(self, child: _Child) -> None:
        """Kill the child and start its replacement, so the pool keeps its size."""
        with self._cond:
            self._children.discard(child)
            replace = not self._closed
            if replace:
                self._starting += 1
        child.stop(self.terminate_grace_seconds)
        if replace:
            try:
                self._release(self._start())
            except Exception:
                log.exception("could not start a replacement analysis process; one is started on demand")

    def close(self) -> None:
        """Stop every child, busy or idle; the calls waiting on them fail as retryable."""
        with self._cond:
            self._closed = True
            children = list(self._children)
            self._children.clear()
            self._idle.clear()
            self._cond.notify_all()
        for child in children:
            child.stop(self.terminate_grace_seconds)
