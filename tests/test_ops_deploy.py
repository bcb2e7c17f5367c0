"""deploy/: the Grafana dashboard and the alert rules name only metrics the bot exports, and the dashboard shows
every one of them — a renamed metric must not leave an alert silently watching nothing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from bot import config, metrics
from tests.ports import free_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
NAME = re.compile(r"\brider_[a-z0-9_]+")
SUFFIXES = ("_total", "_bucket", "_count", "_sum", "_created")


def exported() -> set[str]:
    names = set()
    for family in metrics.REGISTRY.collect():
        if family.name.startswith("rider_"):
            names.add(family.name)
            names.update(sample.name for sample in family.samples)
            names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def families() -> set[str]:
    return {f.name for f in metrics.REGISTRY.collect() if f.name.startswith("rider_")}


def test_alert_rules_watch_real_metrics() -> None:
    text = (DEPLOY / "rider-bot-alerts.yml").read_text("utf-8")
    used = set(NAME.findall(text))
    assert used and used <= exported(), used - exported()
    alerts = re.findall(r"^\s+- alert: (\w+)$", text, re.M)
    for needed in ("RiderBotOutboxLag", "RiderBotDeadLetters", "RiderBotDeadlineBreaches"):
        assert needed in alerts
    assert "rider-bot-alerts.yml" in (DEPLOY / "prometheus.yml").read_text("utf-8")


def test_the_dashboard_shows_every_metric_and_nothing_else() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text("utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert exprs and all(e.count("(") == e.count(")") for e in exprs)
    used = {name for e in exprs for name in NAME.findall(e)}
    assert used <= exported(), used - exported()
    shown = {name.removesuffix(s) for name in used for s in (*SUFFIXES, "") if name.endswith(s)}
    assert families() <= shown, families() - shown
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))


# ---------------------------------------------------------------- scale-out: nginx in front, systemd instances

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
needs_nginx = pytest.mark.skipif(not Path(NGINX).exists(), reason="nginx is not installed (scripts/test installs it)")
SITE = DEPLOY / "nginx" / "rider-bot.conf"
UNIT = DEPLOY / "systemd" / "rider-bot@.service"
ENV_EXAMPLE = DEPLOY / "systemd" / "rider-bot.env.example"


def site_for_test(tmp: Path, https: int, http: int, webhook: list[int], doors: list[int]) -> Path:
    """The shipped site file with only its placeholders filled in: a throw-away certificate, local ports, and
    this test's workers as the upstream servers. Everything else (paths, caps, retries) is the shipped text."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bot.example.org",
         "-keyout", str(tmp / "privkey.pem"), "-out", str(tmp / "fullchain.pem")],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    text = SITE.read_text("utf-8")
    text = text.replace("/etc/ssl/rider-bot/", f"{tmp}/")
    text = re.sub(r"^\s*listen \[::\]:\d+.*\n", "", text, flags=re.M)  # IPv6 may be off in a container
    text = text.replace("listen 443 ssl;", f"listen 127.0.0.1:{https} ssl;").replace(
        "listen 80;", f"listen 127.0.0.1:{http};"
    )
    for shipped, ports in (("84", webhook), ("85", doors)):
        lines = re.findall(rf"^\s*server 127\.0\.0\.1:{shipped}\d\d .*$", text, re.M)
        assert len(lines) == 3, "the shipped upstreams list three workers"
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in ports)
        text = text.replace("\n".join(lines), servers)
    site = tmp / "rider-bot.conf"
    site.write_text(text, "utf-8")
    temp = " ".join(f"{k}_temp_path {tmp}/{k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = tmp / "nginx.conf"
    user = "user root;" if os.geteuid() == 0 else ""
    main.write_text(
        f"{user} daemon off; pid {tmp}/nginx.pid; error_log {tmp}/error.log;\n"
        f"events {{ worker_connections 64; }}\nhttp {{ access_log off; {temp} include {site}; }}\n",
        "utf-8",
    )
    return main


@needs_nginx
def test_the_shipped_nginx_config_passes_nginx_t(tmp_path: Path) -> None:
    main = site_for_test(tmp_path, free_port(), free_port(), [8441, 8442, 8443], [8541, 8542, 8543])
    done = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
    text = SITE.read_text("utf-8")
    assert "client_max_body_size 1m;" in text
    webhook = text.split("location = /telegram {", 1)[1].split("\n    }\n", 1)[0]
    assert "proxy_pass http://rider_bot_webhook;" in webhook
    assert "proxy_next_upstream error timeout http_502;" in webhook


@needs_nginx
async def test_the_shipped_nginx_config_passes_webhooks_to_a_live_worker(tmp_path: Path) -> None:
    """Through the shipped file, over TLS: a webhook POST reaches a worker even when the first one in the list is
    dead (next upstream); a body over 1 MB, a GET and the private /metrics never reach a worker."""
    received: list[tuple[str, bytes, str | None]] = []

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        received.append((head[0], body, headers.get("x-telegram-bot-api-secret-token")))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    live = await asyncio.start_server(worker, "127.0.0.1", 0)
    live_port = live.sockets[0].getsockname()[1]
    https, http = free_port(), free_port()
    dead = free_port()  # nothing listens: connection refused, as for a worker killed a moment ago
    main = site_for_test(tmp_path, https, http, [dead, live_port, live_port], [dead, live_port, live_port])
    nginx = await asyncio.create_subprocess_exec(
        NGINX, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(main),
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(verify=False, trust_env=False, timeout=10) as client:
            for _ in range(100):  # bounded: nginx starts within a few seconds
                with contextlib.suppress(httpx.ConnectError):
                    await client.get(f"https://127.0.0.1:{https}/")
                    break
                await asyncio.sleep(0.1)
            url = f"https://127.0.0.1:{https}/telegram"
            secret = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
            for n in range(4):  # round robin starts at the dead one at least once
                answer = await client.post(url, content=b'{"update_id": %d}' % n, headers=secret)
                assert answer.status_code == 200, answer.text
            assert [body for _, body, _ in received] == [b'{"update_id": %d}' % n for n in range(4)]
            assert {s for _, _, s in received} == {"s3cret"}, "the secret header reaches the worker"
            assert (await client.post(url, content=b"x" * (1024 * 1024 + 1))).status_code == 413
            assert (await client.get(url)).status_code == 403
            assert (await client.get(f"https://127.0.0.1:{https}/metrics")).status_code == 404
            redirect = await client.get(f"http://127.0.0.1:{http}/telegram")
            assert redirect.status_code == 301 and redirect.headers["location"].startswith("https://")
            assert len(received) == 4, "refused requests never reached a worker"
    finally:
        nginx.send_signal(signal.SIGQUIT)
        try:
            await asyncio.wait_for(nginx.wait(), 10)
        except TimeoutError:
            nginx.kill()
            await nginx.wait()
        live.close()
        await live.wait_closed()


def test_the_unit_template_gives_each_instance_its_two_ports() -> None:
    """Run the unit's ExecStart the way systemd would for rider-bot@8441 (%i → 8441, $$ → $), with `env` in
    place of the bot: the webhook port is the instance, the HTTP doors' port 100 above it."""
    unit = UNIT.read_text("utf-8")
    [exec_start] = re.findall(r"^ExecStart=(.+)$", unit, re.M)
    assert exec_start.startswith("/bin/sh -c '") and exec_start.endswith(" run'")
    assert re.search(r"^Restart=always$", unit, re.M) and re.search(r"^EnvironmentFile=/etc/rider-bot/", unit, re.M)
    script = exec_start.removeprefix("/bin/sh -c '").removesuffix("'")
    script = script.replace("%i", "8441").replace("$$", "$").replace("/opt/rider-bot/.venv/bin/rider-bot run", "env")
    out = subprocess.run(["/bin/sh", "-c", script], capture_output=True, text=True, check=True, timeout=10).stdout
    assert "RIDER_WEBHOOK_PORT=8441" in out.splitlines() and "RIDER_HTTP_PORT=8541" in out.splitlines()
    site = SITE.read_text("utf-8")
    assert "127.0.0.1:8441" in site and "127.0.0.1:8541" in site, "nginx's upstreams follow the same convention"


def test_the_environment_example_is_a_valid_webhook_configuration() -> None:
    values = {}
    for line in ENV_EXAMPLE.read_text("utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    unknown = [n for n in values if n not in config._ENV]
    assert not unknown, f"settings the bot does not read: {unknown}"
    settings = config.load_settings(env={**values, "RIDER_WEBHOOK_PORT": "8441", "RIDER_HTTP_PORT": "8541"})
    assert settings.mode == "webhook" and settings.database_url and settings.webhook_secret
    assert settings.webhook_url and settings.webhook_url.endswith("/telegram"), "the path nginx forwards"
    assert settings.invite_secret, "every process (on every host) must sign invite codes with the same key"
