-- Invite codes, second version (issue 11): 80-bit codes stored as HMAC-SHA256 under a server secret that is not in
-- the database (bot/people/secret.py), and a global budget of wrong guesses.
--
-- Outstanding codes of the old kind (40 bits, plain SHA-256) cannot be carried over: their hashes cannot be
-- re-keyed without the codes, and a copy of the database may already have given them away. They expire: their
-- expiry becomes their creation time (an 8-character code is refused as not valid; admins make new ones). Used
-- codes stay, as history.
UPDATE invites SET expires_at = created_at WHERE used_by IS NULL AND expires_at > created_at;

-- guessed = 1: a well-formed code that matched nothing (it counts against everyone's budget); 0: a typo of
-- another length (it counts only against the user's own allowance).
ALTER TABLE join_attempts ADD COLUMN guessed INTEGER NOT NULL DEFAULT 1;
CREATE INDEX join_attempts_at ON join_attempts(at);
