"""A free TCP port on 127.0.0.1, for everything the tests start that listens (bots' doors, nginx, PostgreSQL) and
for an address where nothing listens (connection refused). One definition for every test module and the
benchmarks that run the test cluster.
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port the kernel just handed out and nobody holds now. Between this call and the listener's bind another
    process could take it; the kernel hands ports out in turn, so on 127.0.0.1 that does not happen in practice."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
