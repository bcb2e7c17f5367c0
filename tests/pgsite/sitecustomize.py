"""On PYTHONPATH only in the PostgreSQL test pass: CLI and bot subprocesses open the same stand-in databases
for their SQLite paths as the test process does (see tests/pgcluster.py)."""

import os

if os.environ.get("PGTEST_SERVER_URL"):
    from tests.pgcluster import install

    install(os.environ["PGTEST_SERVER_URL"])
