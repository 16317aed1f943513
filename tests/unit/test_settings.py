"""Settings and keys: every malformed value stops the start with a message naming it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from imagerepo.entrypoints.container import ConfigError, Keys, Settings, load_keys

STRONG = "k" * 32


# --------------------------------------------------------------------------------------- keys


def test_a_secret_key_needs_32_bytes() -> None:
    with pytest.raises(ConfigError, match="IMAGEREPO_SECRET_KEY"):
        Settings.from_env({"IMAGEREPO_SECRET_KEY": "x"})
    with pytest.raises(ConfigError, match="IMAGEREPO_SECRET_KEY"):
        Settings.from_env({"IMAGEREPO_SECRET_KEY": STRONG[:-1]})
    assert Settings.from_env({"IMAGEREPO_SECRET_KEY": STRONG}).secret_key == STRONG


@pytest.mark.parametrize("content", ["", "\n", "abcd", "not hex at all", "00" * 31])
@pytest.mark.parametrize("name", ["secret.key", "blob.key"])
def test_a_weak_or_damaged_key_file_stops_the_start(tmp_path: Path, name: str, content: str) -> None:
    (tmp_path / name).write_text(content)
    with pytest.raises(ConfigError, match=name):
        load_keys(Settings(data_dir=tmp_path))


def test_key_files_are_made_once_and_kept(tmp_path: Path) -> None:
    first = load_keys(Settings(data_dir=tmp_path))
    assert len(first.url_key) == 32 and len(first.blob_key) == 32
    assert load_keys(Settings(data_dir=tmp_path)) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.key", "secret.key"]  # no temporary left
    for name in ("secret.key", "blob.key"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0


def test_processes_starting_together_on_a_fresh_data_dir_agree_on_one_key(tmp_path: Path) -> None:
    starters = 8
    for attempt in range(20):
        data_dir = tmp_path / str(attempt)
        barrier = threading.Barrier(starters)

        def start(_: int, data_dir: Path = data_dir, barrier: threading.Barrier = barrier) -> Keys:
            barrier.wait()
            return load_keys(Settings(data_dir=data_dir))

        with ThreadPoolExecutor(starters) as pool:
            keys = list(pool.map(start, range(starters)))
        assert len(set(keys)) == 1, f"attempt {attempt}: {len(set(keys))} different keys"
