"""Run the whole demo: emulator (demo seed), web app, worker and clock.

Started by ``python3 dev.py demo``. With DATABASE_URL / REDIS_URL unset it starts the
embedded PostgreSQL and Valkey under instance/; it applies the migrations, loads the
emulator's demo company into an organization that has no directory yet (later runs keep
what the HR admin changed), prints the URL and whom to sign in as, restarts a worker or
clock that crashes, and on Ctrl-C, SIGINT or SIGTERM stops the web app, worker, clock and
emulator first and the stores last.
"""
from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The order things stop in: nothing is left calling something already gone.
STOP_ORDER = [["web", "worker", "clock"], ["emulator"]]


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message):
        self.exit(2, f"{self.prog}: {message} (--help lists the options)\n")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Standard library only, so ``--help`` works before the virtual environment exists."""
    parser = _OneLineErrors(prog="python3 dev.py demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000, help="the web app's port (default 5000)")
    parser.add_argument("--emulator-port", type=int, default=5100,
                        help="the Microsoft emulator's port (default 5100)")
    parser.add_argument("--reset", action="store_true",
                        help="start over: delete the demo's embedded database and queue under instance/ first")
    args = parser.parse_args(argv)
    for name in ("port", "emulator_port"):
        if not 1 <= getattr(args, name) <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be a port number (1-65535)")
    if args.port == args.emulator_port:
        parser.error("--port and --emulator-port must differ")
    return args


class StopDemo(BaseException):
    """SIGINT or SIGTERM arrived while the demo was still starting."""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from tools import demo_stack  # needs the virtual environment (dev.py demo makes it)
    from tools.supervisor import Supervisor

    stack = demo_stack.Stack(ROOT, args.port, args.emulator_port)
    if args.reset:
        problem = stack.reset()
        if problem:
            print(f"demo: {problem}", file=sys.stderr)
            return 2
    supervisor = Supervisor(ROOT)
    starting = True

    def on_signal(signum, _frame):
        if starting:
            raise StopDemo()
        supervisor.stopping.set()

    # Explicit handlers: a demo started in the background inherits SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    status = 0
    try:
        stack.prepare()
        stack.start(supervisor)
        stack.welcome()
        starting = False
        died = supervisor.watch()
        if died is not None:
            print(f"demo: {died} stopped; shutting down (its log: {stack.instance / 'logs'})", file=sys.stderr)
            status = 1
    except StopDemo:
        pass
    except demo_stack.DemoError as err:
        print(f"demo: {err}", file=sys.stderr)
        status = 1
    finally:
        starting = False
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        started = time.monotonic()
        supervisor.stop(STOP_ORDER)
        stack.stop_stores()
        print(f"demo: stopped in {time.monotonic() - started:.1f} s", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
