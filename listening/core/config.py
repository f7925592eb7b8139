"""Settings: read from the environment in exactly one place.

Every variable is listed in README.md ("Configuration"). Defaults are the
embedded demo: the emulator on loopback, an embedded PostgreSQL and Valkey
under ``instance/``. ``LISTENING_ENV=production`` refuses those defaults.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

# The emulator's default registration (emulator/README.md); harmless outside a demo.
DEMO_CLIENT_ID = "5f1d8a2c-3b4e-4c6d-9e8f-0a1b2c3d4e5f"
DEMO_CLIENT_SECRET = "demo-secret"
DEMO_AUTHORITY = "http://127.0.0.1:5100"


class ConfigError(RuntimeError):
    """The configuration cannot run the app (raised at start-up, never later)."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    secret_key: str | None = None
    # The app's own role (web, worker, clock): no DDL, INSERT and SELECT only on the audit log.
    database_url: str | None = None
    # The role that owns the schema and runs the migrations (``flask db upgrade``) only.
    database_owner_url: str | None = None
    redis_url: str | None = None
    instance_path: Path = Path("instance")
    # The address people and Microsoft reach the app at, e.g. https://listening.example.com:
    # redirect URIs, approval links and notification URLs are built from it, and in production
    # any other Host header is refused. Unset (development): the request's own host, and Graph
    # change notifications are off (listening/notifications/): calendars are polled.
    public_url: str | None = None
    # Where the daily job writes signed audit checkpoints; ship them to write-once storage.
    # Unset: instance/checkpoints (``checkpoint_dir``).
    audit_checkpoint_dir: Path | None = None
    # Identity platform: "{authority}/{tenant}/v2.0/.well-known/openid-configuration".
    ms_authority: str = DEMO_AUTHORITY
    ms_tenant: str = "organizations"
    ms_client_id: str = DEMO_CLIENT_ID
    ms_client_secret: str = DEMO_CLIENT_SECRET
    graph_url: str = DEMO_AUTHORITY + "/v1.0"
    # Key ring "kid:base64key,kid:base64key" (newest last); see listening/core/crypto.py.
    keys: str | None = None
    http_timeout: float = 10.0
    # The most one sync may spend waiting on Graph's Retry-After or its own backoff.
    graph_max_wait: float = 120.0
    # RQ retries of a sync that failed in a way worth retrying: (how many, seconds before each).
    sync_retry: tuple[int, tuple[int, ...]] = (3, (30, 120, 600))
    # Seconds a running job may go without a heartbeat before RQ counts it abandoned (jobs/runtime.py).
    job_heartbeat_ttl: int = 70
    # How many reverse proxies in front of the app set X-Forwarded-* (0: trust none).
    trusted_proxies: int = 0
    queue_prefix: str = ""
    log_level: str = "INFO"
    # Rate limits (the "limits" notation, e.g. "5 per minute"; listening/web/limits.py).
    rate_limit_check: str = "6 per minute"
    rate_limit_refresh: str = "6 per minute"
    rate_limit_sign_in: str = "20 per minute"
    rate_limit_approval: str = "20 per hour"
    rate_limit_import: str = "20 per hour"
    # Requests per API key, in Flask-Limiter's words ("600/minute", "20/second;600/minute").
    api_rate_limit: str = "600/minute"
    # Requests with an API key that is not valid, per client address; past it, refused unread.
    api_key_failure_limit: str = "30/minute"
    # Seconds a webhook receiver has to answer one delivery.
    webhook_timeout: float = 10.0
    # Seconds a burst of change notifications for one mailbox is gathered into one sync.
    notify_debounce: float = 1.0

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def checkpoint_dir(self) -> Path:
        return Path(self.audit_checkpoint_dir or Path(self.instance_path) / "checkpoints")

    def check(self) -> None:
        """Refuse to start production on demo defaults (secrets, emulator, embedded stores)."""
        if not self.production:
            return
        missing = [name for name, value in (
            ("SECRET_KEY", self.secret_key), ("DATABASE_URL", self.database_url),
            ("REDIS_URL", self.redis_url), ("LISTENING_KEYS", self.keys),
        ) if not value]
        if not (self.public_url or "").startswith("https://"):
            missing.append("PUBLIC_URL (the https:// address people reach the app at)")
        if self.ms_client_secret == DEMO_CLIENT_SECRET or self.ms_client_id == DEMO_CLIENT_ID:
            missing.append("MS_CLIENT_ID/MS_CLIENT_SECRET")
        # Tokens and calendar data travel to these: never the emulator, never plain HTTP.
        for name, url in (("MS_AUTHORITY", self.ms_authority), ("GRAPH_URL", self.graph_url)):
            if url.startswith(DEMO_AUTHORITY) or not url.startswith("https://"):
                missing.append(f"{name} (an https:// address, not the emulator)")
        if missing:
            raise ConfigError("production needs " + ", ".join(missing))


