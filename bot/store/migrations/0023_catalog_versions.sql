-- Which version of the place catalogue and of the grids the database holds: bumped in the same transaction as
-- every change to them (bot/store/catalog.py), so each process — the bot's workers, with the CLI importing beside
-- them — sees that its in-memory index is out of date and reloads it (on PostgreSQL a NOTIFY at commit says so
-- at once; the version is the fallback that cannot be missed).
CREATE TABLE catalog_versions (
    name     TEXT PRIMARY KEY CHECK (name IN ('places', 'grids')),
    version  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO catalog_versions (name, version) VALUES ('places', 0);
INSERT INTO catalog_versions (name, version) VALUES ('grids', 0);
