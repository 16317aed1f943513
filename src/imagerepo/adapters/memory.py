"""In-memory fakes of every port: small, honest, thread-safe; used by unit tests and demos."""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

import attrs

# The similarity fakes live in their own module; named here with every other fake.
from imagerepo.adapters.memory_similarity import (  # noqa: F401
    BruteForceSimilarityIndex,
    InMemoryFingerprintRepository,
)
from imagerepo.domain.accounts import Account, AccountSettings, Session, normalize_username
from imagerepo.domain.errors import (
    BlobMissing,
    DuplicateImage,
    InvalidImage,
    QuotaExceeded,
    ServiceUnavailable,
    UnsupportedMediaType,
    UsernameTaken,
)
from imagerepo.domain.images import (
    Analysis,
    AnalysisJob,
    AnalysisResult,
    AnalysisStatus,
    Color,
    Image,
    InspectedImage,
    Tag,
)
from imagerepo.domain.photos import PhotoInfo, Place
from imagerepo.domain.queries import Cursor, ImageQuery, Page
from imagerepo.domain.ranking import reference_search, tag_names
from imagerepo.domain.throttle import Changes, CounterState, ThrottlePolicy, ThrottleRules
from imagerepo.ports.clock import Clock
from imagerepo.ports.image_inspector import Thumbnail


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            # Strictly increasing, like a real clock between two events.
            self._now += timedelta(microseconds=1)
            return self._now

    def advance(self, delta: timedelta | float) -> None:
        with self._lock:
            self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)


class InMemoryAccountRepository:
    def __init__(self) -> None:
        self._by_id: dict[str, Account] = {}
        self._lock = threading.Lock()

    def add(self, account: Account) -> None:
        with self._lock:
            key = normalize_username(account.username)
            if any(normalize_username(a.username) == key for a in self._by_id.values()):
                raise UsernameTaken(account.username)
            self._by_id[account.id] = account

    def get(self, account_id: str) -> Account | None:
        return self._by_id.get(account_id)

    def get_by_username(self, username: str) -> Account | None:
        key = normalize_username(username)
        return next((a for a in self._by_id.values() if normalize_username(a.username) == key), None)

    def set_password_hash(self, account_id: str, password_hash: str) -> None:
        with self._lock:
            if account_id in self._by_id:
                self._by_id[account_id] = attrs.evolve(self._by_id[account_id], password_hash=password_hash)

    def set_quota_limit(self, account_id: str, limit: int | None) -> None:
        with self._lock:
            if account_id in self._by_id:
                self._by_id[account_id] = attrs.evolve(self._by_id[account_id], quota_limit=limit)

    def set_settings(self, account_id: str, settings: AccountSettings) -> None:
        with self._lock:
            if account_id in self._by_id:
                self._by_id[account_id] = attrs.evolve(self._by_id[account_id], settings=settings)

    def list(self) -> Sequence[Account]:
        return sorted(self._by_id.values(), key=lambda a: (a.created_at, a.id))

    def delete(self, account_id: str) -> bool:
        with self._lock:
            return self._by_id.pop(account_id, None) is not None


class InMemorySessionRepository:
    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def add(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.token_hash] = session

    def get(self, token_hash: str) -> Session | None:
        return self._sessions.get(token_hash)

    def delete(self, token_hash: str) -> None:
        with self._lock:
            self._sessions.pop(token_hash, None)

    def list_for(self, account_id: str, kind: str) -> Sequence[Session]:
        return sorted(
            (s for s in self._sessions.values() if s.account_id == account_id and s.kind == kind),
            key=lambda s: s.created_at,
        )

    def delete_expired(self, now: datetime) -> int:
        with self._lock:
            dead = [h for h, s in self._sessions.items() if s.expires_at <= now]
            for h in dead:
                del self._sessions[h]
            return len(dead)

    def delete_for_account(self, account_id: str) -> int:
        with self._lock:
            dead = [h for h, s in self._sessions.items() if s.account_id == account_id]
            for h in dead:
                del self._sessions[h]
            return len(dead)


