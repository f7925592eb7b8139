"""Run the whole demo: emulator (demo seed), web app, worker and scheduler.

Started by ``python3 dev.py demo``. With DATABASE_URL / REDIS_URL unset it
starts the embedded PostgreSQL and Valkey under instance/; it applies the
migrations, loads the emulator's demo company into the directory, prints the
URL and whom to sign in as, and stops everything on Ctrl-C.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from listening import create_app, db, directory, embedded, store  # noqa: E402
from listening.audit import Action, record  # noqa: E402
from listening.cli import upgrade  # noqa: E402
from listening.config import from_env  # noqa: E402
from listening.filters.times import zone_named  # noqa: E402
from listening.models import Organization  # noqa: E402


def wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise SystemExit(f"demo: {url} did not answer within {seconds:.0f} s")


def role_of(user: dict) -> str:
    if "HR" in (user.get("jobTitle") or "").split():
        return "hr_admin"
    return "manager" if user.get("directReports") else "employee"


def time_zone_of(user: dict) -> str:
    """The emulator speaks Windows zone names, as Outlook does; the directory keeps IANA names."""
    zone = zone_named(user.get("timeZone"))  # the filter's reading: CLDR's table, unknown is UTC
    return zone.key if zone is not None else "UTC"


def directory_csv(users: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "name", "manager_email", "role", "aliases", "time_zone"])
    for user in users:
        writer.writerow([user["email"], user["name"], user.get("manager") or "", role_of(user),
                         ";".join(user.get("aliases") or []), time_zone_of(user)])
    return out.getvalue().encode()


def load_directory(app, users: list[dict]) -> None:
    """One organization per emulated tenant, its directory imported through the real import path."""
    tenants: dict[str, list[dict]] = {}
    for user in users:
        tenants.setdefault(user["tenant"], []).append(user)
    with db.unit_of_work(app) as sess:
        for tenant_id, members in tenants.items():
            org = store.organization_by_tenant(sess, tenant_id)
            if org is None:
                name = members[0]["email"].split("@")[1].split(".")[0].capitalize()
                org = Organization(tenant_id=tenant_id.lower(), name=name)
                sess.add(org)
                sess.flush()
            result = directory.apply_import(sess, org, directory.parse_csv(directory_csv(members)))
            record(sess, Action.directory_import, None, None, vars(result) | {"source": "demo"}, org_id=org.id)


def start(name: str, command: list[str], env: dict) -> subprocess.Popen:
    print(f"demo: starting {name}: {' '.join(command)}", flush=True)
    return subprocess.Popen(command, cwd=ROOT, env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=5000, help="web app port (default 5000)")
    parser.add_argument("--emulator-port", type=int, default=5100)
    args = parser.parse_args()

    emulator_url = f"http://127.0.0.1:{args.emulator_port}"
    os.environ.setdefault("MS_AUTHORITY", emulator_url)
    # Stopped at the end only if this demo starts it: one already running serves someone else.
    before = from_env()
    embedded_postgres = not before.database_url and \
        not (before.instance_path / "pgdata" / "postmaster.pid").exists()
    procs: list[subprocess.Popen] = []
    try:  # from the start: a failed migration must not leave the embedded PostgreSQL running
        app = create_app()
        upgrade(app)
        env = dict(os.environ, DATABASE_URL=app.config["DATABASE_URL"], REDIS_URL=app.config["REDIS_URL"],
                   LISTENING_INSTANCE=str(app.config["SETTINGS"].instance_path), PYTHONUNBUFFERED="1")
        bin_dir = Path(sys.executable).parent
        procs.append(start("emulator", [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port",
                                        str(args.emulator_port), "--seed", "demo", "--control"], env))
        wait_for(emulator_url + "/_emulator/users")
        users = requests.get(emulator_url + "/_emulator/users", timeout=10).json()
        load_directory(app, users)
        procs += [
            start("web", [str(bin_dir / "gunicorn"), "--bind", f"127.0.0.1:{args.port}", "--workers", "2",
                          "--threads", "4", "--access-logfile", "-", "wsgi:app"], env),
            # The same commands as the Procfile's worker and clock.
            start("worker", [str(bin_dir / "rq"), "worker", "--with-scheduler",
                             "--worker-class", "rq.SimpleWorker", "-c", "jobs.rq_settings"], env),
            start("clock", [str(bin_dir / "rq"), "cron", "-c", "jobs.rq_settings", "jobs.cron"], env),
        ]
        wait_for(f"http://localhost:{args.port}/healthz", 60)
        print_welcome(args.port, users)
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        print("demo: a process stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if embedded_postgres:
            # Started here, so stopped here; the next demo starts it again from instance/pgdata.
            embedded.stop_postgres(before.instance_path)


def print_welcome(port: int, users: list[dict]) -> None:
    # The manager with the most reports shows the most: candidates for most, a why-not for the rest.
    managers = sorted((u for u in users if role_of(u) == "manager"),
                      key=lambda u: (-len(u.get("directReports") or []), u["email"]))
    admins = [u for u in users if role_of(u) == "hr_admin"]
    print("\n" + "=" * 72)
    print(f"Listening demo is running at  http://localhost:{port}/")
    if managers:
        print(f"Sign in as a manager:   {managers[0]['email']}  (no password; pick it on the sign-in page)")
    if admins:
        print(f"Sign in as an HR admin: {admins[0]['email']}")
    print("Stop with Ctrl-C.")
    print("=" * 72 + "\n", flush=True)


if __name__ == "__main__":
    sys.exit(main())
