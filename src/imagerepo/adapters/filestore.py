"""Encrypted file blob store: the embedded default, AES-256-GCM files under a directory."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import struct
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from imagerepo.domain.errors import BlobMissing, ServiceUnavailable
from imagerepo.ports.clock import Clock

# File layout (all integers big-endian):
#   header  = MAGIC(4) | VERSION(1) | salt(16) | nonce_prefix(7) | meta_len(2)
#   meta    = AES-GCM(content type, counter 0)            meta_len + 16 bytes
#   chunk i = AES-GCM(plaintext[CHUNK * (i-1):CHUNK * i]) CHUNK + 16 bytes, the last one shorter
# Nonce = nonce_prefix | counter(4) | last(1); AAD = header | key name. The per-file AES key is
# HKDF(master, salt, info=key name), so a file moved under another key, a reordered, dropped or
# appended chunk, or a truncation at a chunk boundary all fail authentication.
MAGIC = b"IRB\x00"
VERSION = 1
CHUNK = 64 * 1024
_TAG = 16
_HEADER = struct.Struct(">4sB16s7sH")
_SUFFIX = ".blob"
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}")
_URL_CONTEXT = b"imagerepo blob url v1\n"


def _always(key: str) -> bool:
    return True


def _check_key(key: str) -> list[str]:
    """The path segments of a well-formed key; refuses '..', absolute paths and odd characters."""
    parts = key.split("/")
    if not key or len(parts) > 8 or not all(_SEGMENT.fullmatch(p) for p in parts):
        raise ValueError(f"invalid blob key: {key!r}")
    return parts


def _read_exact(stream: BinaryIO, n: int) -> bytes:
    """Up to ``n`` bytes, fewer only at end of stream (raw streams may return short reads)."""
    first = stream.read(n)
    if len(first) == n or not first:
        return first  # a file's usual answer: no copy
    buf = bytearray(first)
    while len(buf) < n:
        piece = stream.read(n - len(buf))
        if not piece:
            break
        buf += piece
    return bytes(buf)


def fsync_directory(directory: Path) -> None:
    """Makes a new or renamed entry of ``directory`` survive a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class EncryptedFileBlobStore:
    """Blobs as AES-256-GCM encrypted files under ``root``, written atomically, streamed in
    64 KiB chunks so large objects never sit whole in memory while stored. URLs point at the
    app's own ``base_url`` route, which calls :meth:`resolve`."""

    def __init__(
        self, root: Path, key: bytes, url_secret: bytes, clock: Clock, base_url: str = "/blobs"
    ) -> None:
        if len(key) != 32:
            raise ValueError("the blob encryption key must be 32 bytes (AES-256)")
        if len(url_secret) < 16:
            raise ValueError("the URL signing secret must be at least 16 bytes")
        self._root = Path(root)
        self._key = key
        self._url_secret = url_secret
        self._clock = clock
        self._base_url = base_url.rstrip("/")

    # -- paths and crypto helpers ---------------------------------------------------------

    def _path(self, key: str) -> Path:
        parts = _check_key(key)
        return self._root.joinpath(*parts[:-1], parts[-1] + _SUFFIX)

    def _aead(self, key: str, salt: bytes) -> AESGCM:
        info = b"imagerepo blob v1\x00" + key.encode()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info)
        return AESGCM(hkdf.derive(self._key))

    @staticmethod
    def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
        return prefix + struct.pack(">IB", counter, 1 if last else 0)

    # -- BlobStore -------------------------------------------------------------------------

    def put(self, key: str, data: BinaryIO, content_type: str) -> None:
        path = self._path(key)
        if len(content_type.encode()) > 1024:
            raise ValueError("content type too long")
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = self._create(tmp)
            self._write(fd, tmp, path, key, data, content_type)
        except OSError as e:
            raise ServiceUnavailable(f"blob store cannot write {key}") from e

    @staticmethod
    def _create(tmp: Path) -> int:
        for attempt in range(20):
            try:
                tmp.parent.mkdir(parents=True, exist_ok=True)
                return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except (FileNotFoundError, FileExistsError):
                # A concurrent delete pruned a directory of the path (while mkdir made the next
                # level or checked it, or between mkdir and open): try again.
                if attempt == 19:
                    raise
        raise AssertionError("unreachable")

    def _write(self, fd: int, tmp: Path, path: Path, key: str, data: BinaryIO, content_type: str) -> None:
        salt, prefix = secrets.token_bytes(16), secrets.token_bytes(7)
        meta = content_type.encode()
        header = _HEADER.pack(MAGIC, VERSION, salt, prefix, len(meta))
        aad = header + key.encode()
        try:
            aead = self._aead(key, salt)
            with os.fdopen(fd, "wb") as out:
                out.write(header)
                out.write(aead.encrypt(self._nonce(prefix, 0, False), meta, aad))
                counter = 1
                current = _read_exact(data, CHUNK)
                while True:
                    following = _read_exact(data, CHUNK) if len(current) == CHUNK else b""
                    last = not following
                    out.write(aead.encrypt(self._nonce(prefix, counter, last), current, aad))
                    if last:
                        break
                    current, counter = following, counter + 1
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_directory(path.parent)

    def open(self, key: str) -> tuple[str, Generator[bytes, None, None]]:
        """Content type and an iterator of authenticated plaintext chunks. A chunk is yielded only
        after it verified; a truncated or tampered tail raises BlobMissing from the iterator."""
        f, content_type, aead, prefix, aad = self._open_header(key)
        return content_type, self._chunks(f, key, aead, prefix, aad)

    def _open_header(self, key: str) -> tuple[BinaryIO, str, AESGCM, bytes, bytes]:
        try:
            path = self._path(key)
        except ValueError as e:
            raise BlobMissing(f"no blob {key!r}") from e
        try:
            f = path.open("rb")
        except FileNotFoundError as e:
            raise BlobMissing(f"no blob {key}") from e
        except OSError as e:
            raise ServiceUnavailable(f"blob store cannot read {key}") from e
        try:
            header = f.read(_HEADER.size)
            if len(header) != _HEADER.size:
                raise BlobMissing(f"blob {key} is truncated")
            magic, version, salt, prefix, meta_len = _HEADER.unpack(header)
            if magic != MAGIC or version != VERSION:
                raise BlobMissing(f"blob {key} is not in a known format")
            aad = header + key.encode()
            aead = self._aead(key, salt)
            try:
                sealed = f.read(meta_len + _TAG)
                content_type = aead.decrypt(self._nonce(prefix, 0, False), sealed, aad).decode()
            except (InvalidTag, UnicodeDecodeError) as e:
                raise BlobMissing(f"blob {key} failed authentication") from e
        except BaseException:
            f.close()
            raise
        return f, content_type, aead, prefix, aad

    def _chunks(
        self, f: BinaryIO, key: str, aead: AESGCM, prefix: bytes, aad: bytes
    ) -> Generator[bytes, None, None]:
        with f:
            counter = 1
            current = f.read(CHUNK + _TAG)
            while True:
                following = f.read(CHUNK + _TAG) if len(current) == CHUNK + _TAG else b""
                last = not following
                try:
                    yield aead.decrypt(self._nonce(prefix, counter, last), current, aad)
                except InvalidTag as e:
                    raise BlobMissing(f"blob {key} failed authentication") from e
                if last:
                    return
                current, counter = following, counter + 1

    def get(self, key: str) -> bytes:
        _, chunks = self.open(key)
        try:
            return b"".join(chunks)
        except OSError as e:
            raise ServiceUnavailable(f"blob store cannot read {key}") from e

    def content_type(self, key: str) -> str:
        f, content_type, *_ = self._open_header(key)
        f.close()
        return content_type

    def delete(self, key: str) -> None:
        try:
            path = self._path(key)
        except ValueError:
            return  # such a key can never have been stored
        try:
            path.unlink(missing_ok=True)
        except OSError as e:
            raise ServiceUnavailable(f"blob store cannot delete {key}") from e
        # Prune now-empty directories (best effort; a concurrent put recreates them).
        parent = path.parent
        while parent != self._root and self._root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    def exists(self, key: str) -> bool:
        try:
            return self._path(key).is_file()
        except ValueError:
            return False

    def keys(self) -> Iterator[str]:
        if not self._root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self._root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            rel = Path(dirpath).relative_to(self._root)
            for name in filenames:
                if name.endswith(_SUFFIX) and not name.startswith("."):
                    key = "/".join([*rel.parts, name[: -len(_SUFFIX)]])
                    if _SEGMENT.fullmatch(name[: -len(_SUFFIX)]):
                        yield key

    def check(self) -> None:
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            probe = self._root / f".check.{secrets.token_hex(8)}.tmp"
            with probe.open("wb") as f:
                f.write(b"ok")
                f.flush()
                os.fsync(f.fileno())
            probe.unlink()
        except OSError as e:
            raise ServiceUnavailable("blob directory is not writable") from e

    # -- signed URLs -----------------------------------------------------------------------

    def _sign(self, key: str, exp: str) -> str:
        msg = _URL_CONTEXT + key.encode() + b"\n" + exp.encode()
        return hmac.new(self._url_secret, msg, hashlib.sha256).hexdigest()

    def url(self, key: str, expires_at: datetime, *, filename: str, content_type: str) -> str:
        _check_key(key)
        exp = str(int(expires_at.timestamp()))
        return f"{self._base_url}/{quote(key)}?exp={exp}&sig={self._sign(key, exp)}"

    def _authorize(self, key: str, exp: str, sig: str) -> None:
        expected = self._sign(key, exp)
        if not hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace")):
            raise BlobMissing("bad signature")
        if not exp.isdigit() or self._clock.now().timestamp() >= int(exp):
            raise BlobMissing("link expired")

    def resolve(self, key: str, exp: str, sig: str, live: Callable[[str], bool] = _always) -> tuple[bytes, str]:
        """What the app's blob route serves for ``{base_url}/{key}?exp=&sig=``: the plaintext and
        its content type. BlobMissing for a bad signature, an expired link, a key ``live`` says
        is dead (its image was deleted, the blob awaits the sweeper), a missing or tampered blob;
        the route answers all of these alike (404). ``live`` runs only for a valid signature."""
        content_type, chunks = self.resolve_stream(key, exp, sig, live)
        return b"".join(chunks), content_type

    def resolve_stream(
        self, key: str, exp: str, sig: str, live: Callable[[str], bool] = _always
    ) -> tuple[str, Iterator[bytes]]:
        """Like :meth:`resolve` but streamed; a tampered tail raises from the iterator."""
        self._authorize(key, exp, sig)
        if not live(key):
            raise BlobMissing("the image was deleted")
        return self.open(key)


__all__ = ["EncryptedFileBlobStore"]