def _number(name: str, raw: str | None, default, kind=float, minimum=0):
    if raw is None:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or not math.isfinite(value) or value < minimum:
        raise ConfigError(f"{name} must be a {kind.__name__} of at least {minimum}, got {raw!r}")
    return value


def _public_url(raw: str | None) -> str | None:
    """scheme://host[:port], nothing after it: every link the app sends out starts with it."""
    if raw is None:
        return None
    parts = urlsplit(raw.strip().rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query \
            or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"PUBLIC_URL must be http(s)://host[:port] and nothing more, got {raw!r}")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _rate(name: str, raw: str) -> str:
    from limits import parse_many

    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a rate such as '600/minute', got {raw!r}") from None
    return raw


def from_env(environ: dict | None = None, **overrides) -> Settings:
    env = os.environ if environ is None else environ
    get = lambda name, default=None: env.get(name) or default  # noqa: E731 - empty means unset
    authority = get("MS_AUTHORITY", DEMO_AUTHORITY).rstrip("/")
    instance = Path(get("LISTENING_INSTANCE", "instance")).resolve()
    settings = Settings(
        env=get("LISTENING_ENV", "development"),
        secret_key=get("SECRET_KEY"),
        database_url=get("DATABASE_URL"),
        database_owner_url=get("DATABASE_OWNER_URL"),
        redis_url=get("REDIS_URL"),
        instance_path=instance,
        public_url=_public_url(get("PUBLIC_URL")),
        audit_checkpoint_dir=Path(get("AUDIT_CHECKPOINT_DIR")).resolve() if get("AUDIT_CHECKPOINT_DIR") else None,
        ms_authority=authority,
        ms_tenant=get("MS_TENANT", "organizations"),
        ms_client_id=get("MS_CLIENT_ID", DEMO_CLIENT_ID),
        ms_client_secret=get("MS_CLIENT_SECRET", DEMO_CLIENT_SECRET),
        graph_url=get("GRAPH_URL", authority + "/v1.0").rstrip("/"),
        keys=get("LISTENING_KEYS"),
        http_timeout=_number("HTTP_TIMEOUT", get("HTTP_TIMEOUT"), 10.0, minimum=0.1),
        graph_max_wait=_number("GRAPH_MAX_WAIT", get("GRAPH_MAX_WAIT"), 120.0),
        job_heartbeat_ttl=_number("JOB_HEARTBEAT_TTL", get("JOB_HEARTBEAT_TTL"), 70, kind=int, minimum=2),
        trusted_proxies=_number("TRUSTED_PROXIES", get("TRUSTED_PROXIES"), 0, kind=int),
        queue_prefix=get("QUEUE_PREFIX", ""),
        log_level=get("LOG_LEVEL", "INFO"),
        **{name: get(name.upper(), getattr(Settings, name)) for name in RATE_LIMITS},
        webhook_timeout=_number("WEBHOOK_TIMEOUT", get("WEBHOOK_TIMEOUT"), 10.0, minimum=0.1),
        notify_debounce=_number("NOTIFY_DEBOUNCE", get("NOTIFY_DEBOUNCE"), 1.0),
    )
    if "public_url" in overrides:
        overrides["public_url"] = _public_url(overrides["public_url"])
    settings = replace(settings, **overrides) if overrides else settings
    for name in RATE_LIMITS:  # read from the environment or given by create_app alike
        _rate(name.upper(), getattr(settings, name))
    return settings


RATE_LIMITS = ("rate_limit_check", "rate_limit_refresh", "rate_limit_sign_in", "rate_limit_approval",
               "rate_limit_import", "api_rate_limit", "api_key_failure_limit")
