-- Grids: street (街道/乡镇) → community (社区/村) → grid (网格), each a polygon in WGS-84 GeoJSON.
CREATE TABLE grids (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    level       TEXT NOT NULL CHECK (level IN ('street', 'community', 'grid')),
    parent_id   TEXT REFERENCES grids(id),
    city        TEXT NOT NULL DEFAULT '',
    geometry    TEXT NOT NULL,
    group_chat  TEXT NOT NULL DEFAULT '',
    updated_at  TEXT NOT NULL
);
CREATE INDEX grids_parent ON grids(parent_id);

-- Escalation targets (社区吹哨、部门报到).
CREATE TABLE departments (
    code     TEXT PRIMARY KEY,
    name_zh  TEXT NOT NULL,
    name_en  TEXT NOT NULL
);
INSERT INTO departments (code, name_zh, name_en) VALUES
    ('zhujian', '住建', 'Housing & Construction'),
    ('chengguan', '城管', 'Urban Management'),
    ('gongan', '公安', 'Police'),
    ('wuye', '物业', 'Property Management'),
    ('xiaofang', '消防', 'Fire Service'),
    ('shizheng', '市政', 'Municipal Works');

-- Roles beyond "rider" (everyone is a rider). scope: a grid id (worker), a community or street id
-- (supervisor), a department code (department), '' (admin).
CREATE TABLE roles (
    user_id     INTEGER NOT NULL REFERENCES users(id),
    role        TEXT NOT NULL CHECK (role IN ('worker', 'supervisor', 'department', 'admin')),
    scope       TEXT NOT NULL DEFAULT '',
    granted_at  TEXT NOT NULL,
    granted_by  TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (user_id, role, scope)
);
CREATE INDEX roles_scope ON roles(role, scope);

-- One-time, expiring invite codes; only a hash is stored.
CREATE TABLE invites (
    code_hash   TEXT PRIMARY KEY,
    role        TEXT NOT NULL,
    scope       TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    used_by     INTEGER REFERENCES users(id),
    used_at     TEXT
);

-- Failed /join attempts, for rate-limiting guesses.
CREATE TABLE join_attempts (
    user_id  INTEGER NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX join_attempts_user ON join_attempts(user_id, at);
