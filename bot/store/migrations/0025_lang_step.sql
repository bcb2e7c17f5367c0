-- The update that last switched a user's language (its channel and number): /lang toggles, and the same update
-- handled again (re-run after its process was killed between saving and answering) must not toggle it back.
ALTER TABLE users ADD COLUMN lang_step TEXT;
