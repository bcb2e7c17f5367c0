"""The photo store for 随手拍 hazard reports.

Riders send 1–4 photos per report, as Telegram photos (already re-encoded by Telegram, no EXIF) or as files
(the phone's original, often with the exact GPS position and camera model in EXIF). Everything about those
bytes is untrusted: the file name and mime type a chat channel reports are ignored, the type is decided by
content, and no part of anything the user supplied ever becomes part of a path.

Two files per photo, both named by the SHA-256 of the original bytes (content addressing makes a re-sent
photo free and a second report of the same photo share its files):

- ``root/ab/<sha>.<jpg|png|webp>`` — the original, byte for byte, kept as evidence. It may carry the rider's
  location, so it never leaves the core.
- ``root/ab/<sha>.shared.jpg`` — a re-encoded JPEG with every piece of metadata gone (EXIF incl. GPS, XMP,
  ICC, comments), oriented as the phone displayed it. This is what grid workers and exports see.

Files are written atomically (temp file in the same directory, fsync, rename), so a reader never sees half a
photo and a crash leaves at most a stray ``.incoming-*.tmp``.

With many processes on several hosts (PostgreSQL, issue 12) the same two forms go into the database instead
(``PhotoStore(db=…)``, bot/store/photos.py: ``photo_shared`` and ``photo_originals``), so any process serves and
forwards a photo another received; validation, EXIF stripping and the size limits are the same code.

Decoding and disk work run in ``asyncio.to_thread``: a 40-megapixel JPEG takes long enough to stall every other
rider's chat.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bot.media.decode import (
    ACCEPTED,
    MAX_SHARED_SIDE,
    PhotoRejected,
    RejectionCode,
    decode,
    open_image,
    shareable_jpeg,
)
from bot.media.exif_gps import gps_from_exif
from bot.store import photos as photo_rows
from bot.store.db import Database
from bot.store.private_files import private_dir

__all__ = ["PhotoRejected", "PhotoStore", "RejectionCode", "StoredPhoto", "exif_gps"]

_EXTENSIONS = ("jpg", "png", "webp")
_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class StoredPhoto:
    """A photo safely on disk.

    ``width``/``height`` are as displayed (after EXIF orientation), i.e. the size of the shareable copy.
    ``size`` is the original's length in bytes. ``gps`` is (lat, lon) in WGS-84 from the original's EXIF, or
    ``None`` when absent or not believable; it is for the report's own location, never for display.
    """

    sha256: str
    mime: str
    width: int
    height: int
    size: int
    gps: tuple[float, float] | None


class PhotoStore:
    """Content-addressed originals plus metadata-free shareable copies: files under one directory (`root`), or
    rows in the database every process shares (`db`)."""

    def __init__(
        self,
        root: Path | None = None,
        *,
        db: Database | None = None,
        max_bytes: int = 10 * 1024 * 1024,
        max_pixels: int = 40_000_000,
        max_decoded_bytes: int = 128 * 1024 * 1024,
        max_side: int = MAX_SHARED_SIDE,
        max_jobs: int = 1,
    ) -> None:
        if (root is None) == (db is None):
            raise ValueError("a photo store keeps its photos in a directory or in a database: give one")
        self.root = Path(root) if root is not None else None
        self.db = db
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels
        # Memory is bounded by these, not by what riders send: a legal 40-megapixel PNG of 0.1 MB decodes to
        # 120–160 MB, and each copy on the way to a JPEG costs that again. So at most `max_jobs` photos are
        # decoded at once (in `max_jobs` threads of their own; others wait their turn), JPEGs are decoded at a
        # reduced scale (Pillow's draft), anything larger than `max_side` is reduced right after decoding, and a
        # picture whose decoded form would exceed `max_decoded_bytes` is refused ("too large") before decoding.
        self.max_decoded_bytes = max_decoded_bytes
        self.max_side = max_side
        # Their own threads, not the default pool's: glibc gives each thread its own malloc arena and keeps what a
        # big decode freed there, so memory would grow with the number of threads that ever decoded a photo.
        self._jobs = ThreadPoolExecutor(max_workers=max_jobs, thread_name_prefix="photo-job")

    async def put(self, data: bytes) -> StoredPhoto:
        """Validate and store a photo, or raise `PhotoRejected`; storing the same bytes again writes nothing."""
        size = len(data)
        # Before any thread or decoder: a 30 MB upload is refused for the price of len().
        if size > self.max_bytes:
            raise PhotoRejected("too_big", limit=self.max_bytes, size=size)
        if size == 0:
            raise PhotoRejected("not_an_image")
        data = bytes(data)
        stored, ext, jpeg = await asyncio.get_running_loop().run_in_executor(self._jobs, self._put_sync, data)
        if self.db is not None and jpeg is not None:
            await photo_rows.save(self.db, stored.sha256, ext, jpeg, data)
        return stored

    @property
    def in_database(self) -> bool:
        return self.db is not None

    async def shareable(self, sha256: str) -> bytes:
        """The metadata-free JPEG: the only form of a photo that may leave the core."""
        if self.db is not None:
            found = await photo_rows.shared_jpeg(self.db, _checked_sha(sha256))
            if found is None:
                raise FileNotFoundError(f"no stored photo {sha256}")
            return found
        path = self.path_for(sha256)
        return await asyncio.to_thread(path.read_bytes)

    async def original(self, sha256: str) -> bytes:
        """The bytes exactly as the rider sent them (may contain their location: keep inside the core)."""
        return (await self.original_with_ext(sha256))[1]

    async def original_with_ext(self, sha256: str) -> tuple[str, bytes]:
        """(extension, bytes) of the original: what a copy of the store (`db copy`) needs to rebuild it."""
        digest = _checked_sha(sha256)  # validate before any filesystem or database access
        if self.db is not None:
            found = await photo_rows.original(self.db, digest)
            if found is None:
                raise FileNotFoundError(f"no stored photo {digest}")
            return found
        return await asyncio.to_thread(self._read_original, digest)

    async def digests(self) -> list[str]:
        """Every stored photo's id, sorted."""
        if self.db is not None:
            return await photo_rows.digests(self.db)
        return await asyncio.to_thread(self._list_digests)

    async def put_verbatim(self, sha256: str, ext: str, original: bytes, shareable: bytes) -> None:
        """Store both forms as they are, from another photo store (`db copy`): the original must hash to its id
        and the shareable copy must be a JPEG this code made — nothing is decoded or re-encoded."""
        digest = _checked_sha(sha256)
        if ext not in _EXTENSIONS or await asyncio.to_thread(lambda: hashlib.sha256(original).hexdigest()) != digest:
            raise ValueError(f"photo {digest}: the original does not match its id")
        if self.db is not None:
            await photo_rows.save(self.db, digest, ext, shareable, original)
            return
        await asyncio.to_thread(self._write_files, digest, ext, original, shareable)

    def path_for(self, sha256: str) -> Path:
        """Where the shareable copy lives; refuses anything that is not a SHA-256 before a path is built.

        Doors pass ids from callback data and URLs here, so "../../etc/passwd" must never reach `Path`. This
        is pure (no filesystem access), so it is safe to call on the event loop.
        """
        digest = _checked_sha(sha256)
        return self._dir(digest) / f"{digest}.shared.jpg"

    # -- worker-thread side -------------------------------------------------------------------------------

    def _dir(self, digest: str) -> Path:
        if self.root is None:
            raise RuntimeError("this photo store keeps its photos in the database")
        return self.root / digest[:2]

    def _list_digests(self) -> list[str]:
        if self.root is None or not self.root.is_dir():
            return []
        found = set()
        for ext in _EXTENSIONS:
            for path in self.root.glob(f"??/*.{ext}"):
                if _SHA_RE.fullmatch(path.stem) and path.parent.name == path.stem[:2].lower():
                    found.add(path.stem.lower())
        return sorted(found)

    def _write_files(self, digest: str, ext: str, original: bytes, shareable: bytes) -> None:
        folder = self._dir(digest)
        private_dir(folder)
        shared_path = folder / f"{digest}.shared.jpg"
        if not shared_path.exists():
            _write_atomically(shared_path, shareable)
        original_path = folder / f"{digest}.{ext}"
        if not original_path.exists():
            _write_atomically(original_path, original)

    def _read_original(self, digest: str) -> tuple[str, bytes]:
        folder = self._dir(digest)
        for ext in _EXTENSIONS:
            with contextlib.suppress(FileNotFoundError):
                return ext, (folder / f"{digest}.{ext}").read_bytes()
        raise FileNotFoundError(f"no stored photo {digest}")

    def _put_sync(self, data: bytes) -> tuple[StoredPhoto, str, bytes | None]:
        """Decode and check; write the files, or (database store) return the shareable JPEG for the caller to
        write from the event loop."""
        digest = hashlib.sha256(data).hexdigest()
        fmt, image, gps, (width, height) = decode(data, self.max_pixels, self.max_decoded_bytes, self.max_side)
        mime, ext = ACCEPTED[fmt]
        stored = StoredPhoto(sha256=digest, mime=mime, width=width, height=height, size=len(data), gps=gps)
        if self.db is not None:
            with image:
                return stored, ext, shareable_jpeg(image)
        with image:
            folder = self._dir(digest)
            private_dir(folder)  # 0700, like the database's: originals carry GPS and faces
            shared_path = folder / f"{digest}.shared.jpg"
            # Shared copy first: once an original is visible, its shareable twin is too.
            if not shared_path.exists():
                _write_atomically(shared_path, shareable_jpeg(image))
            original_path = folder / f"{digest}.{ext}"
            if not original_path.exists():
                _write_atomically(original_path, data)
        return stored, ext, None


def exif_gps(data: bytes) -> tuple[float, float] | None:
    """The EXIF GPS position of an image as WGS-84 (lat, lon), or ``None`` if absent or not believable.

    Pure and synchronous (it parses the header only): from async code call it through ``asyncio.to_thread``.
    Unbelievable means: a missing or unknown N/S/E/W reference, out-of-range degrees/minutes/seconds, a zero
    denominator, the (0, 0) a phone writes before it has a fix, a receiver that marked the fix void, or a map
    datum other than WGS-84 (we could not convert it, and a wrong datum is a wrong street).
    """
    try:
        with open_image(data) as image:
            exif = image.getexif()
    except Exception:
        return None
    return gps_from_exif(exif)


# -- helpers ------------------------------------------------------------------------------------------------


def _checked_sha(sha256: object) -> str:
    if not isinstance(sha256, str) or not _SHA_RE.fullmatch(sha256):
        raise ValueError("not a photo id (expected 64 hex characters)")
    return sha256.lower()


def _write_atomically(path: Path, data: bytes) -> None:
    """Write, fsync, rename: the path holds either nothing or the whole file, even across a power cut."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".incoming-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some platforms cannot open a directory, and there it is moot."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)
