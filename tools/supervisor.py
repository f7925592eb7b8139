"""A small process supervisor for the demo: children in sessions of their own, restarted when
they may be, and stopped in a fixed order.

Every child runs in a new session (``start_new_session``), so the terminal's Ctrl-C reaches
only the launcher, which then stops the children in the order it was given. A child marked
``restart`` (the RQ worker and clock) is started again when it dies; any other child dying
ends the run. Standard library only.
"""
from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Child:
    name: str
    command: list[str]
    env: dict
    restart: bool = False
    # Seconds to wait after SIGTERM before a second SIGTERM (RQ: "cold" shutdown) and SIGKILL.
    grace: float = 5.0
    stdout: object = None
    process: subprocess.Popen | None = None
    restarts: list[float] = field(default_factory=list)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    # A child that needs restarting more often than this is failing, not flaking.
    MAX_RESTARTS, RESTART_WINDOW = 5, 60.0

    def __init__(self, cwd, say: Callable[[str], None] = print):
        self.cwd, self.say = cwd, say
        self.children: dict[str, Child] = {}
        self.stopping = threading.Event()

    def start(self, child: Child) -> Child:
        self.children[child.name] = child
        self._spawn(child)
        return child

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(child.command, cwd=self.cwd, env=child.env, start_new_session=True,
                                         stdout=child.stdout, stderr=subprocess.STDOUT if child.stdout else None)
        self.say(f"demo: started {child.name} (pid {child.process.pid})")

    def watch(self, poll: float = 0.5) -> str | None:
        """Until ``stopping`` is set: restart what may be restarted; return the name of a child
        that died and may not be (None when asked to stop)."""
        while not self.stopping.wait(poll):
            for child in list(self.children.values()):
                if child.running:
                    continue
                code = child.process.returncode
                if not child.restart or not self._may_restart(child):
                    self.say(f"demo: {child.name} stopped (exit code {code})")
                    return child.name
                self.say(f"demo: {child.name} stopped (exit code {code}); starting it again")
                self._spawn(child)
        return None

    def _may_restart(self, child: Child) -> bool:
        now = time.monotonic()
        child.restarts = [t for t in child.restarts if now - t < self.RESTART_WINDOW] + [now]
        return len(child.restarts) <= self.MAX_RESTARTS

    def stop(self, order: list[list[str]]) -> None:
        """Stop the children group by group: a group's members get SIGTERM together and the next
        group waits until they are gone (a second SIGTERM after ``grace``, SIGKILL after twice it)."""
        self.stopping.set()
        for group in order:
            members = [self.children[name] for name in group if name in self.children]
            for child in members:
                _signal(child, signal.SIGTERM)
            _wait_out(members)
            for child in members:
                self.say(f"demo: stopped {child.name}")


def _signal(child: Child, signum: int) -> None:
    if child.running:
        try:
            os.killpg(child.process.pid, signum)  # the child's whole session: gunicorn's workers too
        except ProcessLookupError:
            pass


def _wait_out(members: list[Child]) -> None:
    """Wait until every member has exited; a second SIGTERM after its grace, SIGKILL after twice."""
    started, sent = time.monotonic(), {child.name: 1 for child in members}
    while any(child.running for child in members):
        waited = time.monotonic() - started
        for child in members:
            if child.running and sent[child.name] == 1 and waited > child.grace:
                _signal(child, signal.SIGTERM)
                sent[child.name] = 2
            elif child.running and sent[child.name] == 2 and waited > 2 * child.grace:
                _signal(child, signal.SIGKILL)
                sent[child.name] = 3
        time.sleep(0.05)
