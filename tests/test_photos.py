"""The photo store: type by content, bombs and blobs refused cheaply, originals kept, shared copies bare.

Every image is made here with Pillow and stored in a real directory; the hostile inputs (a renamed text file,
a truncated JPEG, a PNG header claiming ten billion pixels) are the ones riders' phones and bots really send.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from bot.media.photos import PhotoRejected, PhotoStore, StoredPhoto, exif_gps

GPS_IFD = 0x8825
ORIENTATION = 0x0112
NAME_RE = re.compile(r"[0-9a-f]{64}\.(jpg|png|webp|shared\.jpg)")


def _image(size: tuple[int, int] = (64, 48), mode: str = "RGB", color: object = (200, 30, 30)) -> Image.Image:
    img = Image.new(mode, size, color)  # type: ignore[arg-type]
    # Some structure, so encoders produce real entropy-coded data rather than one flat block.
    for x in range(0, size[0], 7):
        for y in range(0, size[1], 5):
            img.putpixel((x, y), (x * 3 % 256, y * 5 % 256, 90) if mode == "RGB" else 0)
    return img


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    """Degrees, minutes, seconds as a camera writes them: seconds to 1/10000, carried so none reaches 60."""
    total = round(value * 3600, 4)
    degrees, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return (float(degrees), float(minutes), round(seconds, 4))


def _gps_exif(lat: float, lon: float, **extra: object) -> Image.Exif:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N" if lat >= 0 else "S"
    gps[2] = _dms(abs(lat))
    gps[3] = "E" if lon >= 0 else "W"
    gps[4] = _dms(abs(lon))
    for tag, value in extra.items():
        gps[int(tag.removeprefix("tag"))] = value
    exif[0x010F] = "RiderPhone"  # Make: camera data that must not leak either
    exif[0x0110] = "Model X"
    return exif


def _jpeg_with_gps(lat: float, lon: float, **extra: object) -> bytes:
    return _encode(_image(), "JPEG", exif=_gps_exif(lat, lon, **extra))


def _png_header_only(width: int, height: int) -> bytes:
    """A few hundred bytes that claim width × height pixels: the classic decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.fixture
def store(tmp_path: Path) -> PhotoStore:
    return PhotoStore(tmp_path / "photos")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


# -- what we accept -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime", "ext"),
    [("JPEG", "image/jpeg", "jpg"), ("PNG", "image/png", "png"), ("WEBP", "image/webp", "webp")],
)
async def test_accepts_jpeg_png_and_webp_and_keeps_the_original_bytes(
    store: PhotoStore, fmt: str, mime: str, ext: str
) -> None:
    data = _encode(_image((64, 48)), fmt)
    photo = await store.put(data)

    digest = hashlib.sha256(data).hexdigest()
    assert photo == StoredPhoto(sha256=digest, mime=mime, width=64, height=48, size=len(data), gps=None)
    folder = store.root / digest[:2]
    assert (folder / f"{digest}.{ext}").read_bytes() == data
    assert (folder / f"{digest}.shared.jpg").exists()
    assert await store.original(digest) == data
    with Image.open(io.BytesIO(await store.shareable(digest))) as shared:
        assert (shared.format, shared.size) == ("JPEG", (64, 48))
    assert store.path_for(digest) == folder / f"{digest}.shared.jpg"


async def test_a_multi_picture_jpeg_is_a_jpeg(store: PhotoStore) -> None:
    data = _encode(_image(), "MPO", save_all=True, append_images=[_image(color=(0, 0, 255))])
    photo = await store.put(data)
    assert photo.mime == "image/jpeg"
    assert (store.root / photo.sha256[:2] / f"{photo.sha256}.jpg").read_bytes() == data


async def test_transparent_png_is_flattened_onto_white(store: PhotoStore) -> None:
    img = Image.new("RGBA", (20, 10), (0, 0, 0, 0))
    img.paste((0, 128, 0, 255), (0, 0, 10, 10))
    photo = await store.put(_encode(img, "PNG"))
    with Image.open(io.BytesIO(await store.shareable(photo.sha256))) as shared:
        assert shared.mode == "RGB"
        r, g, b = shared.getpixel((15, 5))  # type: ignore[misc]
        assert min(r, g, b) > 240
        r, g, b = shared.getpixel((3, 5))  # type: ignore[misc]
        assert g > 100 > r


async def test_sixteen_bit_greyscale_png_is_scaled_not_clipped(store: PhotoStore) -> None:
    img = Image.new("I;16", (8, 8), 30000)
    photo = await store.put(_encode(img, "PNG"))
    with Image.open(io.BytesIO(await store.shareable(photo.sha256))) as shared:
        assert 100 < shared.convert("L").getpixel((4, 4)) < 130  # type: ignore[operator]


