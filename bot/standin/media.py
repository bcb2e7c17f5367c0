"""Image header sniffing for PhotoSize width/height (PNG, JPEG, GIF, WebP), no imaging library needed."""

from __future__ import annotations

import struct

__all__ = ["image_size", "photo_sizes"]


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) read from the header of a PNG, JPEG, GIF or WebP image, else None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            b = data[21:25]
            width = 1 + (((b[1] & 0x3F) << 8) | b[0])
            height = 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
            return width, height
        if chunk == b"VP8X":
            width = 1 + int.from_bytes(data[24:27], "little")
            height = 1 + int.from_bytes(data[27:30], "little")
            return width, height
        return None
    if data[:2] == b"\xff\xd8":
        i = 2
        n = len(data)
        while i + 4 <= n:
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker == 0xFF:
                i += 1
                continue
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            if i + 4 > n:
                break
            (seg_len,) = struct.unpack(">H", data[i + 2 : i + 4])
            if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
                if i + 9 <= n:
                    height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                    return width, height
                break
            i += 2 + seg_len
    return None


def photo_sizes(width: int, height: int) -> list[tuple[int, int]]:
    """The (width, height) ladder Telegram produces: thumbnails of 90 and 320 px on the long side, then the
    original capped at 1280 (2560 for big images). Always 2-3 entries, smallest first."""
    long_side = max(width, height, 1)

    def scaled(target: int) -> tuple[int, int]:
        factor = min(1.0, target / long_side)
        return max(1, round(width * factor)), max(1, round(height * factor))

    top = scaled(2560 if long_side > 1280 else 1280)
    ladder = [scaled(90)]
    if long_side > 320:
        ladder.append(scaled(320))
    ladder.append(top)
    out: list[tuple[int, int]] = []
    for size in ladder:
        if not out or out[-1] != size:
            out.append(size)
    if len(out) == 1:
        out.insert(0, out[0])
    return out
