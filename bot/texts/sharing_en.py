"""State every process shares: photos in `db copy` (English)."""

TEXTS = {
    "db.copy_photos": "  photos: {n} ({size} MB), original and shareable copy checked one by one ({source} → {target})",
    "db.copy_photos_mismatch": "The photos do not match after the copy: {reason}\nDo not trust the target; find the"
    " cause and copy again with --force.",
    "db.photos_in_database": "the database",
}
