"""create_app: one Flask app serving the identity platform at /{tenant}/... and Graph at /v1.0."""
from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from flask import Flask

from .faults import FaultBook
from .notifier import Notifier
from .stats import Stats
from .tokens import CODE_TTL, REFRESH_INACTIVITY, Client, Clock, SigningKey, TokenStore
from .webhooks import DELIVERY_TIMEOUT, VALIDATION_TIMEOUT, Webhooks

DEFAULT_CLIENT_ID = "5f1d8a2c-3b4e-4c6d-9e8f-0a1b2c3d4e5f"
DEFAULT_SECRET = "demo-secret"
CALLBACK_PATHS = ("/auth/callback", "/outlook/callback", "/outlook/adminconsent/callback")


def default_redirect_uris() -> list[str]:
    """localhost and 127.0.0.1 on ports 5000 and 80 (the Flask test client uses http://localhost)."""
    hosts = ("localhost", "127.0.0.1")
    origins = [f"http://{h}:5000" for h in hosts] + [f"http://{h}" for h in hosts]
    return [origin + path for origin in origins for path in CALLBACK_PATHS]


def default_client() -> Client:
    return Client(DEFAULT_CLIENT_ID, DEFAULT_SECRET, default_redirect_uris())


def load_build_world() -> Callable:
    try:
        from .seeds import build_world
    except ImportError:
        from .world import build_world
    return build_world


@dataclass
class EmulatorState:
    """Everything the blueprints share. One per app; reached through app.extensions["emulator"]."""

    world: Any
    build: Callable[[], Any]
    clients: dict[str, Client]
    tokens: TokenStore
    clock: Clock
    signing_key: SigningKey
    notifier: Notifier
    code_ttl: int = CODE_TTL
    mailbox_concurrency: int | None = 4
    default_concurrency: int | None = 4
    faults: FaultBook = field(default_factory=FaultBook)
    stats: Stats = field(default_factory=Stats)
    flows: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)
    admin_consent_overrides: dict = field(default_factory=dict)
    caches: dict = field(default_factory=dict)
    paging_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    lock: threading.RLock = field(default_factory=threading.RLock)

    def rebuild_world(self) -> None:
        with self.lock:
            self.world = self.build()
            self.world.on_change = self.notifier.changed
            self.caches.clear()


def create_app(seed: str = "demo", anchor: date | None = None, control: bool = False,
               clients: list[Client] | None = None, access_token_ttl: int = 3600,
               refresh_inactivity: int = REFRESH_INACTIVITY, code_ttl: int = CODE_TTL,
               mailbox_concurrency: int | None = 4, world_factory: Callable | None = None,
               validation_timeout: float = VALIDATION_TIMEOUT,
               delivery_timeout: float = DELIVERY_TIMEOUT, **seed_opts) -> Flask:
    """Build the emulator. `seed_opts` go to build_world (e.g. people=, events= for "scale");
    anchor None lets the seed pick its default (the Monday of this week). The two timeouts are
    Microsoft's limits for webhook endpoints (10 s and 3 s); tests shorten them."""
    app = Flask(__name__)
    app.json.sort_keys = False
    factory = world_factory or load_build_world()

    def build():
        return factory(seed, anchor, **seed_opts)

    clock = Clock()
    tokens = TokenStore(clock=clock, access_ttl=access_token_ttl,
                        refresh_inactivity=refresh_inactivity)
    faults = FaultBook()
    notifier = Notifier(clock, tokens, Webhooks(faults.unreachable, validation_timeout,
                                                delivery_timeout))
    st = EmulatorState(
        world=build(), build=build, clock=clock, signing_key=SigningKey(),
        clients={c.client_id: c for c in (clients or [default_client()])},
        tokens=tokens, faults=faults, notifier=notifier,
        code_ttl=code_ttl, mailbox_concurrency=mailbox_concurrency,
        default_concurrency=mailbox_concurrency)
    st.world.on_change = notifier.changed
    app.extensions["emulator"] = st
    app.config.update(EMULATOR_SEED=seed, EMULATOR_CONTROL=control,
                      EMULATOR_ANCHOR=str(getattr(st.world, "anchor", anchor)))

    from . import graph_api, identity, token_endpoint  # noqa: F401  (routes register on import)
    app.register_blueprint(identity.bp)
    app.register_blueprint(graph_api.bp)
    if control:
        from . import control as control_api
        app.register_blueprint(control_api.bp)
    return app
