"""What the demo runs: the stores, the migrations, the emulator's company, and the four processes.

Used by tools/demo.py once the virtual environment exists. The stores are started here
(not by the app, which would start them on first use) so that the launcher owns them and
stops them after everything that uses them.
"""
from __future__ import annotations

import csv
import io
import os
import shutil
import sys
import time
from pathlib import Path

import requests

from tools import procfile
from tools.supervisor import Child, Supervisor

CALLBACK_PATHS = ("/auth/callback", "/outlook/callback", "/outlook/adminconsent/callback")


class DemoError(RuntimeError):
    """The demo cannot start; the message says why in one line."""


class Stack:
    def __init__(self, root: Path, port: int, emulator_port: int):
        from listening.core.config import from_env

        self.root, self.port, self.emulator_port = root, port, emulator_port
        # Where people and the emulator's notifications reach the web app; links are built from
        # it, so the banner names the same host (a browser on localhost would hold another cookie).
        self.public_url = f"http://127.0.0.1:{port}"
        self.emulator_url = f"http://127.0.0.1:{emulator_port}"
        os.environ.setdefault("MS_AUTHORITY", self.emulator_url)
        self.settings = from_env()
        self.instance = self.settings.instance_path
        self.owned_stores: list[str] = []
        self.users: list[dict] = []
        self.tenants: list[dict] = []
        self.database_url = self.database_owner_url = self.redis_url = None

    # --- stores ------------------------------------------------------------------------------
    def reset(self) -> str | None:
        """Delete the embedded stores' data; a problem in words when that is not safe."""
        from listening.core import embedded

        if self.settings.database_url or self.settings.redis_url:
            return "--reset deletes only the embedded database and queue; unset DATABASE_URL and REDIS_URL"
        if embedded.postgres_running(self.instance) or embedded.valkey_running(self.instance):
            return "--reset: a demo of this folder is still running; stop it first"
        for name in ("pgdata", "valkey"):
            shutil.rmtree(self.instance / name, ignore_errors=True)
        (self.instance / "valkey.json").unlink(missing_ok=True)
        print("demo: --reset: the demo's database and queue were deleted; starting from nothing", flush=True)
        return None

    def _stores(self) -> None:
        from listening.core import embedded

        self.database_url = self.settings.database_url
        self.database_owner_url = self.settings.database_owner_url
        if not self.database_url:
            # Stopped at the end only if this demo starts it: one already running serves someone else.
            if not embedded.postgres_running(self.instance):
                self.owned_stores.append("PostgreSQL")
            self.database_owner_url, self.database_url = embedded.postgres_urls(self.instance, keep_running=True)
        self.redis_url = self.settings.redis_url
        if not self.redis_url:
            if not embedded.valkey_running(self.instance):
                self.owned_stores.append("Valkey")
            self.redis_url = embedded.valkey_url(self.instance, keep_running=True)

    def stop_stores(self) -> None:
        """The embedded stores this demo started, Valkey then PostgreSQL, after everything else."""
        from listening.core import embedded

        for name, stop in (("Valkey", embedded.stop_valkey), ("PostgreSQL", embedded.stop_postgres)):
            if name in self.owned_stores:
                try:
                    stop(self.instance)
                    print(f"demo: stopped {name}", flush=True)
                except Exception as err:  # noqa: BLE001 - the demo is ending; say what is left
                    print(f"demo: could not stop {name} ({err}); it may still be running", flush=True)

    # --- preparing ---------------------------------------------------------------------------
    def prepare(self) -> None:
        from dataclasses import replace

        from listening import services
        from listening.cli.schema import upgrade

        self._stores()
        self.services = services.build(replace(self.settings, database_url=self.database_url,
                                               redis_url=self.redis_url,
                                               database_owner_url=self.database_owner_url))
        upgrade(self.services)  # as the owner, then the runtime role's grants

    def env(self) -> dict:
        """The children's environment: they connect as the runtime role and never see the owner's URL.
        Change notifications run over loopback: the emulator posts them to the web app's own port
        (the worker needs the address too: it makes the subscriptions)."""
        env = dict(os.environ, DATABASE_URL=self.database_url, REDIS_URL=self.redis_url,
                   LISTENING_INSTANCE=str(self.instance), PYTHONUNBUFFERED="1",
                   PUBLIC_URL=os.environ.get("PUBLIC_URL") or self.public_url)
        env.pop("DATABASE_OWNER_URL", None)
        return env

    def redirect_uris(self) -> list[str]:
        """What the emulator must accept for the web app on this port, by either host name."""
        return [f"http://{host}:{self.port}{path}" for host in ("localhost", "127.0.0.1")
                for path in CALLBACK_PATHS]

    def start(self, supervisor: Supervisor) -> None:
        python, bin_dir, env = sys.executable, Path(sys.executable).parent, self.env()
        logs = self.instance / "logs"
        logs.mkdir(parents=True, exist_ok=True)

        def log(name: str):
            return open(logs / f"{name}.log", "ab")  # noqa: SIM115 - the child's, open while it runs
        emulator = [python, "-m", "emulator", "--host", "127.0.0.1", "--port", str(self.emulator_port),
                    "--seed", "demo", "--control"]
        for uri in self.redirect_uris():
            emulator += ["--redirect-uri", uri]
        supervisor.start(Child("emulator", emulator, env, grace=2, stdout=log("emulator")))
        _wait_for(self.emulator_url + "/_emulator/users", 30, supervisor)
        self.users = requests.get(self.emulator_url + "/_emulator/users", timeout=10).json()
        self.tenants = requests.get(self.emulator_url + "/_emulator/tenants", timeout=10).json()
        loaded = load_directory(self.services, self.users)
        if loaded:
            print(f"demo: loaded the emulator's directory into {', '.join(loaded)}", flush=True)
        supervisor.start(Child("web", [
            str(bin_dir / "gunicorn"), "-c", "python:listening.web.gunicorn_conf", "--bind", f"127.0.0.1:{self.port}", "--workers", "2", "--threads", "4",
            "--graceful-timeout", "4", "--access-logfile", str(logs / "web-access.log"),
            "--control-socket", str(self.instance / "gunicorn.ctl"), "wsgi:app"], env, grace=4))
        # The Procfile's worker and clock. A worker stops within a few seconds of SIGTERM even in
        # the middle of a sync (the sync gives way and is queued again: jobs/runtime.py).
        # Their logs go to files too: a line per job would push the banner off the screen.
        supervisor.start(Child("worker", procfile.command("worker", bin_dir), env, restart=True, grace=20,
                               stdout=log("worker")))
        supervisor.start(Child("clock", procfile.command("clock", bin_dir), env, restart=True, grace=3,
                               stdout=log("clock")))
        _wait_for(f"http://127.0.0.1:{self.port}/healthz", 60, supervisor)

    def welcome(self) -> None:
        managers = sorted((u for u in self.users if role_of(u) == "manager"),
                          key=lambda u: (-len(u.get("directReports") or []), u["email"]))
        admins = [u for u in self.users if role_of(u) == "hr_admin"]
        lines = ["", "=" * 72, f"Listening demo is running at  {os.environ.get('PUBLIC_URL') or self.public_url}/"]
        if managers:
            lines.append(f"Sign in as a manager:   {managers[0]['email']}  (no password; pick it on the sign-in page)")
        if admins:
            lines.append(f"Sign in as an HR admin: {admins[0]['email']}")
        lines += approval_lines(self.tenants, self.users)
        lines += [f"Logs of the web app, worker, clock and emulator: {self.instance / 'logs'}",
                  "Stop with Ctrl-C.", "=" * 72, ""]
        print("\n".join(lines), flush=True)


