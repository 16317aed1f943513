"""ProcessImageAnalyzer: a stage that overruns or crashes costs one child process, never a thread."""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from imagerepo.adapters.memory import ManualClock
from imagerepo.adapters.process_analyzer import ProcessImageAnalyzer
from imagerepo.domain.errors import AnalysisFailed
from imagerepo.domain.images import AnalysisResult
from imagerepo.entrypoints.container import open_analyzer
from imagerepo.entrypoints.http.app import create_app
from imagerepo.entrypoints.settings import Settings
from tests import images as img
from tests.hardening.support import signup, upload
from tests.scripted_analyzer import ScriptedAnalyzer
from tests.wiring import memory_container

TIMEOUT = 1.0  # the scripted stages answer at once or never


@pytest.fixture
def analyzer() -> Iterator[ProcessImageAnalyzer]:
    a = ProcessImageAnalyzer(ScriptedAnalyzer, name="scripted", processes=1, timeout_seconds=TIMEOUT, nice=0)
    yield a
    a.close()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def pid_of(analyzer: ProcessImageAnalyzer) -> int:
    result = analyzer.analyze(b"fine", "image/png")
    assert result.description == "4 bytes of image/png"
    return int(result.extra["pid"])


def wait_for(condition: Any, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.02)


def hang_in_background(analyzer: ProcessImageAnalyzer, tmp_path: Path) -> tuple[threading.Thread, list[AnalysisFailed]]:
    """Start an analysis that hangs in another thread; returns once its stage is running."""
    marker = tmp_path / "running"
    errors: list[AnalysisFailed] = []

    def run() -> None:
        try:
            analyzer.analyze(b"hang:" + str(marker).encode(), "image/jpeg")
        except AnalysisFailed as e:
            errors.append(e)

    t = threading.Thread(target=run)
    t.start()
    wait_for(marker.exists, "the stage to start")
    return t, errors


def test_the_preview_travels_to_the_child_with_the_image(analyzer: ProcessImageAnalyzer) -> None:
    with_preview = analyzer.analyze(b"original", "image/jpeg", preview=b"small")
    assert with_preview.description == "8 bytes of image/jpeg"
    assert with_preview.extra["preview"] == hashlib.sha256(b"small").hexdigest()
    without = analyzer.analyze(b"original", "image/jpeg")  # the same child: nothing left over
    assert (without.extra["preview"], without.extra["pid"]) == (None, with_preview.extra["pid"])


def test_a_hanging_stage_is_killed_with_its_process_and_the_next_image_runs_on_a_replacement(
    analyzer: ProcessImageAnalyzer,
) -> None:
    first = pid_of(analyzer)
    assert first != os.getpid()

    with pytest.raises(AnalysisFailed) as caught:
        analyzer.analyze(b"hang", "image/jpeg")
    assert caught.value.message == f"analysis took longer than {TIMEOUT:g} s"
    assert not caught.value.retryable
    assert not alive(first)

    second = pid_of(analyzer)
    assert second != first
    assert analyzer.pids() == [second]


def test_hanging_analyses_leave_no_threads_behind(analyzer: ProcessImageAnalyzer) -> None:
    pid_of(analyzer)
    threads = threading.active_count()
    killed = []
    for _ in range(3):
        killed += analyzer.pids()
        with pytest.raises(AnalysisFailed, match="took longer than"):
            analyzer.analyze(b"hang", "image/jpeg")
    assert threading.active_count() == threads
    assert len(set(killed)) == 3
    assert not any(alive(pid) for pid in killed)
    assert pid_of(analyzer) not in killed


def test_a_child_that_crashes_fails_that_image_and_is_replaced(analyzer: ProcessImageAnalyzer) -> None:
    first = pid_of(analyzer)
    with pytest.raises(AnalysisFailed) as caught:
        analyzer.analyze(b"crash", "image/jpeg")
    assert caught.value.message == "the analysis process ended unexpectedly (exit code 3); it was replaced"
    assert not caught.value.retryable
    assert not alive(first)
    assert pid_of(analyzer) != first


