-- Station keepers (驿站管理员) and the live word on a place.

-- The roles table gains 'keeper' (scope: a place id). SQLite cannot change a CHECK, so the table is rebuilt.
CREATE TABLE roles_new (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'department', 'admin', 'keeper')),
    scope       TEXT NOT NULL DEFAULT '',
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, scope)
);
INSERT INTO roles_new (user_id, role, scope, granted_at, granted_by)
    SELECT user_id, role, scope, granted_at, granted_by FROM roles;
DROP TABLE roles;
ALTER TABLE roles_new RENAME TO roles;
CREATE INDEX roles_scope ON roles(role, scope);

-- What a keeper (or an admin) said about a place from the chat: today's status, the entrance photo, when it
-- was last updated and confirmed, and whether riders dispute it (待核实). Hours, amenities and phone are
-- changed in `places` itself.
CREATE TABLE place_live (
    place_id      TEXT PRIMARY KEY REFERENCES places(id),
    status        TEXT NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'closed', 'full', 'no_power', 'no_water')),
    note          TEXT NOT NULL DEFAULT '',
    until         TEXT,
    photo         TEXT NOT NULL DEFAULT '',
    updated_at    TEXT,
    updated_by    INTEGER REFERENCES users(id),
    confirmed_at  TEXT,
    confirmed_by  TEXT NOT NULL DEFAULT '',
    disputed_at   TEXT
);

-- Every change a keeper or admin makes to a place, old and new value.
CREATE TABLE place_audit (
    id        INTEGER PRIMARY KEY,
    place_id  TEXT NOT NULL,
    actor_id  INTEGER REFERENCES users(id),
    field     TEXT NOT NULL,
    old       TEXT NOT NULL DEFAULT '',
    new       TEXT NOT NULL DEFAULT '',
    at        TEXT NOT NULL
);
CREATE INDEX place_audit_place ON place_audit(place_id, at);
