"""``flask graph-fetch`` as a whole process against a bare ``requests`` + ``json`` fetch of the
same pages. Prints figures; asserts nothing.

    .venv-test/bin/python bench/graph_fetch_bench.py [--events 20000] [--rounds 5]

Both ask the emulator (``scale`` seed, one mailbox, its own process over loopback) for the
same window with the same ``$select``, ``$top`` and ``Prefer`` header. The bare fetch is
timed two ways: inside an already running interpreter (the floor), and as a whole process
(``python -c``: interpreter start and the ``requests`` import included). graph-fetch runs as
the command a person types (``flask --app wsgi graph-fetch ...``, output to /dev/null), with
no DATABASE_URL or REDIS_URL and an empty instance folder: it must start neither store.
The two alternate, ``--rounds`` times each, and medians are compared (one run varies by
±20% on a shared 2-core machine).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync_phases import start_emulator  # noqa: E402

BARE = """
import json, sys, time
import requests
url, token, start, end, select, prefer = sys.argv[1:7]
params = {"startDateTime": start, "endDateTime": end, "$select": select, "$top": "1000"}
headers = {"Authorization": "Bearer " + token, "Prefer": prefer}
http, events = requests.Session(), 0
while url:
    page = json.loads(http.get(url, params=params, headers=headers, timeout=60).content)
    events, url, params = events + len(page["value"]), page.get("@odata.nextLink"), None
print(events)
"""


def timed(command: list[str], env: dict) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{command[:3]} failed: {done.stderr.strip()[-500:]}")
    return seconds, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    import requests

    from listening.outlook import graph

    anchor = date.today() - timedelta(days=date.today().weekday())
    emulator, emu_url = start_emulator(1, args.events, anchor.isoformat())
    try:
        user = requests.get(emu_url + "/_emulator/users", timeout=30).json()[0]["email"]
        token = requests.post(emu_url + "/_emulator/tokens", json={"user": user}, timeout=30).json()["access_token"]
        now = datetime.now().astimezone()
        start, end = graph._iso(now - timedelta(days=30)), graph._iso(now + timedelta(days=120))
        bare_args = [emu_url + "/v1.0/me/calendarView", token, start, end, ",".join(graph.SELECT), graph.PREFER]
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
        bin_dir = Path(sys.executable).parent
        with tempfile.TemporaryDirectory() as instance:
            env["LISTENING_INSTANCE"] = instance
            fetch = [str(bin_dir / "flask"), "--app", "wsgi", "graph-fetch", "--token", token,
                     "--graph-url", emu_url + "/v1.0", "--start", start, "--end", end]
            rounds = {"bare in-process": [], "bare process": [], "graph-fetch process": []}
            events = set()
            for _ in range(args.rounds):
                seconds, _out = timed([sys.executable, "-c", BARE, *bare_args], env)
                rounds["bare process"].append(seconds)
                rounds["bare in-process"].append(_in_process(bare_args))
                seconds, out = timed(fetch, env)
                rounds["graph-fetch process"].append(seconds)
                events.add(out.strip().splitlines()[-1])
            left = sorted(p.name for p in Path(instance).iterdir())
    finally:
        emulator.terminate()
        emulator.wait(10)
    print(f"{args.events} events in one mailbox, {args.rounds} rounds, medians (min-max):")
    for name, values in rounds.items():
        print(f"  {name:<22} {statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})")
    floor = statistics.median(rounds["bare in-process"])
    whole = statistics.median(rounds["graph-fetch process"])
    print(f"  graph-fetch process / bare in-process: {whole / floor:.2f}x; "
          f"/ bare process: {whole / statistics.median(rounds['bare process']):.2f}x")
    print(f"  graph-fetch summary lines: {sorted(events)}")
    print(f"  left in its instance folder: {left or 'nothing'} (no pgdata, no valkey: no store started)")


def _in_process(bare_args: list[str]) -> float:
    import io
    from contextlib import redirect_stdout

    saved = sys.argv
    sys.argv = ["bare", *bare_args]
    try:
        started = time.perf_counter()
        with redirect_stdout(io.StringIO()):
            exec(BARE, {})  # noqa: S102 - our own constant
        return time.perf_counter() - started
    finally:
        sys.argv = saved


if __name__ == "__main__":
    main()