def test_a_child_killed_from_outside_is_reported_and_replaced(analyzer: ProcessImageAnalyzer, tmp_path: Path) -> None:
    """As the kernel's OOM killer would: SIGKILL in the middle of a stage."""
    pid_of(analyzer)
    analyzer.timeout_seconds = 600  # only the kill may end this one
    t, errors = hang_in_background(analyzer, tmp_path)
    victim = analyzer.pids()[0]
    os.kill(victim, 9)
    t.join(60)
    assert [e.message for e in errors] == [
        "the analysis process ended unexpectedly (killed by SIGKILL, perhaps out of memory); it was replaced"
    ]
    assert analyzer.pids() != [victim]


def test_a_child_that_died_while_idle_costs_no_image(analyzer: ProcessImageAnalyzer) -> None:
    victim = pid_of(analyzer)
    os.kill(victim, 9)
    # Until its exit can be collected (looked at without collecting it: the pool does that).
    wait_for(lambda: os.waitid(os.P_PID, victim, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None, "the kill")
    assert pid_of(analyzer) != victim  # the next image is analyzed, by a replacement


def test_errors_raised_in_the_child_arrive_as_they_were_raised(analyzer: ProcessImageAnalyzer) -> None:
    with pytest.raises(AnalysisFailed) as caught:
        analyzer.analyze(b"fail", "image/jpeg")
    assert (caught.value.message, caught.value.retryable, caught.value.retry_after) == (
        "the model is rate limited", True, 7.0
    )
    first = analyzer.pids()
    with pytest.raises(AnalysisFailed) as crashed:
        analyzer.analyze(b"boom", "image/jpeg")
    assert crashed.value.message == "analyzer error: RuntimeError: weights are corrupt"
    assert analyzer.pids() == first  # an exception is not a reason to replace the process


def test_results_cross_as_plain_data() -> None:
    """The parent never unpickles what a child sends: the result is rebuilt from JSON."""
    a = ProcessImageAnalyzer(ScriptedAnalyzer, name="scripted", processes=1, timeout_seconds=30, nice=0)
    try:
        result = a.analyze(b"abc", "image/gif")
    finally:
        a.close()
    expected = ScriptedAnalyzer().analyze(b"abc", "image/gif")
    assert isinstance(result, AnalysisResult)
    assert (result.tags, result.colors, result.description) == (expected.tags, expected.colors, expected.description)


def test_children_run_at_lower_priority() -> None:
    a = ProcessImageAnalyzer(ScriptedAnalyzer, name="scripted", processes=1, timeout_seconds=30, nice=10)
    try:
        child_nice = a.analyze(b"x", "image/png").extra["nice"]
    finally:
        a.close()
    assert child_nice == min(19, os.nice(0) + 10)


def test_no_more_children_than_processes_however_many_callers() -> None:
    a = ProcessImageAnalyzer(ScriptedAnalyzer, name="scripted", processes=2, timeout_seconds=30, nice=0)
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            pids = set(pool.map(lambda i: a.analyze(b"x" * i, "image/png").extra["pid"], range(30)))
    finally:
        a.close()
    assert 1 <= len(pids) <= 2


def test_close_ends_every_child_busy_or_idle(tmp_path: Path) -> None:
    a = ProcessImageAnalyzer(ScriptedAnalyzer, name="scripted", processes=2, timeout_seconds=600, nice=0)
    busy, errors = hang_in_background(a, tmp_path)
    idle = pid_of(a)
    children = a.pids()
    assert len(children) == 2
    assert idle in children

    a.close()
    busy.join(60)
    assert not any(alive(pid) for pid in children)
    assert a.pids() == []
    # The interrupted image goes back to the queue instead of failing for good.
    assert [(e.message, e.retryable) for e in errors] == [("analysis was interrupted by a shutdown", True)]
    with pytest.raises(AnalysisFailed, match="shut down"):
        a.analyze(b"x", "image/png")


def test_through_the_app_a_hanging_analysis_ends_failed_with_the_reason(tmp_path: Path) -> None:
    factory = functools.partial(ScriptedAnalyzer, control=tmp_path)
    analyzer = ProcessImageAnalyzer(factory, name="scripted", processes=1, timeout_seconds=TIMEOUT, nice=0)
    container = memory_container(Settings(data_dir=tmp_path, workers=0), clock=ManualClock(), analyzer=analyzer)
    try:
        with TestClient(create_app(container)) as client:
            auth = signup(client, "alice")
            image_id = upload(client, auth, img.jpeg()).json()["id"]
            (tmp_path / "hang").touch()
            assert container.analysis_service().run_once()
            a = client.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]
            assert (a["status"], a["error"]) == ("failed", f"analysis took longer than {TIMEOUT:g} s")

            (tmp_path / "hang").unlink()  # the model recovers: a re-run succeeds on the replacement
            assert client.post(f"/api/v1/images/{image_id}/analysis", headers=auth).status_code == 202
            assert container.analysis_service().run_once()
            a = client.get(f"/api/v1/images/{image_id}", headers=auth).json()["analysis"]
            assert (a["status"], a["analyzer"]) == ("done", "scripted"), a
    finally:
        analyzer.close()


