"""Memory is bounded by how many photos are decoded at once, not by how big riders' photos are.

Ten riders send the same legal 7300 × 5460 PNG (under the 10 MB and 40-megapixel limits; ~120 MB once decoded) at
the same moment. The bot runs in a child process (tests/photobot.py) so its peak resident memory is its own;
the peak must stay within 400 MB of what it used before. Before the fix every decode, EXIF transpose, RGB convert
and JPEG encode ran at full size in up to min(32, cpus + 4) threads at once (six such photos took 1.8 GB).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image

from bot.texts import t
from tests.chat import ChatUser

REPO = Path(__file__).resolve().parent.parent
CEILING_KB = 400 * 1024


def test_ten_huge_photos_at_once_stay_under_the_memory_ceiling(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.photobot", str(tmp_path), "10"],
        cwd=REPO, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    grown = result["peak_kb"] - result["before_kb"]
    print({"png_bytes": result["png_bytes"], "before_mb": result["before_kb"] // 1024, "grown_mb": grown // 1024})
    assert all("已收到第 1 张照片" in answer for answer in result["answers"]), result["answers"]
    assert grown < CEILING_KB, f"peak memory grew by {grown // 1024} MB for 10 photos (ceiling 400 MB)"


async def test_a_picture_too_big_to_decode_gets_a_polite_answer(rider: ChatUser) -> None:
    # 6200 × 5500 with transparency: 34 megapixels (under the 40-megapixel limit) but 136 MB once decoded, over
    # the 128 MB a photo may take: refused before it is decoded, in the rider's language.
    image = Image.new("RGBA", (6200, 5500), (10, 200, 30, 128))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    image.close()
    [answer] = await rider.send(document=(buffer.getvalue(), "big.png", "image/png"))
    assert answer["text"] == t("zh-CN", "photo.too_many_pixels")
