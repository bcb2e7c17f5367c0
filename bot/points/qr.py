"""A redemption code as a QR image: what the keeper scans (or reads the six digits under it)."""

from __future__ import annotations

import io

import qrcode
from PIL import Image, ImageDraw


def qr_png(code: str) -> bytes:
    """A PNG of the code's QR with the digits printed below, so a keeper without a scanner can still read it."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(code)
    qr.make(fit=True)
    matrix = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    width, height = matrix.size
    canvas = Image.new("RGB", (width, height + 60), "white")
    canvas.paste(matrix, (0, 0))
    draw = ImageDraw.Draw(canvas)
    text = " ".join(code)
    box = draw.textbbox((0, 0), text, font_size=40)
    draw.text(((width - (box[2] - box[0])) // 2, height), text, fill="black", font_size=40)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG")
    return buffer.getvalue()