async def test_decoding_happens_off_the_event_loop(store: PhotoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    threads: set[int] = set()
    real_open = Image.open

    def spy(*args: object, **kwargs: object) -> Image.Image:
        threads.add(threading.get_ident())
        return real_open(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Image, "open", spy)
    await store.put(_encode(_image(), "JPEG"))
    assert threads and threading.get_ident() not in threads


# -- what we refuse -----------------------------------------------------------------------------------------


async def test_a_text_file_renamed_jpg_is_not_an_image(store: PhotoStore, tmp_path: Path) -> None:
    fake = tmp_path / "hazard.jpg"
    fake.write_text("这不是照片 — just text pretending to be a photo\n" * 20, encoding="utf-8")
    with pytest.raises(PhotoRejected) as caught:
        await store.put(fake.read_bytes())
    assert caught.value.code == "not_an_image"
    assert _files(store.root) == []


async def test_a_truncated_jpeg_is_not_an_image(store: PhotoStore) -> None:
    data = _encode(Image.effect_noise((256, 256), 64).convert("RGB"), "JPEG", quality=95)
    with pytest.raises(PhotoRejected) as caught:
        await store.put(data[: len(data) // 2])
    assert caught.value.code == "not_an_image"
    assert _files(store.root) == []


async def test_an_empty_upload_is_not_an_image(store: PhotoStore) -> None:
    with pytest.raises(PhotoRejected) as caught:
        await store.put(b"")
    assert caught.value.code == "not_an_image"


@pytest.mark.parametrize(
    ("fmt", "found"),
    [("GIF", "GIF"), ("TIFF", "TIFF"), ("BMP", "BMP")],
)
async def test_real_images_of_other_types_are_unsupported(store: PhotoStore, fmt: str, found: str) -> None:
    with pytest.raises(PhotoRejected) as caught:
        await store.put(_encode(_image(), fmt))
    assert (caught.value.code, caught.value.found) == ("unsupported_type", found)


async def test_a_heic_from_an_iphone_is_unsupported(store: PhotoStore) -> None:
    heic_head = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 200
    with pytest.raises(PhotoRejected) as caught:
        await store.put(heic_head)
    assert (caught.value.code, caught.value.found) == ("unsupported_type", "HEIC")


async def test_a_30_mb_blob_is_refused_without_decoding(store: PhotoStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_decode(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded a blob that was already too big")

    monkeypatch.setattr(Image, "open", must_not_decode)
    blob = b"\xff\xd8\xff\xe0" + b"\x00" * (30 * 1024 * 1024)
    started = time.perf_counter()
    with pytest.raises(PhotoRejected) as caught:
        await store.put(blob)
    assert time.perf_counter() - started < 0.5
    assert (caught.value.code, caught.value.limit, caught.value.size) == ("too_big", 10 * 1024 * 1024, len(blob))
    assert not store.root.exists()


async def test_a_decompression_bomb_is_refused_from_its_header(store: PhotoStore) -> None:
    bomb = _png_header_only(100_000, 100_000)  # 10^10 pixels in a few hundred bytes
    assert len(bomb) < 1024
    with pytest.raises(PhotoRejected) as caught:
        await store.put(bomb)
    assert (caught.value.code, caught.value.limit) == ("too_many_pixels", 40_000_000)
    assert _files(store.root) == []


async def test_our_pixel_limit_applies_below_pillows_own(store: PhotoStore) -> None:
    with pytest.raises(PhotoRejected) as caught:
        await store.put(_png_header_only(8000, 6000))  # 48 MP: under Pillow's guard, over ours
    assert (caught.value.code, caught.value.limit, caught.value.size) == ("too_many_pixels", 40_000_000, 48_000_000)


async def test_the_limits_are_configurable(tmp_path: Path) -> None:
    small = PhotoStore(tmp_path, max_bytes=2000, max_pixels=100)
    with pytest.raises(PhotoRejected) as caught:
        await small.put(_encode(_image((20, 20)), "PNG"))
    assert (caught.value.code, caught.value.limit, caught.value.size) == ("too_many_pixels", 100, 400)
    with pytest.raises(PhotoRejected) as caught:
        await small.put(b"\x89PNG" + b"\x00" * 2000)
    assert (caught.value.code, caught.value.limit, caught.value.size) == ("too_big", 2000, 2004)


# -- storage ------------------------------------------------------------------------------------------------


async def test_the_same_bytes_twice_make_one_file_and_no_rewrite(store: PhotoStore) -> None:
    data = _jpeg_with_gps(34.26, 117.18)
    first = await store.put(data)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _files(store.root)}
    second = await store.put(data)
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in _files(store.root)}
    assert first == second
    assert len(before) == 2  # the original and its shareable copy
    assert before == after


async def test_concurrent_puts_of_the_same_photo_leave_one_pair_and_no_temp_files(store: PhotoStore) -> None:
    data = _encode(_image(), "WEBP")
    results = await asyncio.gather(*(store.put(data) for _ in range(8)))
    assert len(set(results)) == 1
    assert [p.name for p in _files(store.root)] == sorted(
        [f"{results[0].sha256}.shared.jpg", f"{results[0].sha256}.webp"]
    )


async def test_only_generated_names_ever_reach_the_disk(store: PhotoStore) -> None:
    for fmt in ("JPEG", "PNG", "WEBP"):
        await store.put(_encode(_image(color=(10, 20, 30)), fmt))
    for path in _files(store.root):
        rel = path.relative_to(store.root)
        assert len(rel.parts) == 2
        assert NAME_RE.fullmatch(rel.parts[1]), rel
        assert rel.parts[0] == rel.parts[1][:2]


@pytest.mark.parametrize(
    "bad",
    [
        "../../etc/passwd",
        "/etc/passwd",
        "",
        "a" * 63,
        "a" * 65,
        "g" * 64,
        "a" * 64 + "\n",
        "../" + "a" * 61,
        "a" * 62 + "/.",
        "ａ" * 64,  # fullwidth letters are not hex digits
    ],
)
async def test_ids_that_are_not_hashes_never_touch_the_filesystem(store: PhotoStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.path_for(bad)
    with pytest.raises(ValueError):
        await store.shareable(bad)
    with pytest.raises(ValueError):
        await store.original(bad)


async def test_an_unknown_photo_is_not_found(store: PhotoStore) -> None:
    missing = "0" * 64
    with pytest.raises(FileNotFoundError):
        await store.shareable(missing)
    with pytest.raises(FileNotFoundError):
        await store.original(missing)


# -- privacy: the shareable copy ----------------------------------------------------------------------------


async def test_the_shareable_copy_has_no_metadata_at_all(store: PhotoStore) -> None:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = _encode(
        _image((64, 48)),
        "JPEG",
        exif=_gps_exif(34.2612, 117.1834),
        comment=b"rider 13800138000",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">GPS 34.2612 117.1834</x:xmpmeta>',
        icc_profile=icc,
    )
    photo = await store.put(data)
    assert photo.gps == pytest.approx((34.2612, 117.1834), abs=1e-5)

    shared = await store.shareable(photo.sha256)
    with Image.open(io.BytesIO(shared)) as img:
        img.load()
        assert (img.format, img.size) == ("JPEG", (64, 48))
        assert not img.getexif()
        assert img.getexif().get_ifd(GPS_IFD) == {}
        for key in ("exif", "xmp", "icc_profile", "comment", "photoshop", "adobe"):
            assert key not in img.info, key
    for marker in (b"Exif\x00\x00", b"http://ns.adobe.com/xap", b"ICC_PROFILE", b"rider", b"RiderPhone", b"GPS"):
        assert marker not in shared, marker
    assert exif_gps(shared) is None
    # ...while the original, kept as evidence, still has it.
    assert exif_gps(await store.original(photo.sha256)) == pytest.approx((34.2612, 117.1834), abs=1e-5)


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
async def test_gps_in_png_and_webp_is_read_and_stripped_too(store: PhotoStore, fmt: str) -> None:
    photo = await store.put(_encode(_image(), fmt, exif=_gps_exif(-33.8688, 151.2093)))
    assert photo.gps == pytest.approx((-33.8688, 151.2093), abs=1e-5)
    assert exif_gps(await store.shareable(photo.sha256)) is None


async def test_the_shareable_copy_is_turned_upright_before_stripping(store: PhotoStore) -> None:
    # Stored landscape 40×20 with a red left half; Orientation 6 says "rotate 90° clockwise to view".
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 20, 20))
    exif = _gps_exif(31.2304, 121.4737)
    exif[ORIENTATION] = 6
    photo = await store.put(_encode(img, "JPEG", exif=exif, quality=95))

    assert (photo.width, photo.height) == (20, 40)
    with Image.open(io.BytesIO(await store.shareable(photo.sha256))) as shared:
        assert shared.size == (20, 40)
        assert ORIENTATION not in shared.getexif()  # otherwise viewers would rotate it a second time
        top = shared.getpixel((10, 5))
        bottom = shared.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 60  # type: ignore[index]  # red half is now on top
    assert bottom[2] > 200 and bottom[0] < 60  # type: ignore[index]


# -- EXIF GPS -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon"),
    [(34.2612, 117.1834), (-33.8688, 151.2093), (40.7128, -74.0060), (-22.9068, -43.1729)],
)
def test_exif_gps_honours_the_hemisphere_references(lat: float, lon: float) -> None:
    assert exif_gps(_jpeg_with_gps(lat, lon)) == pytest.approx((lat, lon), abs=1e-6)


def test_exif_gps_reads_the_rationals_a_camera_writes() -> None:
    exif = Image.Exif()
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "S", 2: (33.0, 51.0, 7.68), 3: "W", 4: (70.0, 30.0, 0.0)})
    lat, lon = exif_gps(_encode(_image(), "JPEG", exif=exif))  # type: ignore[misc]
    assert lat == pytest.approx(-(33 + 51 / 60 + 7.68 / 3600), abs=1e-7)
    assert lon == pytest.approx(-70.5, abs=1e-7)