# ------------------------------------------------------------------ wiring


def test_local_analysis_runs_in_as_many_processes_as_workers_by_default(tmp_path: Path) -> None:
    gen = open_analyzer(Settings(data_dir=tmp_path, workers=3, local_models=False), object())
    analyzer = next(gen)
    assert isinstance(analyzer, ProcessImageAnalyzer)
    assert analyzer.processes == 3
    assert analyzer.name == "local"
    result = analyzer.analyze(img.jpeg((320, 240), (200, 40, 40)), "image/jpeg")
    assert result.analyzer == "local"
    assert result.colors
    children = analyzer.pids()
    assert children
    with pytest.raises(StopIteration):
        next(gen)  # the container's shutdown
    assert not any(alive(pid) for pid in children)


def test_analysis_processes_zero_keeps_analysis_in_process(tmp_path: Path) -> None:
    settings = Settings.from_env({"IMAGEREPO_ANALYSIS_PROCESSES": "0", "IMAGEREPO_LOCAL_MODELS": "false"})
    analyzer = next(open_analyzer(settings, object()))
    assert not isinstance(analyzer, ProcessImageAnalyzer)
    assert analyzer.analyze(img.jpeg((320, 240), (200, 40, 40)), "image/jpeg").analyzer == "local"


def test_analysis_processes_must_be_a_whole_number() -> None:
    from imagerepo.entrypoints.settings import ConfigError

    with pytest.raises(ConfigError, match="IMAGEREPO_ANALYSIS_PROCESSES"):
        Settings.from_env({"IMAGEREPO_ANALYSIS_PROCESSES": "many"})


def test_a_library_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    """Analysis processes are fresh interpreters: unlike multiprocessing's spawn they never re-run
    the parent's script, so a library script needs no `if __name__ == "__main__"` guard."""
    (tmp_path / "photo.jpg").write_bytes(img.jpeg((80, 60), (20, 110, 200)))
    script = tmp_path / "script.py"
    script.write_text(
        "from imagerepo.library import Repository\n"
        "print('script ran', flush=True)\n"
        f"with Repository.open({str(tmp_path / 'var')!r}, local_models=False) as repo:\n"
        "    alice = repo.sign_up('alice', 'correct horse')\n"
        f"    image = repo.upload(alice, {str(tmp_path / 'photo.jpg')!r})\n"
        "    assert repo.run_pending_analyses() == 1\n"
        "    print(repo.get(alice, image.id).analysis.status.value)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGEREPO_")}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n") == ["script ran", "done", ""]


def test_a_factory_a_child_cannot_import_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="picklable"):
        ProcessImageAnalyzer(lambda: ScriptedAnalyzer(), name="scripted")
