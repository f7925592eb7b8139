"""The demo launcher and the embedded stores, with real processes.

- The supervisor stops its children group by group, escalates on a child that ignores SIGTERM,
  restarts a child that may be restarted, and reports one that may not.
- ``python3 tools/demo.py --port P --emulator-port Q`` on free ports, with the embedded
  PostgreSQL and Valkey under a fresh instance folder: a manager signs in and links Outlook
  through the emulator on P's callbacks; SIGTERM, or SIGINT to a demo whose SIGINT was ignored
  (as for one started in the background), stops the web app, worker, clock and emulator before
  the stores, within 15 s, with no traceback and no process left.
- Commands that touch neither store start neither.
"""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.apps import services_of
from tests.support.browserless import MicrosoftBrowser
from tools.supervisor import Child, Supervisor

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is gone for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except OSError:
        return False


# --- the supervisor -------------------------------------------------------------------------------
def _recorder(log: Path, name: str, ignore_term: bool = False, exit_code: int | None = None) -> list[str]:
    """A child that writes 'NAME term' to LOG when it gets SIGTERM and exits a moment later."""
    script = f"""
import signal, sys, time
log = open({str(log)!r}, "a", buffering=1)
def on_term(*_):
    log.write({name!r} + " term " + repr(time.monotonic()) + "\\n")
    if not {ignore_term!r}:
        time.sleep(0.2)
        log.write({name!r} + " exit " + repr(time.monotonic()) + "\\n")
        sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
log.write({name!r} + " up\\n")
if {exit_code!r} is not None:
    sys.exit({exit_code!r})
while True:
    time.sleep(0.05)
"""
    return [PYTHON, "-c", script]


def _events(log: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in log.read_text().splitlines():
        parts = line.split()
        if len(parts) == 3:
            out.append((parts[0], parts[1], float(parts[2])))
    return out


def _wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_supervisor_stops_each_group_before_the_next(tmp_path):
    log, said = tmp_path / "log", []
    supervisor = Supervisor(tmp_path, say=said.append)
    for name in ("web", "worker", "clock", "emulator"):
        supervisor.start(Child(name, _recorder(log, name), dict(os.environ), grace=2))
    _wait_until(lambda: log.exists() and log.read_text().count(" up") == 4)

    supervisor.stop([["web", "worker", "clock"], ["emulator"]])

    events = _events(log)
    first_group_exits = [t for name, what, t in events if what == "exit" and name != "emulator"]
    emulator_term = next(t for name, what, t in events if name == "emulator" and what == "term")
    assert len(first_group_exits) == 3
    assert emulator_term > max(first_group_exits)  # the emulator outlives everything that calls it
    assert said[-4:] == ["demo: stopped web", "demo: stopped worker", "demo: stopped clock",
                         "demo: stopped emulator"]
    assert not any(child.running for child in supervisor.children.values())


def test_a_child_that_ignores_sigterm_gets_a_second_one_then_sigkill(tmp_path):
    log = tmp_path / "log"
    supervisor = Supervisor(tmp_path, say=lambda _line: None)
    child = supervisor.start(Child("worker", _recorder(log, "worker", ignore_term=True), dict(os.environ),
                                   grace=0.5))
    _wait_until(lambda: log.exists() and " up" in log.read_text())
    started = time.monotonic()

    supervisor.stop([["worker"]])

    assert [what for _, what, _ in _events(log)] == ["term", "term"]  # warm, then cold shutdown
    assert child.process.returncode == -signal.SIGKILL
    assert 1.0 <= time.monotonic() - started < 5


def test_the_supervisor_restarts_what_may_be_restarted_and_reports_the_rest(tmp_path):
    log, said = tmp_path / "log", []
    supervisor = Supervisor(tmp_path, say=said.append)
    supervisor.MAX_RESTARTS = 2
    supervisor.start(Child("worker", _recorder(log, "worker", exit_code=3), dict(os.environ), restart=True))

    died = supervisor.watch(poll=0.05)

    assert died == "worker"  # restarted twice within the window, then given up on
    assert log.read_text().count("worker up") == 3
    assert said.count("demo: worker stopped (exit code 3); starting it again") == 2


# --- the whole demo -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_instance(tmp_path_factory):
    return tmp_path_factory.mktemp("demo-instance")


def _demo_env(instance: Path) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "MS_AUTHORITY", "GRAPH_URL", "LISTENING_KEYS", "SECRET_KEY")}
    return env | {"LISTENING_INSTANCE": str(instance), "PYTHONUNBUFFERED": "1"}


def _start_demo(instance: Path, port: int, emulator_port: int, ignore_sigint: bool = False):
    def background():  # what a shell does to a command started with '&'
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    out = open(instance / f"demo-{port}.out", "w+")  # noqa: SIM115 - closed by the test
    proc = subprocess.Popen([PYTHON, str(ROOT / "tools" / "demo.py"), "--port", str(port),
                             "--emulator-port", str(emulator_port)], cwd=ROOT, env=_demo_env(instance),
                            stdout=out, stderr=subprocess.STDOUT, preexec_fn=background,
                            start_new_session=True)
    return proc, out