@attrs.define
class _Row:
    image: Image
    state: str  # uploading | ready | deleting
    generation: int = 1
    attempts: int = 0
    available_at: datetime | None = None
    leased_until: datetime | None = None
    created_at: datetime | None = None


class InMemoryImageRepository:
    """ImageRepository and AnalysisQueue over one dictionary of rows."""

    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}
        # (owner id, person id) → the images with that person's faces (the people fake sets it).
        self.person_images: Callable[[str, str], frozenset[str]] = lambda owner_id, person_id: frozenset()
        self._lock = threading.RLock()
        self.available = True  # tests flip this to play an outage

    def _up(self) -> None:
        if not self.available:
            raise ServiceUnavailable("database unavailable")

    def reserve(self, image: Image, quota_limit: int) -> None:
        with self._lock:
            self._up()
            mine = [r for r in self._rows.values() if r.image.owner_id == image.owner_id and r.state != "deleting"]
            for r in mine:
                if r.image.sha256 == image.sha256:
                    raise DuplicateImage(r.image.id)
            if len(mine) >= quota_limit:
                raise QuotaExceeded(len(mine), quota_limit)
            self._rows[image.id] = _Row(
                image, "uploading", available_at=image.uploaded_at, created_at=image.uploaded_at
            )

    def commit(self, image_id: str) -> None:
        with self._lock:
            self._up()
            self._rows[image_id].state = "ready"

    def discard(self, image_id: str) -> None:
        with self._lock:
            self._up()
            self._rows.pop(image_id, None)

    def get(self, owner_id: str, image_id: str) -> Image | None:
        with self._lock:
            self._up()
            row = self._rows.get(image_id)
            if row is None or row.state != "ready" or row.image.owner_id != owner_id:
                return None
            return row.image

    def get_many(self, owner_id: str, image_ids: Sequence[str]) -> Sequence[Image]:
        return [i for i in (self.get(owner_id, image_id) for image_id in dict.fromkeys(image_ids)) if i is not None]

    def find_by_sha256(self, owner_id: str, sha256: str) -> str | None:
        with self._lock:
            self._up()
            return next(
                (r.image.id for r in self._rows.values()
                 if r.image.owner_id == owner_id and r.image.sha256 == sha256 and r.state != "deleting"),
                None,
            )

    def count(self, owner_id: str) -> int:
        with self._lock:
            self._up()
            return sum(1 for r in self._rows.values() if r.image.owner_id == owner_id and r.state != "deleting")

    def search(self, query: ImageQuery) -> Page:
        with self._lock:
            self._up()
            ready = [r.image for r in self._rows.values() if r.state == "ready"]
        for person in query.people:
            with_person = self.person_images(query.owner_id, person)
            ready = [i for i in ready if i.id in with_person]
        items, last = reference_search(ready, query)
        return Page(tuple(items), Cursor(key=last[0], id=last[1]) if last else None)

    def begin_delete(self, owner_id: str, image_id: str) -> Image | None:
        with self._lock:
            self._up()
            row = self._rows.get(image_id)
            if row is None or row.state != "ready" or row.image.owner_id != owner_id:
                return None
            row.state = "deleting"
            return row.image

    def stale(self, now: datetime, uploading_older_than: datetime) -> Sequence[tuple[Image, str]]:
        with self._lock:
            self._up()
            return [
                (r.image, r.state) for r in self._rows.values()
                if r.state == "deleting" or (r.state == "uploading" and r.image.uploaded_at < uploading_older_than)
            ]

    def exists(self, image_id: str) -> bool:
        with self._lock:
            self._up()
            return image_id in self._rows

    def tag_counts(self, owner_id: str) -> list[tuple[str, int]]:
        with self._lock:
            self._up()
            counts = Counter(t for r in self._rows.values() if r.state == "ready" and r.image.owner_id == owner_id
                             for t in tag_names(r.image))
        return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))

    def request_analysis(self, owner_id: str, image_id: str, now: datetime) -> Image | None:
        with self._lock:
            self._up()
            row = self._rows.get(image_id)
            if row is None or row.state != "ready" or row.image.owner_id != owner_id:
                return None
            row.generation += 1
            row.attempts = 0
            row.available_at = now
            row.leased_until = None
            row.image = attrs.evolve(row.image, analysis=Analysis.pending(row.image.analysis.analyzer))
            return row.image

    # ---- AnalysisQueue

    def claim_analysis(self, now: datetime, lease_until: datetime) -> AnalysisJob | None:
        with self._lock:
            self._up()
            due = [
                r for r in self._rows.values()
                if r.state == "ready" and r.image.analysis.status == AnalysisStatus.PENDING
                and (r.available_at is None or r.available_at <= now)
                and (r.leased_until is None or r.leased_until <= now)
            ]
            if not due:
                return None
            row = min(due, key=lambda r: (r.available_at or now, r.image.id))
            row.leased_until = lease_until
            row.attempts += 1
            return AnalysisJob(row.image, row.generation, row.attempts)

    def complete_analysis(self, job: AnalysisJob, analysis: Analysis) -> bool:
        with self._lock:
            self._up()
            row = self._rows.get(job.image.id)
            if row is None or row.generation != job.generation or row.state == "deleting":
                return False
            row.image = attrs.evolve(row.image, analysis=analysis)
            row.leased_until = None
            return True

    def retry_analysis(self, job: AnalysisJob, available_at: datetime, error: str) -> bool:
        with self._lock:
            self._up()
            row = self._rows.get(job.image.id)
            if row is None or row.generation != job.generation:
                return False
            row.available_at = available_at
            row.leased_until = None
            row.image = attrs.evolve(row.image, analysis=attrs.evolve(row.image.analysis, error=error))
            return True

    def set_photo(self, owner_id: str, image_id: str, photo: PhotoInfo) -> Image | None:
        with self._lock:
            self._up()
            row = self._rows.get(image_id)
            if row is None or row.state != "ready" or row.image.owner_id != owner_id:
                return None
            row.image = attrs.evolve(row.image, photo=photo)
            return row.image

    def erase_locations(self, owner_id: str) -> int:
        with self._lock:
            self._up()
            mine = [r for r in self._rows.values() if r.image.owner_id == owner_id and r.image.location is not None]
            for r in mine:
                assert r.image.photo is not None
                r.image = attrs.evolve(r.image, photo=r.image.photo.without_location())
            return len(mine)

    def unread_photos(self, after_id: str, limit: int) -> Sequence[Image]:
        with self._lock:
            self._up()
            rows = sorted(
                (r.image for r in self._rows.values() if r.state == "ready" and r.image.photo is None
                 and r.image.id > after_id),
                key=lambda i: i.id,
            )
            return rows[:limit]

    def pending_analyses(self) -> int:
        with self._lock:
            return sum(1 for r in self._rows.values()
                       if r.state == "ready" and r.image.analysis.status == AnalysisStatus.PENDING)

    def check(self) -> None:
        self._up()


