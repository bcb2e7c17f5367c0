"""Photos travel with `rider-bot db copy`: from one photo store to another (files ↔ database), each checked.

A SQLite city keeps its photos as files beside the database; on PostgreSQL they are rows every process reads. So
moving a city copies the files into the tables (and back the other way), one photo at a time — a city's photos
can be gigabytes, never all in memory — storing both forms as they are (nothing decoded or re-encoded: the
shareable copy stays the same JPEG), then reads each back from the target: the original must hash to its id and
the shareable copy must equal the source's byte for byte.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from bot.media.photos import PhotoStore


class PhotoCopyMismatch(Exception):
    """A photo read back from the target differs from the source."""


@dataclass(frozen=True)
class PhotoCopy:
    photos: int
    bytes: int


async def copy_photos(
    source: PhotoStore, target: PhotoStore, progress: Callable[[int], None] | None = None
) -> PhotoCopy:
    count = size = 0
    for digest in await source.digests():
        ext, original = await source.original_with_ext(digest)
        shared = await source.shareable(digest)
        await target.put_verbatim(digest, ext, original, shared)
        back_ext, back = await target.original_with_ext(digest)
        back_digest = await asyncio.to_thread(lambda data=back: hashlib.sha256(data).hexdigest())
        if back_ext != ext or back_digest != digest or await target.shareable(digest) != shared:
            raise PhotoCopyMismatch(f"photo {digest}")
        count += 1
        size += len(original) + len(shared)
        if progress is not None:
            progress(count)
    return PhotoCopy(count, size)