@pytest.mark.parametrize(
    "mutate",
    [
        {1: "X"},  # unknown reference
        {3: ""},
        {2: (95.0, 0.0, 0.0)},  # latitude beyond the pole
        {4: (181.0, 0.0, 0.0)},
        {2: (30.0, 61.0, 0.0)},  # 61 minutes
        {4: (120.0, 0.0, 75.0)},  # 75 seconds
        {2: (0.0, 0.0, 0.0), 4: (0.0, 0.0, 0.0)},  # null island: no fix yet
        {9: "V"},  # receiver says the fix is void
        {18: "TOKYO"},  # a datum we cannot convert
    ],
)
def test_exif_gps_ignores_what_is_not_believable(mutate: dict[int, object]) -> None:
    exif = _gps_exif(34.26, 117.18)
    gps = exif.get_ifd(GPS_IFD)
    gps.update(mutate)
    assert exif_gps(_encode(_image(), "JPEG", exif=exif)) is None


def test_exif_gps_ignores_a_zero_denominator() -> None:
    # Pillow will not write x/0, so patch the bytes: find the latitude's first rational and zero its denominator.
    data = _jpeg_with_gps(34.0, 117.0)
    exif = _gps_exif(34.0, 117.0)
    raw = exif.tobytes()
    numerator = struct.pack(">I" if raw[:2] == b"MM" else "<I", 34)
    denominator = struct.pack(">I" if raw[:2] == b"MM" else "<I", 1)
    where = data.find(numerator + denominator)
    assert where > 0
    zeroed = data[: where + 4] + b"\x00\x00\x00\x00" + data[where + 8 :]
    assert exif_gps(zeroed) is None


