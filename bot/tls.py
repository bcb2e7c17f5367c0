"""One TLS client context per process, shared by every HTTP client the bot makes.

httpx builds a fresh `ssl.SSLContext` for each client it creates, and loading the CA bundle into it costs about
0.1–0.5 s of CPU. A running bot makes several clients (PTB's two, the WeChat API's, the doctor's probes) and the
tests start hundreds of bots; the context is immutable once made, so all of them can verify with the same one.
"""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def client_context() -> ssl.SSLContext:
    """httpx's own default (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR when set), made once."""
    return httpx.create_ssl_context()
