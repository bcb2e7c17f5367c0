"""Settings from an optional TOML file, overridden by environment variables.

Environment wins over the file so that one file can be shared by several deployments (or committed as an
example) while secrets such as the token stay in the environment. Every setting has a default that works
offline: with no token the bot runs against the bundled Bot API stand-in.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.store.url import check_url, redact

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATIONS_CSV = PROJECT_ROOT / "data" / "stations.csv"
DEFAULT_CATEGORIES_TOML = PROJECT_ROOT / "data" / "categories.toml"


class ConfigError(ValueError):
    """A setting has a value we cannot use; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    telegram_token: str | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str | None = None
    db_path: Path = Path("var/rider-bot.sqlite3")
    database_url: str | None = None  # postgresql://user:password@host:port/db — PostgreSQL instead of db_path
    admins: tuple[int, ...] = ()
    timezone: str = "Asia/Shanghai"
    mode: str = "polling"  # polling | webhook
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = None
    demo_host: str = "127.0.0.1"
    demo_port: int = 8080
    http_host: str = "127.0.0.1"  # the HTTP doors (WeChat callback, Open311); behind a reverse proxy
    http_port: int | None = 8090  # None: no HTTP doors
    demo_people: bool = True  # offline demo: the page's 网格员老李 / 社区书记 get roles on every grid
    stations_csv: Path = DEFAULT_STATIONS_CSV
    categories_toml: Path | None = DEFAULT_CATEGORIES_TOML  # category questions and rules; None: ask none
    geocoder_url: str | None = None  # a Nominatim-compatible endpoint, e.g. https://nominatim.example.org
    geocoder_user_agent: str = "rider-bot"
    results_per_page: int = 5
    search_radius_m: float = 5000.0
    coverage_km: float = 20.0  # farther than this from every place (chat) or grid (Open311): outside our coverage
    location_fresh_minutes: int = 15  # an older stored location is confirmed, not silently reused
    ebike_speed_kmh: float = 15.0
    photo_dir: Path | None = None  # default: "photos" beside the database
    reports_per_hour: int = 5
    quiet_hours: str = "22:00-07:00"  # non-urgent reminders wait until the end; "off" disables
    digest_at: time = time(8, 30)  # daily digest to supervisors, local time
    flood_burst: int = 20  # messages a user may send at once…
    flood_per_second: float = 1.0  # …and then per second; beyond that: one "slow down", then ignored
    flood_global_burst: int = 2000  # all users together: beyond this the bot sheds load instead of lagging
    flood_global_per_second: float = 200.0
    outbox_per_chat_interval: float = 1.0  # Telegram: about one message a second per chat
    wechat_token: str | None = None  # WeChat 公众号 server token: set it to open the /wechat door
    wechat_aes_key: str | None = None  # EncodingAESKey (43 characters): safe mode (encrypt_type=aes)
    wechat_appid: str | None = None
    wechat_secret: str | None = None  # AppSecret, for the access token (customer-service messages, media, menu)
    wechat_api_base: str = "https://api.weixin.qq.com"
    invite_secret: str | None = None  # HMAC key for invite codes; default: <database>.invite-secret, made once
    join_failure_budget: int = 10  # wrong invite codes from everyone within 15 min before /join pauses
    bot_username: str | None = None  # the bot's @username, for t.me/<bot>?start=CODE invite links
    wechat_require_encryption: bool = False  # safe mode only: plain POSTs (unauthenticated bodies) refused
    metrics_token: str | None = None  # GET /metrics from anywhere but 127.0.0.1 needs "Authorization: Bearer …"
    ready_bot_api_max_age: float = 300.0  # /readyz fails when no Bot API call succeeded for this long…
    ready_outbox_max_lag: float = 300.0  # …or the oldest due outbox message has waited longer than this
    log_format: str = "text"  # text | json (one JSON object a line, docs/OPERATIONS.md)
    # The web console (docs/CONSOLE.md): its public address for sign-in links (default: the HTTP doors' own),
    # and the map's tile URL with that tile server's coordinate system (wgs84: OSM/Tianditu, gcj02: Amap).
    console_url: str | None = None
    console_tiles: str | None = None
    console_tiles_crs: str = "wgs84"
    console_tiles_attribution: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def database(self) -> str | Path:
        """What `Database()` opens: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.db_path

    @property
    def database_name(self) -> str:
        """The database for messages and logs: the URL without its password, or the file."""
        return redact(self.database_url) if self.database_url else str(self.db_path)

    @property
    def offline_demo(self) -> bool:
        """No token: run against the embedded Bot API stand-in instead of Telegram."""
        return not self.telegram_token

    def redacted(self) -> dict[str, Any]:
        """For logs: never print the token or the webhook secret."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        secrets = (
            "telegram_token",
            "webhook_secret",
            "wechat_token",
            "wechat_aes_key",
            "wechat_secret",
            "metrics_token",
            "invite_secret",
        )
        for secret in secrets:
            if out[secret]:
                out[secret] = "***"
        if out["database_url"]:
            out["database_url"] = redact(out["database_url"])
        return out


