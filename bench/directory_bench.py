"""Directory import check benchmark: parse and check 50,000-row org charts of several shapes.

    python bench/directory_bench.py [--rows 50000] [--runs 5]

Prints, per shape, the median time of the whole check (directory.parse_csv: decoding, row
validation, the chart rules) and of the chart rules alone (unique addresses, known managers,
no cycle). Asserts nothing; the target is the whole check within 2 s for 50,000 rows.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from listening.admin import directory  # noqa: E402

HEADER = "email,name,manager_email,role,aliases"


def chart(shape: str, n: int) -> bytes:
    lines = [HEADER]
    for i in range(n):
        if shape in ("chain", "cycle"):
            manager = f"p{i - 1}@x.test" if i else (f"p{n - 1}@x.test" if shape == "cycle" else "")
        elif shape == "star":
            manager = "p0@x.test" if i else ""
        elif shape == "tree":
            manager = f"p{(i - 1) // 2}@x.test" if i else ""
        else:  # "cycles": many small cycles of three
            manager = f"p{i - i % 3 + (i + 1) % 3}@x.test"
        lines.append(f"p{i}@x.test,Person {i},{manager},{'manager' if i < n - 1 else 'employee'},")
    return ("\n".join(lines) + "\n").encode()


def timed(fn) -> float:
    started = time.perf_counter()
    try:
        fn()
    except directory.DirectoryError:
        pass
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=directory.MAX_ROWS)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.rows:,} rows, median of {args.runs} runs")
    for shape in ("chain", "star", "tree", "cycle", "cycles"):
        data = chart(shape, args.rows)
        rows = [directory.Row(i + 2, f"p{i}@x.test", f"P{i}", None, directory.Role.employee, (), "UTC")
                for i in range(args.rows)]
        managers = [line.split(",")[2] or None for line in data.decode().splitlines()[1:]]
        rows = [r.__class__(r.line, r.email, r.name, m, r.role, r.aliases, r.time_zone)
                for r, m in zip(rows, managers)]
        whole = statistics.median(timed(lambda: directory.parse_csv(data)) for _ in range(args.runs))
        rules = statistics.median(timed(lambda: directory._chart_problems(rows)) for _ in range(args.runs))
        print(f"  {shape:<7} {len(data) / 1e6:.1f} MB: whole check {whole:.2f} s, chart rules {rules * 1000:.0f} ms")


if __name__ == "__main__":
    main()
