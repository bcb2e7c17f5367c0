"""On PYTHONPATH only in the PostgreSQL test pass: CLI and bot subprocesses open the same stand-in databases
for their SQLite paths as the test process does (see tests/pgcluster.py)."""

import os

if os.environ.get("RIDER_TEST_PG_SERVER"):
    from tests.pgcluster import install

    install(os.environ["RIDER_TEST_PG_SERVER"])