# env var -> (settings field, converter)
_ENV: dict[str, tuple[str, Any]] = {
    "TELEGRAM_TOKEN": ("telegram_token", str),
    "TELEGRAM_BASE_URL": ("telegram_base_url", str),
    "TELEGRAM_BASE_FILE_URL": ("telegram_base_file_url", str),
    "RIDER_DB_PATH": ("db_path", Path),
    "RIDER_DATABASE_URL": ("database_url", str),
    "RIDER_ADMINS": ("admins", None),
    "RIDER_TIMEZONE": ("timezone", str),
    "RIDER_MODE": ("mode", str),
    "RIDER_WEBHOOK_URL": ("webhook_url", str),
    "RIDER_WEBHOOK_LISTEN": ("webhook_listen", str),
    "RIDER_WEBHOOK_PORT": ("webhook_port", int),
    "RIDER_WEBHOOK_SECRET": ("webhook_secret", str),
    "RIDER_DEMO_HOST": ("demo_host", str),
    "RIDER_DEMO_PORT": ("demo_port", int),
    "RIDER_STATIONS_CSV": ("stations_csv", Path),
    "RIDER_CATEGORIES_TOML": ("categories_toml", Path),
    "RIDER_GEOCODER_URL": ("geocoder_url", str),
    "RIDER_RESULTS_PER_PAGE": ("results_per_page", int),
    "RIDER_SEARCH_RADIUS_M": ("search_radius_m", float),
    "RIDER_COVERAGE_KM": ("coverage_km", float),
    "RIDER_LOCATION_FRESH_MINUTES": ("location_fresh_minutes", int),
    "RIDER_PHOTO_DIR": ("photo_dir", Path),
    "RIDER_HTTP_HOST": ("http_host", str),
    "RIDER_HTTP_PORT": ("http_port", int),
    "RIDER_REPORTS_PER_HOUR": ("reports_per_hour", int),
    "RIDER_WECHAT_TOKEN": ("wechat_token", str),
    "RIDER_WECHAT_AES_KEY": ("wechat_aes_key", str),
    "RIDER_WECHAT_APPID": ("wechat_appid", str),
    "RIDER_WECHAT_SECRET": ("wechat_secret", str),
    "RIDER_WECHAT_API_BASE": ("wechat_api_base", str),
    "RIDER_WECHAT_REQUIRE_ENCRYPTION": ("wechat_require_encryption", None),
    "RIDER_INVITE_SECRET": ("invite_secret", str),
    "RIDER_BOT_USERNAME": ("bot_username", str),
    "RIDER_QUIET_HOURS": ("quiet_hours", str),
    "RIDER_DIGEST_AT": ("digest_at", time.fromisoformat),
    "RIDER_METRICS_TOKEN": ("metrics_token", str),
    "RIDER_READY_BOT_API_MAX_AGE": ("ready_bot_api_max_age", float),
    "RIDER_READY_OUTBOX_MAX_LAG": ("ready_outbox_max_lag", float),
    "RIDER_LOG_FORMAT": ("log_format", str),
    "RIDER_CONSOLE_URL": ("console_url", str),
    "RIDER_CONSOLE_TILES": ("console_tiles", str),
    "RIDER_CONSOLE_TILES_CRS": ("console_tiles_crs", str),
}


