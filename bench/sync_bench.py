"""Sync benchmark. Prints figures; asserts nothing.

    .venv-test/bin/python bench/sync_bench.py                     # the README's sizes (~12 minutes)
    .venv-test/bin/python bench/sync_bench.py --sdk-events 2000   # msgraph-sdk extrapolated (~4 min)
    .venv-test/bin/python bench/sync_bench.py --quick             # smaller sizes, for a smoke run

What it measures, against the emulator's ``scale`` seed served by separate
processes over loopback (like Graph, the server does not share our CPU time slices
in-process):

1. full sync (fetch, trim, encrypt, upsert, commit) of a 1,000- and a 20,000-event
   mailbox: seconds, events/s, Graph requests, calendar_items rows written, peak RSS;
2. an unchanged re-sync of the 20,000-event mailbox: rows written (counted from
   PostgreSQL's row versions, not from our own report);
3. a bare ``requests`` + ``json`` fetch of the same pages (the floor); the bare fetch and
   the full sync each run ``--rounds`` times, alternating, and the medians are compared
   (one run of either varies by ±20% on a shared 2-core machine);
   CPU seconds of this process, the emulator and PostgreSQL during one of each show where
   the time goes (the three share the machine's cores);
4. Microsoft's msgraph-sdk reading the same mailbox with its own calendarView
   paging, once asking what the sync asks ($top=1000, the same $select and Prefer) and once
   as it comes (pages of 10, every field): the whole mailbox, or ``--sdk-events``
   events extrapolated per event;
5. 200 mailboxes x 500 events with 50 ms added Graph latency, synced by 1, 2 and
   4 real ``rq worker --burst`` processes: wall time.

Each measured phase runs in a child process, so its peak RSS is its own.
PostgreSQL: BENCH_DATABASE_ADMIN_URL, else the server on 127.0.0.1:5432, else an
embedded one (bench/scratch.py). Redis: REDIS_URL, else 127.0.0.1:6379. A throwaway
database and Redis key prefix are used and removed at the end.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.scratch import admin_url, drop_database, scratch_database  # noqa: E402
from bench.sync_phases import (  # noqa: E402  (after the path is set)
    PHASES,
    _clear_redis,
    _own_peak_rss_mb,
    link_mailboxes,
    start_emulator,
    workers_round,
)
from listening.outlook.events import SELECT  # noqa: E402


def run_phase(name: str, cfg: dict) -> dict:
    """Run one phase in a child process of its own; its JSON result, with its peak RSS (MB)."""
    child = subprocess.run([sys.executable, __file__, "--phase", name, json.dumps(cfg)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True)
    if child.returncode != 0:
        raise SystemExit(f"phase {name} failed (status {child.returncode})")
    return json.loads(child.stdout.strip().splitlines()[-1])


# --- orchestration ----------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--sdk-events", type=int, default=0,
                        help="events msgraph-sdk reads before extrapolating (default 0: the whole mailbox)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="runs of the bare fetch and the full sync of each mailbox (default 3; medians)")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.phase:
        result = PHASES[args.phase](json.loads(rest[0]))
        print(json.dumps(result | {"peak_rss_mb": _own_peak_rss_mb()}))
        return
    big, small = (5000, 1000) if args.quick else (20000, 1000)
    mailboxes, per_mailbox, worker_counts = (20, 500, (1, 2)) if args.quick else (200, 500, (1, 2, 4))
    admin, server = admin_url()  # kept alive (an embedded server) until the end of main
    cfg = {"redis": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
           "prefix": f"bench-{secrets.token_hex(4)}-", "anchor": date.today().isoformat(),
           "tmp": tempfile.mkdtemp(prefix="listening-bench-")}
    name, cfg["db"] = scratch_database(admin, "sync")
    emulators = []
    try:
        for size in (small, big):
            emulators.append(start_emulator(1, size, cfg["anchor"]))
        emulators.append(start_emulator(mailboxes, per_mailbox, cfg["anchor"]))
        print(f"Sync benchmark ({'quick' if args.quick else 'full'}), emulator 'scale' seed over loopback, "
              f"{os.cpu_count()} CPUs\n")
        figures = mailbox_figures(cfg, emulators[0], small, args) | mailbox_figures(cfg, emulators[1], big, args)
        print_mailboxes(figures, small, big)
        fleet(cfg, emulators[2][1], mailboxes, per_mailbox, worker_counts)
    finally:
        for proc, _ in emulators:
            proc.terminate()
            proc.wait(10)
        drop_database(admin, name)
        del server
        _clear_redis(cfg)


def mailbox_figures(cfg: dict, emulator: tuple, size: int, args) -> dict:
    emu_pid, emu_url = emulator[0].pid, emulator[1]
    (connection_id, token), = link_mailboxes(cfg, emu_url)
    run = cfg | {"emu": emu_url, "connection_id": connection_id, "token": token}
    run_phase("bare", run)  # warm the emulator's view cache, so every reader below gets the same server
    bare, full = [], []
    for _ in range(max(1, args.rounds)):
        bare.append(run_phase("bare", run))
        full.append(run_phase("full", run))
    out = {f"bare{size}": _median(bare), f"full{size}": _median(full)}
    if size == max(size, 10000) or args.quick and size > 1000:
        out["cpu"] = run_phase("cpu", run | {"emu_pid": emu_pid})
        out[f"resync{size}"] = run_phase("resync", run)
        limit = min(args.sdk_events or size, size)
        # Like for like: the sync's own $top, $select and Prefer; then the SDK as it comes (10 per page,
        # every field).
        out["sdk_top"] = run_phase("sdk", run | {"top": 1000, "select": list(SELECT), "prefer": True, "limit": limit})
        out["sdk_default"] = run_phase("sdk", run | {"top": None, "select": None, "limit": limit})
    return out


def _median(runs: list[dict]) -> dict:
    """The run with the median time, its cold figure the median of the cold ones, and every time."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    middle = dict(ordered[len(ordered) // 2])
    if "cold_seconds" in middle:
        middle["cold_seconds"] = sorted(r["cold_seconds"] for r in runs)[len(runs) // 2]
    middle["all_seconds"] = [r["seconds"] for r in runs]
    return middle


def print_mailboxes(f: dict, small: int, big: int) -> None:
    print(f"{'':34}{'seconds':>9}{'events/s':>10}{'requests':>10}{'rows':>8}{'peak RSS':>10}")
    for key, label in ((f"full{small}", f"full sync, {small:,} events"), (f"full{big}", f"full sync, {big:,} events"),
                       (f"resync{big}", f"unchanged re-sync, {big:,}"), (f"bare{small}", f"bare fetch, {small:,}"),
                       (f"bare{big}", f"bare fetch, {big:,}")):
        r = f[key]
        rows = r.get("rows_written", "-")
        print(f"{label:34}{r['seconds']:>9.2f}{r['events'] / r['seconds']:>10,.0f}{r['requests']:>10}"
              f"{rows:>8}{r['peak_rss_mb']:>8.0f} MB")
    print("  (full sync: a warm process, as a running worker; the first sync of a fresh process took "
          f"{f[f'full{small}']['cold_seconds']:.2f} s and {f[f'full{big}']['cold_seconds']:.2f} s)")
    for size in (small, big):
        r = f[f"full{size}"]
        print(f"  {size:,} events: requests {r['requests']} (target ceil(n/1000) = {math.ceil(r['events'] / 1000)})")
    full, bare = f[f"full{big}"], f[f"bare{big}"]
    print(f"  {big:,} events, every run (s): bare fetch {bare['all_seconds']}, full sync {full['all_seconds']}")
    print(f"  {big:,}-event full sync / bare fetch (medians): {full['seconds'] / bare['seconds']:.2f}x "
          f"(first sync of a fresh process: {full['cold_seconds'] / bare['seconds']:.2f}x; target <= 2x)")
    cpu = f["cpu"]
    print(f"  CPU seconds during one {big:,}-event run (this process / emulator / PostgreSQL): "
          f"bare fetch {' / '.join(map(str, cpu['bare']))}; full sync {' / '.join(map(str, cpu['full']))} "
          f"({os.cpu_count()} CPUs shared by all three)")
    print(f"  unchanged re-sync rows written (row versions): {f[f'resync{big}']['rows_written']} (target 0)")
    print(f"  peak RSS of the {big:,}-event full sync: {full['peak_rss_mb']:.0f} MB (target < 200 MB)")
    for key, label in (("sdk_top", "the sync's $top=1000, $select and Prefer"),
                       ("sdk_default", "as it comes: 10 per page, every field")):
        s = f[key]
        per_event = s["seconds"] / s["events"]
        projected = per_event * big
        how = "the whole mailbox" if s["events"] >= full["events"] else "extrapolated per event"
        print(f"msgraph-sdk ({label}): {s['events']:,} events in {s['seconds']:.1f} s, {s['requests']} requests, "
              f"{per_event * 1000:.1f} ms/event -> {big:,} events ~{projected:.0f} s ({how}); "
              f"our full sync is {projected / full['seconds']:.0f}x faster (target >= 100x)")


def fleet(cfg: dict, emu_url: str, mailboxes: int, per_mailbox: int, worker_counts) -> None:
    import requests

    connections = [cid for cid, _ in link_mailboxes(cfg, emu_url, mailboxes)]
    requests.post(emu_url + "/_emulator/faults", json={"type": "latency", "ms": 50, "endpoint": "calendarView"},
                  timeout=10).raise_for_status()
    print(f"\n{mailboxes} mailboxes x {per_mailbox} events, +50 ms per Graph request, real `rq worker --burst`:")
    for workers in worker_counts:
        r = workers_round(cfg, emu_url, connections, workers)
        print(f"  {workers} worker(s): {r['seconds']:.1f} s wall, {r['synced_ok']}/{mailboxes} synced ok, "
              f"{r['events_stored']:,} events stored, {mailboxes / r['seconds']:.1f} mailboxes/s")


if __name__ == "__main__":
    main()