def test_exif_gps_accepts_an_explicit_wgs84_datum_and_tolerates_no_gps() -> None:
    assert exif_gps(_jpeg_with_gps(34.26, 117.18, tag18="WGS-84")) == pytest.approx((34.26, 117.18), abs=1e-6)
    assert exif_gps(_encode(_image(), "JPEG")) is None
    assert exif_gps(b"definitely not an image") is None


@settings(max_examples=60, deadline=None)
@given(
    lat=st.floats(min_value=-90, max_value=90, allow_nan=False),
    lon=st.floats(min_value=-180, max_value=180, allow_nan=False),
)
def test_random_gps_round_trips_through_exif(lat: float, lon: float) -> None:
    got = exif_gps(_jpeg_with_gps(lat, lon))
    if abs(lat) < 1e-4 and abs(lon) < 1e-4:
        # (0, 0) is what phones write before they have a fix; values that round to it read as "no fix".
        assert got is None or (abs(got[0] - lat) <= 1e-5 and abs(got[1] - lon) <= 1e-5)
        return
    assert got is not None
    assert abs(got[0] - lat) <= 1e-5
    assert abs(got[1] - lon) <= 1e-5


# -- hostile bytes ------------------------------------------------------------------------------------------

_MAGIC = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"GIF89a", b"II*\x00"]
_SAMPLES = [_encode(_image((24, 16)), fmt) for fmt in ("JPEG", "PNG", "WEBP")] + [_jpeg_with_gps(34.26, 117.18)]


def _put_or_reject(store: PhotoStore, data: bytes) -> None:
    try:
        photo = asyncio.run(store.put(data))
    except PhotoRejected as rejected:
        assert rejected.code in {"too_big", "not_an_image", "unsupported_type", "too_many_pixels"}
    else:
        assert isinstance(photo, StoredPhoto)
        assert asyncio.run(store.original(photo.sha256)) == data
        assert exif_gps(asyncio.run(store.shareable(photo.sha256))) is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prefix=st.sampled_from(_MAGIC), body=st.binary(max_size=2048))
def test_random_bytes_only_ever_raise_photo_rejected(tmp_path: Path, prefix: bytes, body: bytes) -> None:
    _put_or_reject(PhotoStore(tmp_path / "fuzz"), prefix + body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sample=st.sampled_from(_SAMPLES),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=8),
    cut=st.none() | st.integers(min_value=0),
)
def test_damaged_real_images_only_ever_raise_photo_rejected(
    tmp_path: Path, sample: bytes, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(sample)
    for where, value in flips:
        data[where % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    _put_or_reject(PhotoStore(tmp_path / "fuzz"), bytes(data))
