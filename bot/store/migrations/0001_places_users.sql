-- Places are stored in WGS-84 whatever system the source used; src_crs keeps the provenance.
CREATE TABLE places (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL,
    city          TEXT NOT NULL DEFAULT '',
    district      TEXT NOT NULL DEFAULT '',
    address       TEXT NOT NULL DEFAULT '',
    lat           REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon           REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
    src_crs       TEXT NOT NULL DEFAULT 'wgs84',
    hours         TEXT NOT NULL DEFAULT '',
    amenities     TEXT NOT NULL DEFAULT '',
    phone         TEXT NOT NULL DEFAULT '',
    rider_policy  TEXT NOT NULL DEFAULT '',
    route_map     TEXT NOT NULL DEFAULT '',
    aliases       TEXT NOT NULL DEFAULT '',
    approximate   INTEGER NOT NULL DEFAULT 1,
    notes         TEXT NOT NULL DEFAULT '',
    updated_at    TEXT NOT NULL
);
CREATE INDEX places_kind ON places(kind);

-- One row per person per channel (telegram, wechat, ...): the core never sees a chat library's user object.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    channel       TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    display_name  TEXT NOT NULL DEFAULT '',
    lang          TEXT NOT NULL DEFAULT 'zh-CN',
    last_lat      REAL,
    last_lon      REAL,
    last_loc_at   TEXT,
    created_at    TEXT NOT NULL,
    UNIQUE (channel, external_id)
);