def _wait_for(url: str, seconds: float, supervisor: Supervisor) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        dead = [c.name for c in supervisor.children.values() if not c.running]
        if dead:
            raise DemoError(f"{dead[0]} stopped while the demo was starting")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise DemoError(f"{url} did not answer within {seconds:.0f} s")


# --- the emulator's company as a directory --------------------------------------------------------
def approval_lines(tenants: list[dict], users: list[dict]) -> list[str]:
    """Whom to sign in as to see an organization's approval step (a tenant of the emulator that
    requires admin consent): a manager there, and its HR admin, who sees who is waiting."""
    lines = []
    for tenant in (t for t in tenants if t.get("requiresAdminConsent")):
        people = [u for u in users if u.get("tenant") == tenant["id"]]
        managers = sorted((u["email"] for u in people if role_of(u) == "manager"))
        admins = sorted(u["email"] for u in people if role_of(u) == "hr_admin")
        if managers:
            lines.append(f"{tenant['name']} must approve Listening first: link as {managers[0]}"
                         + (f", see who waits as {admins[0]}" if admins else ""))
    return lines


def role_of(user: dict) -> str:
    if "HR" in (user.get("jobTitle") or "").split():
        return "hr_admin"
    return "manager" if user.get("directReports") else "employee"


def time_zone_of(user: dict) -> str:
    """The emulator speaks Windows zone names, as Outlook does; the directory keeps IANA names."""
    from listening.filters.times import zone_named

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


def load_directory(services, users: list[dict]) -> list[str]:
    """One organization per emulated tenant; its directory is imported (through the real import
    path) only while it has none, so a restarted demo keeps what the HR admin changed. Returns
    the names of the organizations loaded."""
    from sqlalchemy import func, select

    from listening.admin import directory
    from listening.audit import Action, record
    from listening.core import store
    from listening.core.models import Organization, Person

    tenants: dict[str, list[dict]] = {}
    for user in users:
        tenants.setdefault(user["tenant"], []).append(user)
    loaded = []
    with services.db.unit_of_work() as sess:
        for tenant_id, members in tenants.items():
            org = store.organization_by_tenant(sess, tenant_id)
            if org is None:
                name = members[0]["email"].split("@")[1].split(".")[0].capitalize()
                org = Organization(tenant_id=tenant_id.lower(), name=name)
                sess.add(org)
                sess.flush()
            elif sess.scalar(select(func.count()).select_from(Person).where(Person.org_id == org.id)):
                continue
            result = directory.apply_import(sess, org, directory.parse_csv(directory_csv(members)))
            record(sess, Action.directory_import, None, None, vars(result) | {"source": "demo"}, org_id=org.id)
            loaded.append(org.name)
    return loaded
