"""Image service: upload, get, list, delete, re-analyze, temporary URLs, and the sweeper."""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import attrs

from imagerepo.domain.accounts import Account, QuotaUse
from imagerepo.domain.errors import BlobMissing, DuplicateImage, InvalidImage, NotFound, QuotaExceeded
from imagerepo.domain.images import Analysis, Image, clean_filename, parse_blob_key
from imagerepo.domain.photos import PhotoInfo, with_zone_offset
from imagerepo.domain.queries import ImageQuery, Page, build_query
from imagerepo.domain.similarity import Fingerprint
from imagerepo.ports.analysis_scheduler import AnalysisScheduler
from imagerepo.ports.blob_store import BlobStore
from imagerepo.ports.clock import Clock
from imagerepo.ports.fingerprint_repository import FingerprintRepository
from imagerepo.ports.gazetteer import Gazetteer
from imagerepo.ports.image_inspector import ImageInspector
from imagerepo.ports.image_repository import ImageRepository
from imagerepo.ports.signed_blob_server import SignedBlobServer

log = logging.getLogger(__name__)

# A refused blob delete is tried again after these pauses (seconds) before the request returns,
# unless the attempts already took DELETE_RETRY_BUDGET seconds (a store that hangs, not blips).
DELETE_RETRY_PAUSES = (0.1, 0.4, 1.6)
DELETE_RETRY_BUDGET = 5.0


# Runs the calls, at once where it can, and returns when every one has ended; raises the first
# failure (after the others ended). The default runs them one after the other.
RunTogether = Callable[[Sequence[Callable[[], None]]], None]


def one_after_another(calls: Sequence[Callable[[], None]]) -> None:
    for call in calls:
        call()


@attrs.frozen
class ImageUrls:
    url: str
    thumbnail_url: str
    expires_at: datetime


@attrs.frozen
class Uploaded:
    """A stored upload, and the perceptual hash its decode made (None when none was made)."""

    image: Image
    phash: int | None


@attrs.frozen
class SweepReport:
    uploads_rolled_back: int = 0
    deletions_finished: int = 0
    orphan_blobs_removed: int = 0