def _parse_admins(value: Any) -> tuple[int, ...]:
    if isinstance(value, list | tuple):
        items = value
    else:
        items = [p for p in str(value).replace(";", ",").split(",") if p.strip()]
    try:
        return tuple(int(str(p).strip()) for p in items)
    except ValueError as exc:
        raise ConfigError(f"admins must be numeric user ids, got {value!r}") from exc


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


def _parse_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in _TRUE | _FALSE:
        return word in _TRUE
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def _convert(name: str, conv: Any, value: Any) -> Any:
    if name == "admins":
        return _parse_admins(value)
    if name == "wechat_require_encryption":
        return _parse_bool(name, value)
    try:
        return conv(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot use {value!r}") from exc


def load_settings(config_file: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Settings:
    """Read RIDER_CONFIG (or `config_file`) if given, then apply environment variables."""
    env = dict(os.environ if env is None else env)
    values: dict[str, Any] = {}
    known = {f.name: f for f in fields(Settings)}
    path = config_file or env.get("RIDER_CONFIG")
    if path:
        try:
            raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"config file {path}: {exc}") from exc
        conv_by_field = {fname: conv for fname, conv in _ENV.values()}
        for key, value in raw.items():
            if key not in known or key == "extra":
                values.setdefault("extra", {})[key] = value
                continue
            values[key] = _convert(key, conv_by_field.get(key, lambda v: v), value)
    for var, (name, conv) in _ENV.items():
        if env.get(var, "").strip():
            values[name] = _convert(name, conv, env[var].strip())
    settings = replace(Settings(), **values)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if settings.database_url:
        try:
            check_url(settings.database_url)
        except ValueError as exc:
            raise ConfigError(f"database_url: {exc}") from None
    try:
        settings.tz  # noqa: B018 - resolving it is the check
    except Exception as exc:
        raise ConfigError(f"timezone: unknown time zone {settings.timezone!r}") from exc
    if settings.log_format not in {"text", "json"}:
        raise ConfigError(f"log_format must be 'text' or 'json', got {settings.log_format!r}")
    if settings.mode not in {"polling", "webhook"}:
        raise ConfigError(f"mode must be 'polling' or 'webhook', got {settings.mode!r}")
    if settings.mode == "webhook" and not settings.webhook_url:
        raise ConfigError("webhook mode needs RIDER_WEBHOOK_URL")
    if settings.coverage_km <= 0 or settings.location_fresh_minutes <= 0:
        raise ConfigError("coverage_km and location_fresh_minutes must be positive")
    if not 1 <= settings.results_per_page <= 10:
        raise ConfigError("results_per_page must be between 1 and 10")
    if settings.console_tiles_crs not in {"wgs84", "gcj02"}:
        raise ConfigError(f"console_tiles_crs must be 'wgs84' or 'gcj02', got {settings.console_tiles_crs!r}")
    if settings.console_tiles and not settings.console_tiles.startswith(("https://", "http://")):
        raise ConfigError("console_tiles must be an http(s) URL template such as https://…/{z}/{x}/{y}.png")
    if settings.wechat_aes_key and (len(settings.wechat_aes_key) != 43 or not settings.wechat_appid):
        raise ConfigError("wechat_aes_key must be the 43-character EncodingAESKey, and needs wechat_appid")
    if settings.invite_secret is not None and len(settings.invite_secret) < 16:
        raise ConfigError("invite_secret must be at least 16 characters (better: 32 random bytes, hex)")
    if settings.join_failure_budget < 1:
        raise ConfigError("join_failure_budget must be at least 1")
    if settings.wechat_require_encryption and not settings.wechat_aes_key:
        raise ConfigError("wechat_require_encryption needs wechat_aes_key (safe mode)")
