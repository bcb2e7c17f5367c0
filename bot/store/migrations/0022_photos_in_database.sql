-- Photos in the database, for PostgreSQL: every process on every host reads a photo another one received
-- (bot/store/photos.py). Content-addressed by the SHA-256 of the original's bytes, as the files are; the split
-- stays: the shareable JPEG (metadata stripped) in one table, the original (may carry GPS) in another, written
-- after its shareable twin. SQLite keeps photos as files beside the database and leaves these tables empty.
CREATE TABLE photo_shared (
    sha256      TEXT PRIMARY KEY,
    jpeg        BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE TABLE photo_originals (
    sha256      TEXT PRIMARY KEY REFERENCES photo_shared(sha256),
    ext         TEXT NOT NULL CHECK (ext IN ('jpg', 'png', 'webp')),
    data        BLOB NOT NULL,
    created_at  TEXT NOT NULL
);
