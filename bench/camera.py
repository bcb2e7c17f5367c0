"""Synthetic phone photos that cost what real ones cost: a camera's 12-megapixel JPEG with EXIF, and the
1280-pixel JPEG Telegram makes of it when a rider sends it as a photo.

What a photo costs the store depends on how well it compresses, and a flat colour or white noise is wrong both
ways. The scene here has natural images' statistics: a random field whose amplitude spectrum falls as 1/f^1.5
(the 1/f-like spectrum of photographs, a little steeper for the smooth walls and sky of a street), a weaker
quarter-resolution colour field, a slight lens blur and sensor noise. Those four constants are calibrated so the
JPEGs land where phones and Telegram land: ≈ 2 bits per pixel for the camera original at quality 92 with 4:2:0
chroma (≈ 3.1 MB at 4032 × 3024, a typical 12-megapixel phone JPEG), ≈ 1.4 bits per pixel for Telegram's
1280 × 960 re-encode (≈ 210 KB). The figures derived from them say which input they measured; `python -m
bench.storage --photo FILE` measures with a real photo instead.

One scene and one field of sensor noise are drawn per run (a full-resolution FFT takes seconds); each photo is a
different window of the scene with a different window of the noise, and a different time stamp and place in its
EXIF, so every photo has its own bytes (the store is content-addressed: a
photo sent twice is stored once, which would flatter the figure).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageFilter

CAMERA = (4032, 3024)  # a 12-megapixel phone sensor, landscape
TELEGRAM_SIDE = 1280  # the long side of the largest size Telegram keeps of a photo (not sent "as a file")
TELEGRAM_QUALITY = 87
CAMERA_QUALITY = 92
_MARGIN = 0.06  # the scene is this much larger than a photo on each axis: room for different windows
_SLOPE, _CONTRAST, _BLUR, _NOISE = 1.5, 45.0, 0.6, 3.5
_GPS_IFD, _EXIF_IFD = 0x8825, 0x8769


def _field(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """Zero-mean, unit-variance noise with a 1/f^_SLOPE amplitude spectrum."""
    fy = np.fft.fftfreq(height).astype(np.float32)[:, None]
    fx = np.fft.rfftfreq(width).astype(np.float32)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    spectrum = rng.standard_normal(f.shape, dtype=np.float32) + 1j * rng.standard_normal(f.shape, dtype=np.float32)
    spectrum /= f**_SLOPE
    spectrum[0, 0] = 0
    x = np.fft.irfft2(spectrum, s=(height, width)).astype(np.float32)
    return (x - x.mean()) / x.std()


@dataclass
class Scene:
    """One drawn scene; `camera_jpeg(i)` and `telegram_jpeg(i)` cut photo i from it."""

    pixels: np.ndarray  # height × width × 3, uint8, already blurred (noise is added per photo)
    size: tuple[int, int]  # of each photo
    _reductions: dict[float, np.ndarray] = field(default_factory=dict)
    _noises: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @classmethod
    def draw(cls, size: tuple[int, int] = CAMERA, seed: int = 12) -> Scene:
        rng = np.random.default_rng(seed)
        width, height = (round(side * (1 + _MARGIN)) for side in size)
        luma = _field(rng, width, height)
        small = (max(8, width // 4), max(8, height // 4))
        cb, cr = (np.asarray(Image.fromarray(_field(rng, *small)).resize((width, height))) for _ in range(2))
        y = 120 + _CONTRAST * luma
        rgb = np.stack([y + 0.4 * _CONTRAST * cr, y - 0.2 * _CONTRAST * (cb + cr), y + 0.4 * _CONTRAST * cb], -1)
        image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(_BLUR))
        return cls(np.asarray(image), size)

    def _photo(self, i: int, side: int | None = None) -> Image.Image:
        """Window i of the scene plus a window of the sensor noise at another place; `side`: reduced to that long
        side first (the reduction averages the sensor's noise, so it is added at the reduced scale, as much
        weaker)."""
        rng = np.random.default_rng(1000 + i)
        scale = 1.0 if side is None else min(1.0, side / max(self.size))
        pixels = self._reduced(scale)
        width, height = (round(n * scale) for n in self.size)
        x, x2 = (int(v) for v in rng.integers(0, pixels.shape[1] - width + 1, 2))
        y, y2 = (int(v) for v in rng.integers(0, pixels.shape[0] - height + 1, 2))
        window = pixels[y : y + height, x : x + width].astype(np.float32)
        window += self._noise(pixels.shape)[y2 : y2 + height, x2 : x2 + width] * np.float32(_NOISE * scale)
        return Image.fromarray(np.clip(window, 0, 255).astype(np.uint8))

    def _reduced(self, scale: float) -> np.ndarray:
        if scale == 1.0:
            return self.pixels
        if scale not in self._reductions:
            image = Image.fromarray(self.pixels)
            size = (round(image.width * scale), round(image.height * scale))
            self._reductions[scale] = np.asarray(image.resize(size, Image.Resampling.LANCZOS))
        return self._reductions[scale]

    def _noise(self, shape: tuple[int, ...]) -> np.ndarray:
        """Unit sensor noise as large as the scene (at this scale), drawn once: a photo takes a window of it."""
        key = (shape[0], shape[1])
        if key not in self._noises:
            rng = np.random.default_rng(99 + shape[0])
            self._noises[key] = rng.standard_normal((shape[0], shape[1], 1), dtype=np.float32)
        return self._noises[key]

    def camera_jpeg(self, i: int, lat: float, lon: float) -> bytes:
        """Photo i as the phone wrote it: quality 92, 4:2:0, EXIF with camera, time and the GPS position."""
        out = io.BytesIO()
        self._photo(i).save(out, "JPEG", quality=CAMERA_QUALITY, subsampling="4:2:0", exif=_exif(i, lat, lon))
        return out.getvalue()

    def telegram_jpeg(self, i: int) -> bytes:
        """Photo i as Telegram hands it to a bot when sent as a photo: 1280 px long side, re-encoded, no EXIF."""
        out = io.BytesIO()
        self._photo(i, TELEGRAM_SIDE).save(out, "JPEG", quality=TELEGRAM_QUALITY)
        return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    total = round(abs(value) * 3600, 4)
    degrees, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return (float(degrees), float(minutes), round(seconds, 4))


def _exif(i: int, lat: float, lon: float) -> Image.Exif:
    """What a phone writes (without its thumbnail and maker notes, which only add bytes to the original)."""
    exif = Image.Exif()
    exif[0x010F] = "Xiaomi"  # Make
    exif[0x0110] = "Redmi Note 12"  # Model
    exif[0x0112] = 1  # Orientation
    exif[0x0131] = "MIUI Camera"  # Software
    stamp = f"2026:12:01 {8 + i // 3600 % 12:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
    exif[0x0132] = stamp  # DateTime
    sub = exif.get_ifd(_EXIF_IFD)
    sub[0x9003] = stamp  # DateTimeOriginal
    sub[0x829A] = 1 / 120  # ExposureTime
    sub[0x829D] = 1.8  # FNumber
    sub[0x8827] = 100  # ISO
    sub[0x920A] = 5.4  # FocalLength
    sub[0xA420] = f"{i:032x}"  # ImageUniqueID
    gps = exif.get_ifd(_GPS_IFD)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    gps[18] = "WGS-84"  # GPSMapDatum
    return exif
