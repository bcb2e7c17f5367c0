"""Deciding what a rider's bytes are, decoding them within a memory budget, and re-encoding the shareable copy.

Split from bot/media/photos.py (where the bytes are kept): everything here is pure CPU work on untrusted input,
run in the photo store's own threads. The type is decided by content, only three decoders ever see user bytes,
and the shareable copy is a fresh JPEG with nothing but pixels in it.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
from typing import Any, Literal

from PIL import Image, ImageOps

from bot.media.exif_gps import gps_from_exif

try:  # Pillow wheels ship littlecms; a distro build might not, and then we only lose colour accuracy.
    from PIL import ImageCms
except ImportError:  # pragma: no cover - depends on how Pillow was built
    ImageCms = None  # type: ignore[assignment]

RejectionCode = Literal["too_big", "not_an_image", "unsupported_type", "too_many_pixels"]

# What Pillow calls the formats we accept. MPO is how Pillow reports a JPEG with a Multi-Picture segment
# (many Samsung/iPhone shots, with a depth map or preview appended): it is a JPEG to every viewer.
ACCEPTED: dict[str, tuple[str, str]] = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
# Only these decoders ever see user bytes: every other Pillow plugin is attack surface we do not need.
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP")
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


def open_image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)


def decode(
    data: bytes, max_pixels: int, max_decoded_bytes: int = 1 << 62, max_side: int = 1 << 30
) -> tuple[str, Image.Image, tuple[float, float] | None, tuple[int, int]]:
    """Decide by content whether these bytes are a photo we take; return it decoded (at most `max_side` pixels
    on its long side) and upright, with the original's size.

    Pillow raises a zoo of exception types on hostile input (OSError, SyntaxError, struct.error, ValueError,
    EOFError, …) and which one is an implementation detail, so everything from a decoder counts as "not an
    image"; only the bomb guard is told apart.
    """
    try:
        probe = open_image(data)
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
    if fmt not in ACCEPTED:  # pragma: no cover - `formats=` already restricts this
        raise PhotoRejected("unsupported_type", found=fmt or None)
    if width <= 0 or height <= 0:
        raise PhotoRejected("not_an_image")
    # The header is all we have read so far: a 100 000 × 100 000 PNG of a few KB stops here, not in malloc.
    if width * height > max_pixels or decoded_bytes > max_decoded_bytes:
        raise PhotoRejected("too_many_pixels", limit=max_pixels, size=width * height)

    image: Image.Image | None = None
    upright: Image.Image | None = None
    try:
        with open_image(data) as checker:
            checker.verify()  # chunk CRCs and structure; Pillow requires a fresh open afterwards
        image = open_image(data)
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


def shareable_jpeg(image: Image.Image) -> bytes:
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