def _wait_for_banner(proc, out, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out.seek(0)
        text = out.read()
        if "Stop with Ctrl-C." in text:
            return text
        assert proc.poll() is None, f"the demo stopped while starting:\n{text[-3000:]}"
        time.sleep(0.25)
    raise AssertionError("the demo did not start within two minutes")


def _pids(text: str, instance: Path) -> list[int]:
    """Every process the demo started: its children, the embedded PostgreSQL and Valkey."""
    pids = [int(p) for p in re.findall(r"demo: started \w+ \(pid (\d+)\)", text)]
    postmaster = instance / "pgdata" / "postmaster.pid"
    if postmaster.exists():
        pids.append(int(postmaster.read_text().splitlines()[0]))
    valkey = instance / "valkey" / "valkey.pid"
    if valkey.exists():
        pids.append(int(valkey.read_text().strip()))
    return pids


def _sign_in_and_link(port: int, emulator_port: int, email: str) -> None:
    """A manager signs in and links Outlook on the demo's own port (its redirect URIs)."""
    base, emulator = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{emulator_port}"
    browser, app = MicrosoftBrowser(emulator), requests.Session()
    start = app.get(base + "/auth/sign-in", allow_redirects=False, timeout=10)
    back = browser.authorize(start.headers["Location"], email)
    signed_in = app.get(back, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302, signed_in.text[:500]
    page = app.get(base + "/one-on-ones", timeout=10).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    start = app.post(base + "/outlook/link", data={"csrf_token": token}, allow_redirects=False, timeout=10)
    back = browser.authorize(start.headers["Location"], email)
    linked = app.get(back, timeout=10)
    assert linked.status_code == 200 and "Outlook is linked" in linked.text, linked.text[:1000]


def _wait_for_subscription(port: int, emulator_port: int, email: str) -> None:
    """The demo runs with change notifications on, over loopback to its own port."""
    def made() -> list[dict]:
        subs = requests.get(f"http://127.0.0.1:{emulator_port}/_emulator/subscriptions", timeout=10).json()
        return [s for s in subs if s["mailbox"] == email]
    _wait_until(made, timeout=30)
    [sub] = made()
    assert sub["notificationUrl"] == f"http://127.0.0.1:{port}/graph/notifications"


def _kill_leftovers(text: str, instance: Path) -> None:
    for pid in _pids(text, instance):
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)  # each child leads its own session and group
            except (ProcessLookupError, PermissionError):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["sigterm", "sigint_in_background"])
def test_the_demo_runs_on_any_port_and_stops_cleanly(demo_instance, how):
    port, emulator_port = free_port(), free_port()
    proc, out = _start_demo(demo_instance, port, emulator_port, ignore_sigint=how != "sigterm")
    try:
        text = _wait_for_banner(proc, out)
        manager = re.search(r"Sign in as a manager:\s+(\S+)", text).group(1)
        assert "Fabrikam must approve Listening first: link as " in text  # the demo shows that step too
        if how == "sigterm":  # once is enough; the second run reuses the instance folder
            _sign_in_and_link(port, emulator_port, manager)
            _wait_for_subscription(port, emulator_port, manager)
        pids = _pids(text, demo_instance)
        assert len(pids) == 6  # emulator, web, worker, clock, PostgreSQL, Valkey
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        code = proc.wait(20)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        text = out.read()
        _kill_leftovers(text, demo_instance)  # a failed stop must not leave them to the next test
        out.close()
    assert code == 0, text[-3000:]
    assert took < 15
    logs = {path.name: path.read_text(errors="replace") for path in (demo_instance / "logs").glob("*.log")}
    assert {"worker.log", "clock.log", "emulator.log"} <= logs.keys()
    assert "Traceback" not in text and not [name for name, log in logs.items() if "Traceback" in log]
    # The terminal keeps the banner readable: the jobs' lines go to the worker's log.
    assert "rq.worker" not in text and "rq.worker" in logs["worker.log"]
    order = re.findall(r"demo: stopped (web|worker|clock|emulator|Valkey|PostgreSQL)\n", text)
    assert order == ["web", "worker", "clock", "emulator", "Valkey", "PostgreSQL"], text[-2000:]
    _wait_until(lambda: not any(_alive(pid) for pid in pids), timeout=5)
    if how != "sigterm":  # the first run loaded the directory; a restart keeps it as it is
        assert "loaded the emulator's directory" not in text


# --- the stores start on first use, not before ---------------------------------------------------
def _flask(args: list[str], instance: Path) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=_demo_env(instance),
                          capture_output=True, text=True, timeout=60)


def test_commands_that_touch_no_store_start_none(tmp_path, emu):
    token = emu.mint_token(emu.users()[0]["email"])["access_token"]
    for args in (["--help"], ["keys", "generate", "k2"],
                 ["graph-fetch", "--token", token, "--graph-url", emu.url + "/v1.0"]):
        done = _flask(args, tmp_path)
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / "pgdata").exists() and not (tmp_path / "valkey").exists(), args
    assert '"summary": true' in done.stdout


def test_an_app_opens_its_stores_on_first_use(tmp_path):
    from listening import create_app

    app = create_app({"instance_path": tmp_path, "secret_key": "x", "keys": "k1:" + "A" * 43 + "="})

    assert not services_of(app).db.opened and not services_of(app).jobs.opened
    assert not (tmp_path / "pgdata").exists() and not (tmp_path / "valkey").exists()
    assert services_of(app).jobs.url.startswith("redis://127.0.0.1:")  # started now, on first use
    assert (tmp_path / "valkey").exists()
