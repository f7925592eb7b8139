"""python -m emulator --host 127.0.0.1 --port 5100 --seed demo --control"""
from __future__ import annotations

import argparse
import logging
from datetime import date

from .app import DEFAULT_CLIENT_ID, DEFAULT_SECRET, create_app, default_redirect_uris
from .tokens import REFRESH_INACTIVITY, Client


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulator",
                                description="Microsoft identity platform + Graph emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5100)
    p.add_argument("--seed", default="demo", choices=("demo", "scale"))
    p.add_argument("--people", type=int, help="scale seed: number of people")
    p.add_argument("--events", type=int, help="scale seed: events per person")
    p.add_argument("--anchor", type=date.fromisoformat, help="seed anchor date (default: the Monday of this week)")
    p.add_argument("--control", action="store_true", help="enable the /_emulator control API")
    p.add_argument("--client-id", default=DEFAULT_CLIENT_ID)
    p.add_argument("--client-secret", default=DEFAULT_SECRET)
    p.add_argument("--redirect-uri", action="append", dest="redirect_uris",
                   help="registered redirect URI (repeatable; replaces the defaults)")
    p.add_argument("--token-ttl", type=int, default=3600, help="access token lifetime, seconds")
    p.add_argument("--refresh-inactivity", type=int, default=REFRESH_INACTIVITY,
                   help="refresh token inactivity window, seconds (AADSTS700082 after it)")
    p.add_argument("--mailbox-concurrency", type=int, default=4,
                   help="concurrent requests allowed per mailbox (0 = unlimited)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    opts = {k: v for k, v in (("people", args.people), ("events", args.events)) if v is not None}
    client = Client(args.client_id, args.client_secret, args.redirect_uris or default_redirect_uris())
    app = create_app(seed=args.seed, anchor=args.anchor, control=args.control, clients=[client],
                     access_token_ttl=args.token_ttl, refresh_inactivity=args.refresh_inactivity,
                     mailbox_concurrency=args.mailbox_concurrency or None, **opts)
    base = f"http://{args.host}:{args.port}"
    world = app.extensions["emulator"].world
    print(f"Emulator ({args.seed} seed, {len(world.users)} people) listening on {base}", flush=True)
    print(f"  AUTHORITY = {base}/organizations   GRAPH = {base}/v1.0", flush=True)
    print(f"  client_id = {client.client_id}   secret = {client.secret}", flush=True)
    if args.control:
        print(f"  control API: {base}/_emulator/users", flush=True)
    from werkzeug.serving import run_simple
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