class InMemoryBlobStore:
    """Keeps bytes in a dict; serves its own signed URLs, like the file store."""

    def __init__(self, secret: bytes = b"memory-secret", base_url: str = "/blobs", clock: Clock | None = None) -> None:
        self._blobs: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        self._secret = secret
        self._base_url = base_url
        self._clock = clock
        self.fail_puts = False
        self.fail_deletes = False
        self.available = True

    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        if self.fail_puts or not self.available:
            raise ServiceUnavailable("blob store unavailable")
        payload = data.read()
        with self._lock:
            self._blobs[key] = (payload, content_type)

    def get(self, key: str) -> bytes:
        if not self.available:
            raise ServiceUnavailable("blob store unavailable")
        try:
            return self._blobs[key][0]
        except KeyError:
            raise BlobMissing(f"no blob {key}") from None

    def content_type(self, key: str) -> str:
        return self._blobs[key][1]

    def delete(self, key: str) -> None:
        if self.fail_deletes or not self.available:
            raise ServiceUnavailable("blob store unavailable")
        with self._lock:
            self._blobs.pop(key, None)

    def exists(self, key: str) -> bool:
        return key in self._blobs

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def url(self, key: str, expires_at: datetime, *, filename: str, content_type: str) -> str:
        exp = int(expires_at.timestamp())
        return f"{self._base_url}/{quote(key)}?exp={exp}&sig={self.sign(key, exp)}"

    def keys(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._blobs))

    def resolve(self, key: str, exp: str, sig: str, live: Callable[[str], bool]) -> tuple[bytes, str]:
        now = self._clock.now() if self._clock is not None else datetime.now(UTC)
        expected = self.sign(key, int(exp)) if exp.isdigit() else ""
        if not expected or not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise BlobMissing("bad signature")
        if now.timestamp() >= int(exp):
            raise BlobMissing("link expired")
        if not live(key):
            raise BlobMissing("the image was deleted")
        data = self.get(key)
        return data, self._blobs.get(key, (data, ""))[1]

    def check(self) -> None:
        if not self.available:
            raise ServiceUnavailable("blob store unavailable")


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG"),
    (b"GIF87a", "image/gif", "GIF"),
    (b"GIF89a", "image/gif", "GIF"),
)


