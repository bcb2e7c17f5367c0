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
import functools
import hashlib
import io
import math
import os
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageOps

from bot.media.exif_gps import gps_from_exif
from bot.store import photos as photo_rows
from bot.store.db import Database
from bot.store.private_files import private_dir

try:  # Pillow wheels ship littlecms; a distro build might not, and then we only lose colour accuracy.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on how Pillow was built
    ImageCms = None  # type: ignore[assignment]

__all__ = ["PhotoRejected", "PhotoStore", "RejectionCode", "StoredPhoto", "exif_gps"]

RejectionCode = Literal["too_big", "not_an_image", "unsupported_type", "too_many_pixels"]

# What Pillow calls the formats we accept. MPO is how Pillow reports a JPEG with a Multi-Picture segment
# (many Samsung/iPhone shots, with a depth map or preview appended): it is a JPEG to every viewer.
_ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# Only these decoders ever see user bytes: every other Pillow plugin is attack surface we do not need.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
_EXTENSIONS = ("jpg", "png", "webp")

_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")
_SHARED_QUALITY = 85
MAX_SHARED_SIDE = 4096  # pixels on the long side of the shareable copy (Telegram shows at most 2560)

# HEIF brands (iPhone "高效" photos, sent as a file) and AVIF share the ISO-BMFF `ftyp` box.
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_DIB_SIZES = {12, 40, 52, 56, 64, 108, 124}


class PhotoRejected(Exception):
    """Why a photo was refused, as data: the door that received it turns ``code`` into a polite text.

    ``limit`` and ``size`` are in bytes for ``too_big`` and in pixels for ``too_many_pixels`` (``size`` is
    ``None`` when Pillow's own bomb guard refused the header before we could read it). ``found`` names a
    recognised but unsupported format ("GIF", "HEIC", …) so a door can suggest sending JPEG instead.
    """

    def __init__(
        self,
        code: RejectionCode,
        *,
        limit: int | None = None,
        size: int | None = None,
        found: str | None = None,
    ) -> None:
        super().__init__(code)
        self.code: RejectionCode = code
        self.limit = limit
        self.size = size
        self.found = found

    def __repr__(self) -> str:
        return f"PhotoRejected({self.code!r}, limit={self.limit!r}, size={self.size!r}, found={self.found!r})"


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
        fmt, image, gps, (width, height) = _decode(data, self.max_pixels, self.max_decoded_bytes, self.max_side)
        mime, ext = _ACCEPTED[fmt]
        stored = StoredPhoto(sha256=digest, mime=mime, width=width, height=height, size=len(data), gps=gps)
        if self.db is not None:
            with image:
                return stored, ext, _shareable_jpeg(image)
        with image:
            folder = self._dir(digest)
            private_dir(folder)  # 0700, like the database's: originals carry GPS and faces
            shared_path = folder / f"{digest}.shared.jpg"
            # Shared copy first: once an original is visible, its shareable twin is too.
            if not shared_path.exists():
                _write_atomically(shared_path, _shareable_jpeg(image))
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
        with _open(data) as image:
            exif = image.getexif()
    except Exception:
        return None
    return gps_from_exif(exif)


# -- helpers ------------------------------------------------------------------------------------------------


def _checked_sha(sha256: object) -> str:
    if not isinstance(sha256, str) or not _SHA_RE.fullmatch(sha256):
        raise ValueError("not a photo id (expected 64 hex characters)")
    return sha256.lower()


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)


