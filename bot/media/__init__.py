"""Media riders send us (随手拍 hazard photos), kept apart from the chat channels that deliver them."""

from bot.media.photos import PhotoRejected, PhotoStore, StoredPhoto, exif_gps

__all__ = ["PhotoRejected", "PhotoStore", "StoredPhoto", "exif_gps"]
