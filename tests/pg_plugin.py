"""pytest side of tests/pgcluster.py: with RIDER_TEST_BACKEND=postgresql, one cluster for the session and the
databases of each test dropped when it ends."""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import pgcluster

_cluster: pgcluster.Cluster | None = None
HERE = Path(__file__).resolve().parent


def _run_async(factory: Callable[[], Any]) -> None:
    """asyncio.run in a thread of its own: safe whatever loop the caller is inside of."""
    errors: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(factory())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(timeout=120)
    if errors:
        raise errors[0]


def pytest_configure(config: pytest.Config) -> None:
    global _cluster
    config.addinivalue_line("markers", "sqlite_only(reason): tests SQLite itself (its file, PRAGMAs); not run on PG")
    if pgcluster.backend() != "postgresql" or os.environ.get(pgcluster.ENV_URL):
        return
    _cluster = pgcluster.Cluster().start()
    url = _cluster.server_url
    pgcluster.wait_ready(url)
    _run_async(lambda: pgcluster.make_template(url))
    os.environ[pgcluster.ENV_URL] = url
    # CLI and bot subprocesses map their SQLite paths the same way (tests/pgsite/sitecustomize.py).
    paths = [str(HERE / "pgsite"), str(HERE.parent), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    pgcluster.install(url)


def pytest_unconfigure(config: pytest.Config) -> None:
    global _cluster
    if _cluster is not None:
        _cluster.stop()
        _cluster = None
        os.environ.pop(pgcluster.ENV_URL, None)


def pytest_report_header(config: pytest.Config) -> str:
    if _cluster is not None:
        return f"database backend: PostgreSQL 15 (throw-away cluster on 127.0.0.1:{_cluster.port})"
    return "database backend: SQLite"


# Modules that never open a database: the PostgreSQL pass leaves them out (they ran in the SQLite pass).
NO_DATABASE = frozenset(
    {
        "test_complexity",
        "test_coords",
        "test_hours",
        "test_index",
        "test_ops_deploy",
        "test_photos",
        "test_questions_defs",
        "test_standin",
        "test_structure",
    }
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _cluster is None:
        return
    kept = [item for item in items if item.path.stem not in NO_DATABASE]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[item for item in items if item not in kept])
        items[:] = kept
    for item in items:
        marker = item.get_closest_marker("sqlite_only")
        if marker is not None:
            reason = marker.args[0] if marker.args else "tests SQLite itself"
            item.add_marker(pytest.mark.skip(reason=f"SQLite only: {reason}"))


@pytest.fixture(autouse=True)
def _drop_pg_databases() -> Iterator[None]:
    yield
    if _cluster is not None:
        url = _cluster.server_url
        _run_async(lambda: pgcluster.drop_test_databases(url))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A PostgreSQL server for the tests that need one in either pass (db copy, the backend's own tests)."""
    if _cluster is not None:
        yield _cluster.server_url
        return
    cluster = pgcluster.Cluster().start()
    try:
        pgcluster.wait_ready(cluster.server_url)
        _run_async(lambda: pgcluster.make_template(cluster.server_url))
        yield cluster.server_url
    finally:
        cluster.stop()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own, dropped afterwards."""
    name = f"{pgcluster.PREFIX}own_{uuid.uuid4().hex[:12]}"
    _run_async(lambda: pgcluster.create_database(pg_server, name))
    yield f"{pg_server}/{name}"
    _run_async(lambda: pgcluster.drop_database(pg_server, name))
