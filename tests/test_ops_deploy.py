"""deploy/: the Grafana dashboard and the alert rules name only metrics the bot exports, and the dashboard shows
every one of them — a renamed metric must not leave an alert silently watching nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

from bot import metrics

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
