"""How fast the emulator's `scale` seed builds and expands (prints figures; not a test).

    .venv-test/bin/python bench/emulator_bench.py [--events 20000] [--runs 3]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.seeds import build_world, window  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    anchor = date.today()
    builds, views, counts = [], [], []
    for _ in range(args.runs):
        began = time.perf_counter()
        world = build_world("scale", anchor, people=1, events=args.events)
        builds.append(time.perf_counter() - began)
        began = time.perf_counter()
        counts.append(len(world.mailbox(next(iter(world.users))).view(*window(anchor))))
        views.append(time.perf_counter() - began)
    print(f"scale seed, 1 mailbox x {args.events} events, {args.runs} runs")
    print(f"  build:        median {statistics.median(builds):.2f} s, max {max(builds):.2f} s")
    print(f"  first view(): median {statistics.median(views):.2f} s, max {max(views):.2f} s "
          f"({counts[0]} events)")


if __name__ == "__main__":
    main()
