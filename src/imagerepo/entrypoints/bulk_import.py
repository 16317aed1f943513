"""Bulk import of a folder tree, resumable through a journal kept in the data dir.

The journal is one JSON line per event: ``start`` before an upload and ``done`` after each
file. A re-run skips files whose (path, size, mtime) already finished, and rolls back the
upload a killed run left half-done (a reservation whose ``start`` has no ``done``), so nothing
is lost, doubled or left counting against the quota.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import attrs

from imagerepo.domain.accounts import Account
from imagerepo.domain.errors import (
    DomainError,
    DuplicateImage,
    InvalidImage,
    QuotaExceeded,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from imagerepo.domain.images_service import ImageService

IMPORTED, STORED, SKIPPED, FAILED = "imported", "already stored", "skipped", "failed"


@attrs.frozen
class FileOutcome:
    path: Path
    outcome: str  # one of IMPORTED, STORED, SKIPPED, FAILED
    reason: str = ""
    size: int = 0
    image_id: str = ""
    sha256: str = ""


@attrs.define
class ImportReport:
    outcomes: list[FileOutcome] = attrs.field(factory=list)
    rolled_back: int = 0
    stopped: str = ""  # why the run ended early, if it did

    def counts(self) -> Counter[str]:
        return Counter(o.outcome for o in self.outcomes)

    def bytes_by_outcome(self) -> Counter[str]:
        c: Counter[str] = Counter()
        for o in self.outcomes:
            c[o.outcome] += o.size
        return c

    def line(self) -> str:
        c = self.counts()
        return ", ".join(f"{name} {c[name]}" for name in (IMPORTED, STORED, SKIPPED, FAILED))


def walk(root: Path) -> list[Path]:
    """Every regular file under ``root``, in a stable order; symlinked folders are not followed."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_file():
                found.append(p)
    return found


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _file_key(path: Path, st: os.stat_result) -> str:
    return f"{path.resolve()}\x00{st.st_size}\x00{st.st_mtime_ns}"


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: dict[str, dict[str, Any]] = {}
        self.started: dict[str, str] = {}  # sha256 -> path, for uploads without a done line
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(raw)
                except ValueError:
                    continue  # a line cut short by a kill
                if entry.get("event") == "start":
                    self.started[entry["sha256"]] = entry["path"]
                elif entry.get("event") == "done":
                    self.done[entry["key"]] = entry
                    self.started.pop(entry.get("sha256", ""), None)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8")

    def write(self, **entry: Any) -> None:
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")
        self._file.flush()  # the OS keeps it even if this process is killed next

    def close(self) -> None:
        self._file.close()


def journal_path(data_dir: Path, account: Account) -> Path:
    return data_dir / "imports" / f"{account.id}.jsonl"


def roll_back_unfinished(images: ImageService, account: Account, journal: Journal) -> int:
    """Finish what a killed run left: its reservations (uploading rows) and their blobs."""
    if not journal.started:
        return 0
    rolled = images.roll_back_uploads(account, set(journal.started))
    for sha in list(journal.started):
        journal.write(event="abandoned", sha256=sha)
    journal.started.clear()
    return rolled


def import_tree(
    images: ImageService,
    account: Account,
    root: Path,
    journal: Journal,
    *,
    max_bytes: int,
    on_file: Callable[[FileOutcome], None] = lambda o: None,
    files: list[Path] | None = None,
) -> ImportReport:
    report = ImportReport(rolled_back=roll_back_unfinished(images, account, journal))
    for outcome in _import_files(images, account, files if files is not None else walk(root), journal,
                                 max_bytes, report):
        report.outcomes.append(outcome)
        on_file(outcome)
    return report


def _import_files(images: ImageService, account: Account, files: list[Path], journal: Journal, max_bytes: int,
                  report: ImportReport) -> Iterator[FileOutcome]:
    for path in files:
        try:
            st = path.stat()
        except OSError as e:
            yield FileOutcome(path, FAILED, f"cannot read: {e.strerror}")
            continue
        key = _file_key(path, st)
        seen = journal.done.get(key)
        if seen is not None and seen["outcome"] in (IMPORTED, STORED) and seen.get("sha256") \
                and images.existing_copy(account, seen["sha256"]) is None:
            seen = None  # deleted since that run: the journal does not overrule the store
        if seen is not None:
            # Finished in an earlier run and unchanged since: no need to read it again.
            outcome = STORED if seen["outcome"] in (IMPORTED, STORED) else seen["outcome"]
            yield FileOutcome(path, outcome, seen.get("reason", ""), st.st_size, seen.get("image_id", ""))
            continue
        outcome = _import_one(images, account, path, st, journal, max_bytes)
        if outcome.outcome == FAILED and outcome.reason.startswith("quota"):
            report.stopped = outcome.reason
            yield outcome
            return
        if outcome.outcome != FAILED:  # failures are retried by the next run
            journal.write(event="done", key=key, path=str(path), outcome=outcome.outcome, reason=outcome.reason,
                          image_id=outcome.image_id, sha256=outcome.sha256)
        yield outcome


def _import_one(images: ImageService, account: Account, path: Path, st: os.stat_result, journal: Journal,
                max_bytes: int) -> FileOutcome:
    size = st.st_size
    if size > max_bytes:
        return FileOutcome(path, SKIPPED, f"larger than the upload limit of {max_bytes} bytes", size)
    if size == 0:
        return FileOutcome(path, SKIPPED, "empty file", size)
    try:
        sha = sha256_of(path)
    except OSError as e:
        return FileOutcome(path, FAILED, f"cannot read: {e.strerror}", size)
    existing = images.existing_copy(account, sha)
    if existing is not None:
        return FileOutcome(path, STORED, "identical bytes already stored", size, existing, sha)
    journal.write(event="start", sha256=sha, path=str(path))
    try:
        image = images.upload(account, path.name, path)
    except DuplicateImage as e:
        return FileOutcome(path, STORED, "identical bytes already stored", size, e.existing_id, sha)
    except UnsupportedMediaType:
        return FileOutcome(path, SKIPPED, "not an image in an accepted format", size, sha256=sha)
    except InvalidImage as e:
        return FileOutcome(path, SKIPPED, f"invalid image: {e.message}", size, sha256=sha)
    except QuotaExceeded as e:
        return FileOutcome(path, FAILED, f"quota of {e.limit} images reached", size)
    except ServiceUnavailable as e:
        return FileOutcome(path, FAILED, e.message, size)
    except DomainError as e:
        return FileOutcome(path, FAILED, e.message, size)
    return FileOutcome(path, IMPORTED, "", size, image.id, sha)