class ImageService:
    def __init__(
        self,
        images: ImageRepository,
        blobs: BlobStore,
        inspector: ImageInspector,
        scheduler: AnalysisScheduler,
        clock: Clock,
        default_quota: int = 5,
        url_ttl: timedelta = timedelta(minutes=30),
        stale_upload_after: timedelta = timedelta(minutes=15),
        analyzer_name: str = "",
        signed_blobs: SignedBlobServer | None = None,
        gazetteer: Gazetteer | None = None,
        run_together: RunTogether = one_after_another,
        fingerprints: FingerprintRepository | None = None,
        forget_faces: Callable[[str, str], object] | None = None,
    ) -> None:
        """``run_together``: how the original and the thumbnail are stored; threads let their
        writes (and the file store's fsyncs) overlap."""
        self._images = images
        self._blobs = blobs
        self._inspector = inspector
        self._scheduler = scheduler
        self._clock = clock
        self._default_quota = default_quota
        self._url_ttl = url_ttl
        self._stale_upload_after = stale_upload_after
        self._analyzer_name = analyzer_name
        self._signed_blobs = signed_blobs
        self._gazetteer = gazetteer
        self._run_together = run_together
        self._fingerprints = fingerprints
        # Deletes the image's face rows and crops (the people service) before its own blobs.
        self._forget_faces = forget_faces

    def check_database(self) -> None:
        """Raise ServiceUnavailable when the database cannot be reached (the readiness probe)."""
        self._images.check()

    def check_blob_store(self) -> None:
        """Raise ServiceUnavailable when the blob store cannot be reached (the readiness probe)."""
        self._blobs.check()

    def quota_limit(self, account: Account) -> int:
        return account.quota_limit if account.quota_limit is not None else self._default_quota

    def quota(self, account: Account) -> QuotaUse:
        return QuotaUse(used=self._images.count(account.id), limit=self.quota_limit(account))

    def upload(
        self,
        account: Account,
        filename: str | None,
        path: Path,
        sha256: str | None = None,
        *,
        hashed_on_write: bool = False,
    ) -> Image:
        """Store the file at ``path`` as a new image (see :meth:`store_upload`)."""
        return self.store_upload(account, filename, path, sha256, hashed_on_write=hashed_on_write).image

    def store_upload(
        self,
        account: Account,
        filename: str | None,
        path: Path,
        sha256: str | None = None,
        *,
        hashed_on_write: bool = False,
    ) -> Uploaded:
        """Store the file at ``path`` as a new image: it fully lands or leaves no trace.

        A duplicate is refused on the bytes' hash and a full quota before any decode, so a user at
        quota cannot make the server decode; ``reserve`` checks both atomically. A JPEG
        is reserved on its header and decoded while its original is written; a decode that fails
        rolls both back. ``sha256``: the file's hash when the caller computed it while writing
        the file (the decode hashes the file again, so a wrong one cannot stick), unless
        ``hashed_on_write``: this process computed it from the very bytes it wrote to ``path``, a
        private file nothing else writes (the HTTP receiver's), and the decode takes it as is.
        """
        if sha256 is None:
            digest = hashlib.sha256()
            with self._inspector.open(path) as f:
                while chunk := f.read(1 << 20):
                    digest.update(chunk)
            sha256 = digest.hexdigest()
        self._refuse_duplicate(account, sha256)  # on the hash alone: nothing probed or decoded yet
        limit = self.quota_limit(account)
        # A JPEG is described by its header: reserved at once (the reservation refuses a full
        # quota, so it is counted once), its decode (the validation) then runs while the original
        # is written. Other formats are decoded before anything is written, so a full quota is
        # refused before that decode.
        header = self._inspector.probe(path)  # 415, or 422 for too many pixels: nothing written yet
        known = sha256 if hashed_on_write else None  # a hash the decode need not compute again
        if header is None:
            used = self._images.count(account.id)
            if used >= limit:
                raise QuotaExceeded(used, limit)
        info = header if header is not None else self._inspector.inspect(path, sha256=known)
        image = Image(
            id=str(uuid.uuid4()),
            owner_id=account.id,
            filename=clean_filename(filename),
            content_type=info.content_type,
            width=info.width,
            height=info.height,
            size_bytes=info.size_bytes,
            sha256=sha256 if header is not None else info.sha256,
            uploaded_at=self._clock.now(),
            analysis=Analysis.pending(self._analyzer_name),
            photo=self.describe_photo(account, info.photo),
        )
        self._images.reserve(image, limit)  # quota + duplicate, atomically
        phash = [info.phash]  # a JPEG's comes from the decode below

        def check_then_put_thumbnail() -> None:
            if header is not None:
                decoded = self._inspector.inspect(path, sha256=known)  # 422 for a truncated or corrupt file
                phash[0] = decoded.phash
                fields = ("content_type", "width", "height", "size_bytes", "sha256")
                if any(getattr(decoded, f) != getattr(image, f) for f in fields):
                    # Only a wrong hash from the caller or a file changed underneath gets here.
                    raise InvalidImage("The file changed while it was being stored; nothing was kept.")
            thumb = self._inspector.thumbnail(path)
            self._blobs.put(image.thumbnail_key, io.BytesIO(thumb.data), thumb.content_type)

        def put_original() -> None:
            with self._inspector.open(path) as f:
                self._blobs.put(image.original_key, f, image.content_type)

        try:
            # Both have ended when it returns or raises; a refused decode is raised first.
            self._run_together([check_then_put_thumbnail, put_original])
        except BaseException:
            self._roll_back(image)
            raise
        try:
            self._images.commit(image.id)
        except BaseException:
            # A commit that got no answer may still land: its blobs stay, so the image is whole
            # if it does; if it does not, the sweeper removes them with the row.
            self._roll_back(image, keep_blobs=True)
            raise
        self._remember_phash(image, phash[0])
        self._scheduler.notify()
        return Uploaded(image, phash[0])  # the hash handed on: a copy check need not read it back

    def _remember_phash(self, image: Image, phash: int | None) -> None:
        """The perceptual hash made from the upload's decode, so the upload can be told a copy at
        once (analysis stores it too: a failure here costs nothing lasting)."""
        if self._fingerprints is None or phash is None:
            return
        try:
            self._fingerprints.put(image.owner_id, image.id, Fingerprint(phash=phash))
        except Exception:
            log.warning("perceptual hash of %s not stored at upload", image.id, exc_info=True)

    def describe_photo(self, account: Account, photo: PhotoInfo) -> PhotoInfo:
        """What the file says, as kept: the position named offline and its zone's offset given to
        a time without one; no position at all when the account keeps none. A gazetteer that
        fails leaves the position unnamed and the time as it was, never a failed upload."""
        loc = photo.location
        if loc is None:
            return photo
        if not account.settings.keep_location:
            return photo.without_location()
        if self._gazetteer is None:
            return photo
        try:
            place = self._gazetteer.place(loc.latitude, loc.longitude)
            offset = None
            if photo.taken_at is not None and photo.taken_at.tzinfo is None:
                offset = self._gazetteer.utc_offset(loc.latitude, loc.longitude, photo.taken_at)
        except Exception:  # a broken gazetteer costs the place names, not the upload
            log.warning("place lookup failed", exc_info=True)
            return photo
        if place is not None:
            loc = attrs.evolve(
                loc, city=place.city, region=place.region, country=place.country, country_code=place.country_code
            )
        return attrs.evolve(photo, location=loc, taken_at=with_zone_offset(photo.taken_at, offset),
                            zone_from_position=photo.zone_from_position or offset is not None)

    def erase_locations(self, account: Account) -> int:
        """Forget the positions and place names of all the account's images; returns how many had one."""
        return self._images.erase_locations(account.id)

    def backfill_photos(
        self, account_of: Callable[[str], Account | None], *, batch: int = 100,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Read the capture time, camera and position of every image stored before they were kept.

        Resumable: each image is marked read as it is done (a file that says nothing is marked
        too), so a stopped run goes on where it stopped. ``progress`` gets the running count.
        """
        done = 0
        after = ""
        while images := self._images.unread_photos(after, batch):
            for image in images:
                after = image.id
                account = account_of(image.owner_id)
                if account is None:
                    continue
                try:
                    data = bytes(self._blobs.get(image.original_key))
                except BlobMissing:
                    log.warning("backfill: the original of %s is missing", image.id)
                    continue
                photo = self.describe_photo(account, self._inspector.photo_info(data))
                if self._images.set_photo(image.owner_id, image.id, photo) is not None:
                    done += 1
                    if progress is not None:
                        progress(done)
        return done

    def _refuse_duplicate(self, account: Account, sha256: str) -> None:
        existing = self._images.find_by_sha256(account.id, sha256)
        if existing is not None:
            raise DuplicateImage(existing)

    def _roll_back(self, image: Image, *, keep_blobs: bool = False) -> None:
        """Undo a reservation; what cannot be undone now is left for the sweeper.

        The row goes even when the blob store is down, so a failed upload never holds a quota
        slot; a blob left behind has no row and the sweeper's orphan pass removes it.
        """
        leftover = keep_blobs
        for key in () if keep_blobs else (image.original_key, image.thumbnail_key):
            try:
                self._blobs.delete(key)
            except Exception:
                leftover = True
        try:
            self._images.discard(image.id)
        except Exception:
            leftover = True
        if leftover:
            log.warning("upload %s rolled back partly; the sweeper will finish it", image.id)

    def get(self, account: Account, image_id: str) -> Image:
        image = self._images.get(account.id, image_id)
        if image is None:
            raise NotFound()
        return image

    def search(self, query: ImageQuery) -> Page:
        return self._images.search(query)

    def images_of(self, account: Account) -> Iterator[Image]:
        """Every image of the account, oldest first, fetched a page at a time."""
        query = build_query(account.id, sort="uploaded_at", limit=100)
        while True:
            page = self._images.search(query)
            yield from page.items
            if page.next_cursor is None:
                return
            query = attrs.evolve(query, cursor=page.next_cursor)

    def read_original(self, account: Account, image_id: str) -> bytes:
        """The original bytes of one of the account's images; NotFound for anyone else's."""
        return bytes(self._blobs.get(self.get(account, image_id).original_key))

    def existing_copy(self, account: Account, sha256: str) -> str | None:
        """The id of the account's image with these bytes (stored or being uploaded), if any."""
        return self._images.find_by_sha256(account.id, sha256)

    def roll_back_uploads(self, account: Account, sha256s: Collection[str]) -> int:
        """Discard the account's unfinished uploads of these contents, blobs and reservation: what
        a killed bulk import left behind. A failure raises (the import stops). Returns how many."""
        if not sha256s:
            return 0
        now = self._clock.now()
        rolled = 0
        for image, state in self._images.stale(now, now):
            if state == "uploading" and image.owner_id == account.id and image.sha256 in sha256s:
                self._finish_delete(image)
                rolled += 1
        return rolled

    def tag_counts(self, account: Account) -> list[tuple[str, int]]:
        """The tags on the account's images, with how many carry each, most used first."""
        return self._images.tag_counts(account.id)

    def delete(self, account: Account, image_id: str) -> None:
        """Hide the image and free its slot, then remove its blobs and row.

        A refused blob delete is retried with back-off before returning: on S3 the blob, not
        the row, is what a signed URL reaches. What still fails is left for the sweeper (and
        the embedded store's URLs check the row, see :meth:`blob_is_live`).
        """
        image = self._images.begin_delete(account.id, image_id)
        if image is None:
            raise NotFound()
        started = self._clock.now()
        for pause in (*DELETE_RETRY_PAUSES, None):
            try:
                self._finish_delete(image)
                return
            except Exception:
                spent = (self._clock.now() - started).total_seconds()
                if pause is None or spent + pause > DELETE_RETRY_BUDGET:
                    log.warning("deletion of %s left for the sweeper", image.id, exc_info=True)
                    return
            self._clock.sleep(pause)

    def delete_all(self, account: Account) -> int:
        """Hide every image of the account at once, then remove their blobs and rows.

        Unlike :meth:`delete` there is no retry per image: the first blob the store refuses
        leaves the rest to the sweeper, so an outage cannot hold the request for minutes.
        Returns how many images were hidden."""
        hidden = [
            image for image in (self._images.begin_delete(account.id, i.id) for i in list(self.images_of(account)))
            if image is not None
        ]
        for image in hidden:
            if not self._try_finish_delete(image):
                break
        return len(hidden)

    def _finish_delete(self, image: Image) -> None:
        if self._forget_faces is not None:
            self._forget_faces(image.owner_id, image.id)
        for key in (image.original_key, image.thumbnail_key):
            self._blobs.delete(key)
        self._images.discard(image.id)

    def _try_finish_delete(self, image: Image) -> bool:
        try:
            self._finish_delete(image)
        except Exception:
            log.warning("sweeper could not clean %s yet", image.id, exc_info=True)
            return False
        return True

    def blob_is_live(self, key: str) -> bool:
        """True while the blob's image is visible to its owner: a URL must die with its image
        even when the blob itself is still waiting for the sweeper."""
        parsed = parse_blob_key(key)
        return parsed is not None and self._images.get(parsed[0], parsed[1]) is not None

    def finish_deletions(self) -> int:
        """Finish the deletions a refusing blob store left pending; stop at the first failure
        (run at start-up, where a store still down must not hold the start). Returns how many."""
        now = self._clock.now()
        done = 0
        for image, state in self._images.stale(now, now - self._stale_upload_after):
            if state != "deleting":
                continue
            if not self._try_finish_delete(image):
                break
            done += 1
        return done

    def reanalyze(self, account: Account, image_id: str) -> Image:
        image = self._images.request_analysis(account.id, image_id, self._clock.now())
        if image is None:
            raise NotFound()
        self._scheduler.notify()
        return image

    def reanalyze_all(self, accounts: Iterable[Account]) -> int:
        """Queue every image of these accounts for analysis again (after an analyzer upgrade,
        say) and wake the workers once. Returns how many were queued."""
        queued = 0
        for account in accounts:
            for image_id in [i.id for i in self.images_of(account)]:
                if self._images.request_analysis(account.id, image_id, self._clock.now()) is not None:
                    queued += 1
        if queued:
            self._scheduler.notify()
        return queued

    def serve_signed_blob(self, key: str, exp: str, sig: str) -> tuple[bytes, str]:
        """The bytes and content type behind a URL this app serves itself (the embedded file
        store's), only while the blob's image is live. NotFound when the store serves none
        (S3's URLs go to S3); BlobMissing for a bad, expired or dead link."""
        if self._signed_blobs is None:
            raise NotFound("file")
        return self._signed_blobs.resolve(key, exp, sig, self.blob_is_live)

    def urls(self, image: Image) -> ImageUrls:
        expires = self._clock.now() + self._url_ttl
        return ImageUrls(
            url=self._blobs.url(image.original_key, expires, filename=image.filename, content_type=image.content_type),
            thumbnail_url=self._blobs.url(image.thumbnail_key, expires, filename="thumbnail", content_type=""),
            expires_at=expires,
        )

    def sweep(self, *, orphans: bool = True) -> SweepReport:
        """Finish what crashes and outages left: stale uploads, unfinished deletions, orphan blobs."""
        now = self._clock.now()
        rolled = finished = removed = 0
        for image, state in self._images.stale(now, now - self._stale_upload_after):
            if not self._try_finish_delete(image):
                continue
            if state == "uploading":
                rolled += 1
            else:
                finished += 1
        if orphans:
            for key in list(self._blobs.keys()):
                parsed = parse_blob_key(key)
                if parsed is None or not self._images.exists(parsed[1]):
                    try:
                        self._blobs.delete(key)
                        removed += 1
                    except Exception:
                        log.warning("sweeper could not remove blob %s", key, exc_info=True)
        return SweepReport(rolled, finished, removed)
