"""The SQLite → PostgreSQL translation, kept in one place and small on purpose.

Every statement in the code base is written once, in the SQLite dialect the project started with. The PostgreSQL
backend runs it through `query()` (and migrations through `ddl()`), which rewrites exactly these constructs:

- placeholders `?` → `$1, $2, …` (not inside quotes or comments);
- `rowid` (only used as an insertion-order tie-breaker) → `ctid`;
- the JSON aggregates `json_group_object` / `json_group_array` → `json_object_agg` / `json_agg` (JSON text either
  way; over no rows PostgreSQL gives NULL where SQLite gives '{}' / '[]');
- the two-argument scalar `MAX(a, b)` / `MIN(a, b)` → `GREATEST` / `LEAST` (one-argument aggregates stay);
- DML gets a `RETURNING` clause so the row count and the new row's id come back in the same round trip;
- in DDL: `INTEGER PRIMARY KEY` → an identity column, `INTEGER` → `BIGINT`, `REAL` → `DOUBLE PRECISION`, `BLOB`
  → `BYTEA`, `TEXT` → `TEXT COLLATE "C"` (byte order, as SQLite compares; ISO timestamps are compared as text),
  and the append-only trigger `BEFORE UPDATE|DELETE ON t BEGIN SELECT RAISE(ABORT, 'msg'); END` → a PL/pgSQL
  function and trigger.

SQLite's `julianday(text)` is not translated: `COMPAT_FUNCTIONS` defines it in PostgreSQL with the same meaning
(a stamp without an offset is UTC; the session time zone is UTC). Anything else SQLite-only fails loudly in the
PostgreSQL test pass, which runs the whole suite — the place to add a rule here, not a second copy of a query.
"""

from __future__ import annotations

import functools
import re

from .chatlocks_sql import CHAT_LOCK_FUNCTIONS

COMPAT_FUNCTIONS = (
    # Days since noon in Greenwich on November 24, 4714 B.C., as SQLite's julianday(); NULL stays NULL.
    "CREATE OR REPLACE FUNCTION julianday(value text) RETURNS double precision LANGUAGE sql STABLE"
    " AS $$ SELECT extract(epoch FROM value::timestamptz)::double precision / 86400.0 + 2440587.5 $$",
    *CHAT_LOCK_FUNCTIONS,
)

_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def _scan(sql: str) -> list[tuple[str, str]]:
    """Split into ('code' | 'quoted', text) pieces: rewrites apply to code only, never to literals."""
    pieces: list[tuple[str, str]] = []
    i, start, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in "'\"":
            if i > start:
                pieces.append(("code", sql[start:i]))
            j = i + 1
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:  # '' or "" escape
                        j += 2
                        continue
                    break
                j += 1
            pieces.append(("quoted", sql[i : j + 1]))
            i = start = j + 1
            continue
        if sql.startswith("--", i):
            if i > start:
                pieces.append(("code", sql[start:i]))
            j = sql.find("\n", i)
            j = n if j < 0 else j
            pieces.append(("quoted", sql[i:j]))
            i = start = j
            continue
        i += 1
    if start < n:
        pieces.append(("code", sql[start:]))
    return pieces


def _code_only(sql: str) -> str:
    """The statement with literals blanked to the same length (for searching without false hits)."""
    return "".join(text if kind == "code" else " " * len(text) for kind, text in _scan(sql))


