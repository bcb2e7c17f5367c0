"""The two PostgreSQL functions behind bot/store/chatlocks.py, created with the backend's other functions at every
open (under the migration lock).

Each is one round trip for two steps that must see each other's effect: "lock the chat, then read its unfinished
updates" and "let go of the chat, then look whether any is unfinished". In one plain statement the read would use
the snapshot taken before the lock was got or released, and could see an update as unfinished that its previous
holder finished just before letting go (and run it twice), or miss one recorded while the lock was held (and
leave it to the sweep). A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement inside it.
"""

CHAT_LOCK_FUNCTIONS = (
    """CREATE OR REPLACE FUNCTION rider_chat_lock(lock_key bigint, in_channel text, in_chat text, most integer)
RETURNS TABLE (locked boolean, u_key text, u_seq bigint, u_payload text, u_boot text, u_tries bigint)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF NOT pg_try_advisory_lock(lock_key) THEN
        locked := false;
        RETURN NEXT;
        RETURN;
    END IF;
    RETURN QUERY SELECT true, i.key::text, i.seq::bigint, i.payload::text, i.boot::text, i.tries::bigint
        FROM inbound_seen i WHERE i.channel = in_channel AND i.chat = in_chat AND i.done = 0
        ORDER BY i.seq LIMIT most;
    IF NOT FOUND THEN
        locked := true;
        RETURN NEXT;
    END IF;
END $$""",
    """CREATE OR REPLACE FUNCTION rider_chat_unlock(lock_key bigint, in_channel text, in_chat text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_unlock(lock_key);
    RETURN EXISTS (SELECT 1 FROM inbound_seen i WHERE i.channel = in_channel AND i.chat = in_chat AND i.done = 0);
END $$""",
)