class FakeImageInspector:
    """Recognises formats by magic bytes and reads PNG sizes; no decoding."""

    def inspect(self, path: Path, *, sha256: str | None = None) -> InspectedImage:
        data = path.read_bytes()
        if not data:
            raise UnsupportedMediaType("The file is empty.")
        found = next(((c, f) for magic, c, f in _MAGIC if data.startswith(magic)), None)
        if found is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            found = ("image/webp", "WEBP")
        if found is None:
            raise UnsupportedMediaType()
        ctype, fmt = found
        width = height = 1
        if fmt == "PNG":
            if len(data) < 24:
                raise InvalidImage("The image is truncated.")
            width, height = struct.unpack(">II", data[16:24])
        return InspectedImage(ctype, fmt, width, height, len(data), sha256 or hashlib.sha256(data).hexdigest())

    def probe(self, path: Path) -> InspectedImage | None:
        """PNGs by their header (as the real inspector does JPEGs); None for other formats."""
        data = path.read_bytes()[:64]
        if not data.startswith(b"\x89PNG"):
            return None if data else self.inspect(path)  # the empty file: the same refusal
        return attrs.evolve(self.inspect(path), sha256="")

    def open(self, path: Path) -> BinaryIO:
        return path.open("rb")

    def thumbnail(self, path: Path) -> Thumbnail:
        return Thumbnail(b"thumb:" + hashlib.sha256(path.read_bytes()).digest(), "image/jpeg")

    def photo_info(self, data: bytes) -> PhotoInfo:
        return PhotoInfo()


class FakeImageAnalyzer:
    """Deterministic: tags from a table keyed by sha256, else one 'image' tag. Can be told to fail."""

    name = "fake"

    def __init__(self, table: dict[str, AnalysisResult] | None = None) -> None:
        self.table = dict(table or {})
        self.calls = 0
        self.fail_with: Exception | None = None
        self.previews: list[bytes | None] = []  # the preview of each call (it is not used)

    def analyze(self, data: bytes, content_type: str, preview: bytes | None = None) -> AnalysisResult:
        self.calls += 1
        self.previews.append(preview)
        if self.fail_with is not None:
            raise self.fail_with
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.table:
            return self.table[digest]
        return AnalysisResult(
            analyzer=self.name,
            description="An image.",
            tags=(Tag("image", 1.0),),
            colors=(Color("#808080", 1.0, "gray"),),
        )


class FastPasswordHasher:
    """PBKDF2 with few rounds: for tests only, where argon2's cost would slow the suite."""

    def hash(self, password: str) -> str:
        import os

        salt = os.urandom(8).hex()
        return f"fast${salt}${self._digest(salt, password)}"

    def _digest(self, salt: str, password: str) -> str:
        return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8", "surrogatepass"), salt.encode(), 10).hex()

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            _, salt, digest = password_hash.split("$")
        except ValueError:
            return False
        return hmac.compare_digest(digest, self._digest(salt, password))

    def needs_rehash(self, password_hash: str) -> bool:
        return not password_hash.startswith("fast$")

    def dummy_verify(self, password: str) -> None:
        self._digest("00", password)