def _scalar_minmax(sql: str) -> str:
    """`MAX(a, b)` with two or more arguments is SQLite's scalar max: PostgreSQL calls it GREATEST."""
    code = _code_only(sql)
    out, last = [], 0
    for match in re.finditer(r"\b(MAX|MIN)\s*\(", code, re.IGNORECASE):
        depth, commas, j = 0, 0, match.end() - 1
        while j < len(code):
            if code[j] == "(":
                depth += 1
            elif code[j] == ")":
                depth -= 1
                if depth == 0:
                    break
            elif code[j] == "," and depth == 1:
                commas += 1
            j += 1
        if commas:
            out.append(sql[last : match.start()])
            out.append("GREATEST(" if match.group(1).upper() == "MAX" else "LEAST(")
            last = match.end()
    out.append(sql[last:])
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def query(sql: str, returning: str | None = None) -> str:
    """One statement, SQLite dialect → PostgreSQL. `returning`: the RETURNING clause to add to an INSERT,
    UPDATE or DELETE that has none (the backend asks for `id` on tables with one, else `1`)."""
    sql = _scalar_minmax(sql)
    out, n = [], 0
    for kind, text in _scan(sql):
        if kind == "quoted":
            out.append(text)
            continue

        def number(_: re.Match[str]) -> str:
            nonlocal n
            n += 1
            return f"${n}"

        text = re.sub(r"\?", number, text)
        text = re.sub(r"\browid\b", "ctid", text, flags=re.IGNORECASE)
        text = re.sub(r"\bjson_group_object\s*\(", "json_object_agg(", text, flags=re.IGNORECASE)
        text = re.sub(r"\bjson_group_array\s*\(", "json_agg(", text, flags=re.IGNORECASE)
        out.append(text)
    translated = "".join(out).strip().rstrip(";")
    if returning and dml_kind(translated) and not has_returning(translated):
        translated += f" RETURNING {returning}"
    return translated


@functools.lru_cache(maxsize=4096)
def dml_kind(sql: str) -> str | None:
    """'insert' / 'update' / 'delete' for a data-changing statement, else None."""
    match = re.match(r"\s*(INSERT|UPDATE|DELETE)\b", sql, re.IGNORECASE)
    return match.group(1).lower() if match else None


@functools.lru_cache(maxsize=4096)
def insert_table(sql: str) -> str | None:
    match = re.match(r"\s*INSERT\s+INTO\s+([A-Za-z_][A-Za-z_0-9]*)", sql, re.IGNORECASE)
    return match.group(1).lower() if match else None


_TRIGGER = re.compile(
    r"CREATE\s+TRIGGER\s+(\w+)\s+BEFORE\s+(UPDATE|DELETE)\s+ON\s+(\w+)\s+BEGIN\s+SELECT\s+RAISE\s*\(\s*ABORT\s*,"
    r"\s*'((?:[^']|'')*)'\s*\)\s*;\s*END\s*;?\s*$",
    re.IGNORECASE | re.DOTALL,
)
_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": 'TEXT COLLATE "C"', "BLOB": "BYTEA"}


def ddl(statement: str) -> list[str]:
    """One migration statement, SQLite → PostgreSQL (a trigger becomes two statements)."""
    trigger = _TRIGGER.match(statement.strip())
    if trigger:
        name, event, table, message = trigger.groups()
        return [
            f"CREATE OR REPLACE FUNCTION {name}_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" RAISE EXCEPTION '{message}' USING ERRCODE = 'integrity_constraint_violation'; END $$",
            f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}_fn()",
        ]
    if re.match(r"\s*CREATE\s+TRIGGER\b", statement, re.IGNORECASE):
        raise ValueError(f"no PostgreSQL translation for this trigger: {statement.strip()[:80]}")
    is_table = re.match(r"\s*(CREATE\s+TABLE|ALTER\s+TABLE\s+\w+\s+ADD\s+COLUMN)\b", statement, re.IGNORECASE)
    out = []
    for kind, text in _scan(statement):
        if kind == "quoted" or not is_table:
            out.append(text)
            continue
        text = re.sub(
            r"\bINTEGER\s+PRIMARY\s+KEY\b",
            "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
            text,
            flags=re.IGNORECASE,
        )
        text = re.sub(r"\b(INTEGER|REAL|TEXT|BLOB)\b", lambda m: _TYPES[m.group(1).upper()], text, flags=re.IGNORECASE)
        out.append(text)
    return [query("".join(out))]


@functools.lru_cache(maxsize=4096)
def has_returning(sql: str) -> bool:
    return re.search(r"\bRETURNING\b", _code_only(sql), re.IGNORECASE) is not None