def _decode(
    data: bytes, max_pixels: int, max_decoded_bytes: int = 1 << 62, max_side: int = 1 << 30
) -> tuple[str, Image.Image, tuple[float, float] | None, tuple[int, int]]:
    """Decide by content whether these bytes are a photo we take; return it decoded (at most `max_side` pixels
    on its long side) and upright, with the original's size.

    Pillow raises a zoo of exception types on hostile input (OSError, SyntaxError, struct.error, ValueError,
    EOFError, …) and which one is an implementation detail, so everything from a decoder counts as "not an
    image"; only the bomb guard is told apart.
    """
    try:
        probe = _open(data)
    except Image.DecompressionBombError:
        raise PhotoRejected("too_many_pixels", limit=max_pixels) from None
    except Exception:
        found = _other_image_type(data)
        if found:
            raise PhotoRejected("unsupported_type", found=found) from None
        raise PhotoRejected("not_an_image") from None

    with probe:
        fmt = probe.format or ""
        width, height = probe.size
        bands = 4 if probe.mode in ("P", "PA", "RGBA", "LA", "CMYK") else len(probe.getbands())
        if fmt in ("JPEG", "MPO"):  # decoded at 1/2, 1/4 or 1/8 scale when that still covers max_side
            probe.draft("RGB" if bands >= 3 else "L", (max_side, max_side))
        decoded_bytes = probe.size[0] * probe.size[1] * max(bands, 1)
    if fmt not in _ACCEPTED:  # pragma: no cover - `formats=` already restricts this
        raise PhotoRejected("unsupported_type", found=fmt or None)
    if width <= 0 or height <= 0:
        raise PhotoRejected("not_an_image")
    # The header is all we have read so far: a 100 000 × 100 000 PNG of a few KB stops here, not in malloc.
    if width * height > max_pixels or decoded_bytes > max_decoded_bytes:
        raise PhotoRejected("too_many_pixels", limit=max_pixels, size=width * height)

    image: Image.Image | None = None
    upright: Image.Image | None = None
    try:
        with _open(data) as checker:
            checker.verify()  # chunk CRCs and structure; Pillow requires a fresh open afterwards
        image = _open(data)
        if fmt in ("JPEG", "MPO"):
            image.draft("RGB" if bands >= 3 else "L", (max_side, max_side))
        image.load()  # the full decode is what catches a truncated JPEG
        try:
            exif = image.getexif()
        except Exception:
            exif = Image.Exif()
        gps = gps_from_exif(exif)
        image = _fit(image, max_side)
        upright = _upright(image)
    except Image.DecompressionBombError:
        raise PhotoRejected("too_many_pixels", limit=max_pixels, size=width * height) from None
    except Exception:
        raise PhotoRejected("not_an_image") from None
    finally:
        if image is not None and image is not upright:
            image.close()
    with contextlib.suppress(Exception):
        if exif.get(0x0112, 1) in (5, 6, 7, 8):  # turned a quarter: the upright photo's size, as the phone showed it
            width, height = height, width
    return fmt, upright, gps, (width, height)


def _fit(image: Image.Image, max_side: int) -> Image.Image:
    """At most `max_side` pixels on the long side (the shareable copy needs no more; the original is kept as
    sent): reduced right after decoding, so later copies are small. The big decode is closed at once."""
    factor = math.ceil(max(image.size) / max_side)
    if factor <= 1:
        return image
    try:
        smaller = image.reduce(factor)
    except (ValueError, NotImplementedError):  # modes reduce() does not take (a palette image)
        smaller = image.copy()
        smaller.thumbnail((max_side, max_side))
    smaller.info = dict(image.info)
    with contextlib.suppress(Exception):  # keep the orientation tag for _upright
        smaller.getexif().update(image.getexif())
    image.close()
    return smaller


def _upright(image: Image.Image) -> Image.Image:
    """The image as the phone showed it; a broken Orientation tag is not worth refusing a hazard photo for.
    Without an orientation to apply, the image itself (no copy: each copy of a big photo is 100 MB)."""
    try:
        if image.getexif().get(0x0112, 1) in (0, 1):
            return image
        return ImageOps.exif_transpose(image)
    except Exception:
        return image.copy()


def _other_image_type(data: bytes) -> str | None:
    """Name formats riders plausibly send that we refuse, so the answer can say "send a JPEG" not "broken"."""
    head = data[:32]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "HEIC"
        if brand in _AVIF_BRANDS:
            return "AVIF"
    if head.startswith(b"BM") and len(head) >= 18 and int.from_bytes(head[14:18], "little") in _BMP_DIB_SIZES:
        return "BMP"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JXL"
    if head.startswith(b"8BPS"):
        return "PSD"
    return None


def _shareable_jpeg(image: Image.Image) -> bytes:
    """Re-encode as a bare JPEG: only pixels survive, so nothing the camera wrote can leak."""
    clean = _srgb_pixels(image)
    # convert()/copy() carry `info` over, and Pillow's JPEG writer re-emits info["comment"] (and may grow
    # to re-emit more): start the output from an empty dict rather than trusting the writer's defaults. (When
    # `clean` is the decoded image itself, that is ours to change: it is thrown away after this.)
    clean.info.clear()
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=_SHARED_QUALITY)
    return out.getvalue()


def _srgb_pixels(image: Image.Image) -> Image.Image:
    """A fresh RGB or L image in sRGB (dropping the ICC profile of a Display-P3 shot would wash it out)."""
    mode = image.mode
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode in ("P", "L", "RGB") and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if mode.startswith("I") or mode == "F":  # 16-bit greyscale PNG: scale down, do not clip to white
        return image.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if mode == "L":
        return image
    icc = image.info.get("icc_profile")
    if icc and ImageCms is not None and mode in ("RGB", "CMYK"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, _srgb_profile(), outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None
        if converted is not None:
            return converted
    return image if mode == "RGB" else image.convert("RGB")  # no copy of what is already plain RGB


@functools.cache
def _srgb_profile() -> Any:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


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