class RecordingScheduler:
    """Counts notifications; tests drive the AnalysisService themselves."""

    def __init__(self) -> None:
        self.notified = 0

    def notify(self) -> None:
        self.notified += 1


class InMemoryLoginThrottle:
    """Counters in a dict: one process only (SqliteLoginThrottle/PostgresLoginThrottle share them)."""

    def __init__(self, clock: Clock, policy: ThrottlePolicy | None = None) -> None:
        self._clock = clock
        self._rules = ThrottleRules.scaled(policy)
        self._state: dict[str, CounterState] = {}
        self._lock = threading.Lock()

    def retry_after(self, keys: Sequence[str]) -> int:
        with self._lock:
            return self._rules.wait(keys, self._mine(keys), self._clock.now())

    def reserve(self, keys: Sequence[str]) -> int:
        with self._lock:
            now = self._clock.now()
            wait, changes = self._rules.reserve(keys, self._mine(keys), now)
            self._apply(changes, now)
        return wait

    def failed(self, keys: Sequence[str]) -> None:
        with self._lock:
            now = self._clock.now()
            self._apply(self._rules.failed(keys, self._mine(keys), now), now)

    def succeeded(self, keys: Sequence[str]) -> None:
        with self._lock:
            self._apply(self._rules.succeeded(keys, self._mine(keys)), self._clock.now())

    def _mine(self, keys: Sequence[str]) -> dict[str, CounterState]:
        return {k: self._state[k] for k, _ in self._rules.counters(keys) if k in self._state}

    def _apply(self, changes: Changes, now: datetime) -> None:
        for key, counter in changes.items():
            if counter is None:
                self._state.pop(key, None)
            else:
                self._state[key] = counter
        horizon = self._rules.forget_after
        for key in [k for k, c in self._state.items() if (now - c.last_seen).total_seconds() > horizon]:
            del self._state[key]


def png_bytes(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A tiny valid PNG (no Pillow needed), distinct per seed; handy in tests and demos."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(
        b"\x00" + b"".join(bytes([(seed * 7 + x) % 256, (seed // 256) % 256, y % 256]) for x in range(width))
        for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


__all__ = [
    "FakeImageAnalyzer",
    "FakeImageInspector",
    "FastPasswordHasher",
    "InMemoryAccountRepository",
    "InMemoryBlobStore",
    "InMemoryImageRepository",
    "InMemoryLoginThrottle",
    "ManualClock",
    "RecordingScheduler",
    "png_bytes",
]


class FakeGazetteer:
    """A gazetteer of a few places, each with a fixed UTC offset: the first within 2° answers."""

    PLACES: tuple[tuple[float, float, Place, timedelta], ...] = (
        (48.8566, 2.3522, Place("Paris", "Île-de-France", "France", "FR"), timedelta(hours=2)),
        (-33.8688, 151.2093, Place("Sydney", "New South Wales", "Australia", "AU"), timedelta(hours=10)),
        (40.7128, -74.006, Place("New York City", "New York", "United States", "US"), timedelta(hours=-4)),
        (-18.1416, 178.4419, Place("Suva", "Central", "Fiji", "FJ"), timedelta(hours=12)),
    )

    def __init__(self) -> None:
        self.lookups = 0

    def _nearest(self, latitude: float, longitude: float) -> tuple[Place, timedelta] | None:
        self.lookups += 1
        for lat, lon, place, offset in self.PLACES:
            dlon = min(abs(lon - longitude), 360 - abs(lon - longitude))
            if abs(lat - latitude) < 2 and dlon < 2:
                return place, offset
        return None

    def place(self, latitude: float, longitude: float) -> Place | None:
        found = self._nearest(latitude, longitude)
        return found[0] if found else None

    def utc_offset(self, latitude: float, longitude: float, local: datetime) -> timedelta | None:
        found = self._nearest(latitude, longitude)
        return found[1] if found else None
