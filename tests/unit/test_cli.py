"""The `imagerepo` command through its real entry points, on the embedded default (SQLite + files)."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from imagerepo.entrypoints.cli import cli
from tests import images as img

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"IMAGEREPO_DATA_DIR": str(tmp_path / "data"), "IMAGEREPO_LOCAL_MODELS": "0",
            "IMAGEREPO_LOG_LEVEL": "WARNING"}


def run(env: dict[str, str], *args: str, code: int = 0) -> str:
    result = runner.invoke(cli, list(args), env=env)
    assert result.exit_code == code, (result.output, result.exception)
    return result.stdout


def summary(output: str) -> dict[str, int]:
    m = re.search(r"summary: imported (\d+), already stored (\d+), skipped (\d+), failed (\d+)", output)
    assert m, output
    return dict(zip(("imported", "stored", "skipped", "failed"), map(int, m.groups()), strict=True))


def states(data_dir: Path) -> dict[str, int]:
    conn = sqlite3.connect(data_dir / "imagerepo.sqlite3")
    try:
        return dict(conn.execute("SELECT state, count(*) FROM images GROUP BY state").fetchall())
    finally:
        conn.close()


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """4 distinct images (one nested, one per format), 1 copy, 3 non-images or broken files."""
    root = tmp_path / "photos"
    (root / "2024" / "summer").mkdir(parents=True)
    (root / "beach.jpg").write_bytes(img.jpeg((80, 60), (20, 120, 200)))
    (root / "logo.png").write_bytes(img.png((40, 40), (200, 30, 30)))
    (root / "2024" / "anim.gif").write_bytes(img.gif((30, 30), (30, 200, 30)))
    (root / "2024" / "summer" / "sea.webp").write_bytes(img.webp((70, 50), (10, 60, 160)))
    (root / "2024" / "summer" / "beach copy.jpg").write_bytes(img.jpeg((80, 60), (20, 120, 200)))
    (root / "notes.txt").write_bytes(img.TEXT)
    (root / "drawing.svg").write_bytes(img.SVG)
    (root / "2024" / "broken.jpg").write_bytes(img.truncated_jpeg())
    return root


def test_every_command_has_help(env: dict[str, str]) -> None:
    for command in ("serve", "worker", "migrate", "create-user", "delete-user", "sweep", "import", "export",
                    "reanalyze",
                    "users", "demo", "backfill-metadata"):
        r = runner.invoke(cli, [command, "--help"], env=env)
        assert r.exit_code == 0, command
        assert "Usage" in r.stdout, command


def test_import_of_a_mixed_folder_then_a_second_run_imports_nothing(
    env: dict[str, str], mixed: Path, tmp_path: Path
) -> None:
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "20")
    first = run(env, "import", str(mixed), "--user", "alice")
    assert summary(first) == {"imported": 4, "stored": 1, "skipped": 3, "failed": 0}
    # Each skipped file is listed with its reason.
    assert re.search(r"notes\.txt .*not an image", first)
    assert re.search(r"drawing\.svg .*not an image", first)
    assert re.search(r"2024/broken\.jpg .*invalid image", first)
    assert "alice now holds 4 of 20 images" in first

    second = run(env, "import", str(mixed), "--user", "alice")
    assert summary(second) == {"imported": 0, "stored": 5, "skipped": 3, "failed": 0}
    assert "alice now holds 4 of 20 images" in second

    # An image deleted since is imported again: the journal does not overrule the store.
    from dependency_injector import providers

    from imagerepo.entrypoints.container import Container
    from imagerepo.entrypoints.settings import Settings

    container = Container()
    container.settings.override(providers.Object(Settings.from_env(env)))
    container.init_resources()
    try:
        service = container.image_service()
        alice = container.account_service().get_by_username("alice")
        service.delete(alice, next(iter(service.images_of(alice))).id)
    finally:
        container.shutdown_resources()
    third = run(env, "import", str(mixed), "--user", "alice")
    assert summary(third)["imported"] == 1
    assert "alice now holds 4 of 20 images" in third

    # A new file added later is the only one imported.
    (mixed / "new.png").write_bytes(img.png((33, 33), (250, 250, 0)))
    assert summary(run(env, "import", str(mixed), "--user", "alice"))["imported"] == 1
    users = run(env, "users")
    assert re.search(r"alice .* 5 .* 20 ", users)


def test_import_stops_at_the_quota_and_the_next_run_continues(env: dict[str, str], mixed: Path) -> None:
    run(env, "create-user", "bob", "--password", "correct horse", "--quota", "2")
    out = run(env, "import", str(mixed), "--user", "bob", code=1)
    assert "stopped early: quota of 2 images reached" in out
    assert summary(out)["imported"] == 2
    run(env, "create-user", "carol", "--password", "correct horse")  # the store still works
    assert states(Path(env["IMAGEREPO_DATA_DIR"])) == {"ready": 2}


def test_import_for_an_unknown_user_fails_clearly(env: dict[str, str], mixed: Path) -> None:
    r = runner.invoke(cli, ["import", str(mixed), "--user", "nobody"], env=env)
    assert r.exit_code == 1
    assert "no user named 'nobody'" in r.output


def test_delete_user_asks_then_deletes_the_account_and_its_images(env: dict[str, str], mixed: Path) -> None:
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "20")
    run(env, "create-user", "bob", "--password", "correct horse", "--quota", "20")
    run(env, "import", str(mixed), "--user", "alice")
    run(env, "import", str(mixed), "--user", "bob")
    r = runner.invoke(cli, ["delete-user", "alice"], env=env, input="n\n")
    assert r.exit_code == 1  # aborted: nothing changes
    assert "alice" in run(env, "users")
    journals = Path(env["IMAGEREPO_DATA_DIR"]) / "imports"
    assert len(list(journals.glob("*.jsonl"))) == 2
    assert "deleted alice: 4 image(s)" in run(env, "delete-user", "ALICE", "--yes")
    assert len(list(journals.glob("*.jsonl"))) == 1  # alice's file paths and hashes went with her
    listing = run(env, "users")
    assert "alice" not in listing
    assert "bob" in listing
    assert states(Path(env["IMAGEREPO_DATA_DIR"])) == {"ready": 4}  # bob's only
    r = runner.invoke(cli, ["delete-user", "alice", "--yes"], env=env)
    assert r.exit_code == 1
    assert "no user named 'alice'" in r.output


def test_export_writes_originals_and_the_analysis(env: dict[str, str], mixed: Path, tmp_path: Path) -> None:
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "20")
    run(env, "import", str(mixed), "--user", "alice", "--analyze")
    out_dir = tmp_path / "export"
    assert "exported 4 images of alice" in run(env, "export", "--user", "alice", str(out_dir))
    records = json.loads((out_dir / "images.json").read_text())
    assert sorted(r["filename"] for r in records) == ["anim.gif", "beach.jpg", "logo.png", "sea.webp"]
    for r in records:
        assert (out_dir / r["file"]).read_bytes() == next(mixed.rglob(r["filename"])).read_bytes()
        assert r["analysis"]["status"] == "done"
        assert r["analysis"]["colors"]
    with (out_dir / "images.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {row["filename"]: row["status"] for row in rows} == {r["filename"]: "done" for r in records}
    logo = next(row for row in rows if row["filename"] == "logo.png")
    assert "red" in logo["colors"]


def test_reanalyze_runs_the_queue_again(env: dict[str, str], mixed: Path) -> None:
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "20")
    run(env, "import", str(mixed), "--user", "alice")
    out = run(env, "reanalyze", "--user", "alice")
    assert "queued 4 images" in out
    assert "analysis: done 4" in out
    assert "queued 4 images" in run(env, "reanalyze")


def test_people_recluster_groups_only_accounts_that_opted_in(env: dict[str, str]) -> None:
    run(env, "create-user", "alice", "--password", "correct horse")
    assert "grouped the faces of 0 account(s)" in run(env, "people-recluster", "--user", "alice")
    assert "grouped the faces of 0 account(s)" in run(env, "people-recluster")
    r = runner.invoke(cli, ["people-recluster", "--user", "nobody"], env=env)
    assert r.exit_code == 1


def test_demo_creates_user_with_photos_once(env: dict[str, str]) -> None:
    r = runner.invoke(cli, ["demo"], env=env)
    assert r.exit_code == 0, r.output
    assert "demo account 'user' (created, password 'userPass')" in r.output
    assert "scikit-image sample photos" in r.output
    assert "added 4" in r.output
    again = runner.invoke(cli, ["demo", "--no-analyze"], env=env)
    assert "already there, password unchanged" in again.output
    assert "added 0" in again.output
    assert re.search(r"user .* 4 .* 5 ", run(env, "users"))


def _photo(path: Path, i: int) -> None:
    im = Image.effect_mandelbrot((480, 360), (-2.0 + i * 0.01, -1.2, 1.0, 1.2), 60).convert("RGB")
    im.save(path, "JPEG", quality=92)


@pytest.mark.slow
def test_an_interrupted_import_resumes_without_loss_or_doubles(env: dict[str, str], tmp_path: Path) -> None:
    root = tmp_path / "many"
    root.mkdir()
    for i in range(60):
        _photo(root / f"p{i:02d}.jpg", i)
    (root / "readme.txt").write_text("not a photo")
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "100")
    data_dir = Path(env["IMAGEREPO_DATA_DIR"])
    cmd = [sys.executable, "-m", "imagerepo.entrypoints.cli", "import", str(root), "--user", "alice"]
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        journals = list((data_dir / "imports").glob("*.jsonl")) if (data_dir / "imports").exists() else []
        if journals and journals[0].read_text().count('"done"') >= 8:
            journal = journals[0]
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.wait(10)
    assert journal is not None
    done_before = journal.read_text().count('"done"')
    assert 8 <= done_before < 61, "the import finished before it could be interrupted"

    resumed = run(env, "import", str(root), "--user", "alice")
    s = summary(resumed)
    assert s["imported"] + s["stored"] == 60
    assert s["skipped"] == 1
    assert s["failed"] == 0
    assert s["imported"] >= 60 - done_before - 1  # only the rest was uploaded again
    assert states(data_dir) == {"ready": 60}  # no half-finished upload holds a quota slot
    assert "alice now holds 60 of 100 images" in resumed
    assert summary(run(env, "import", str(root), "--user", "alice"))["imported"] == 0


def test_backfill_metadata_reads_images_stored_before_and_resumes(env: dict[str, str], tmp_path: Path) -> None:
    photos = tmp_path / "old"
    photos.mkdir()
    (photos / "paris.jpg").write_bytes(img.photo())
    (photos / "plain.png").write_bytes(img.png())
    run(env, "create-user", "alice", "--password", "correct horse", "--quota", "20")
    run(env, "import", str(photos), "--user", "alice")
    db = Path(env["IMAGEREPO_DATA_DIR"]) / "imagerepo.sqlite3"
    conn = sqlite3.connect(db)
    try:  # as the images stored before this step: never read for it
        conn.execute("UPDATE images SET photo = NULL")
        conn.commit()
    finally:
        conn.close()
    assert "read the metadata of 2 images" in run(env, "backfill-metadata")
    assert "read the metadata of 0 images" in run(env, "backfill-metadata")  # done ones are not read again
    conn = sqlite3.connect(db)
    try:
        photo = json.loads(conn.execute("SELECT photo FROM images WHERE filename = 'paris.jpg'").fetchone()[0])
    finally:
        conn.close()
    assert photo["taken_at"] == "2023-06-14T18:22:05+02:00"
    assert (photo["location"]["city"], photo["location"]["country_code"]) == ("Paris", "FR")


def test_a_setting_found_wrong_while_a_command_runs_is_a_plain_configuration_error(env: dict[str, str]) -> None:
    data = Path(env["IMAGEREPO_DATA_DIR"])
    data.mkdir(parents=True)
    (data / "blob.key").write_text("abcd")  # damaged: the worker finds out only when it builds the store
    result = subprocess.run([sys.executable, "-m", "imagerepo.entrypoints.cli", "worker"], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "blob.key" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args",
    [["serve", "--port", "99999"], ["serve", "--port", "-1"], ["serve", "--workers", "-1"],
     ["worker", "--concurrency", "0"], ["worker", "--concurrency", "-3"]],
)
def test_an_option_out_of_range_is_refused_at_once_like_its_setting(env: dict[str, str], args: list[str]) -> None:
    """The options get the checks their IMAGEREPO_* settings get: a clear usage error, no traceback,
    never a worker with no threads running forever."""
    result = runner.invoke(cli, args, env=env)
    assert result.exit_code == 2, result.output
    assert "not in the range" in result.output
    assert "Traceback" not in result.output


def test_a_data_dir_that_cannot_be_written_is_one_clear_line(
    env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    for data_dir in (blocked, blocked / "data"):
        r = runner.invoke(cli, ["users"], env={**env, "IMAGEREPO_DATA_DIR": str(data_dir)})
        assert r.exit_code == 2, r.output
        assert "IMAGEREPO_DATA_DIR" in r.output
        assert "Traceback" not in r.output
    read_only = tmp_path / "ro"
    read_only.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == read_only else real_access(p, mode))
    r = runner.invoke(cli, ["users"], env={**env, "IMAGEREPO_DATA_DIR": str(read_only)})
    assert r.exit_code == 2, r.output
    assert "is not writable" in r.output
