"""The benchmark scripts still run (tiny sizes): they are not part of CI otherwise, and a change
elsewhere (the session's fields, say) can break one silently. No timing is asserted here."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("script, args, says", [
    ("page_bench.py", ["--events", "300", "--samples", "3"], "GET /one-on-ones through the Flask app"),
    ("audit_bench.py", ["--entries", "2000", "--samples", "10", "--page-samples", "3", "--skip-verify"],
     "status codes: 200 x3"),
    ("filter_bench.py", ["--events", "200", "--runs", "1"], "judge()"),
    ("emulator_bench.py", ["--events", "500", "--runs", "1"], "events"),
    ("directory_bench.py", ["--rows", "2000", "--runs", "1"], "whole check"),
])
def test_a_benchmark_script_runs_to_its_figures(script, args, says):
    done = subprocess.run([sys.executable, str(ROOT / "bench" / script), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert says in done.stdout
    assert "WARNING" not in done.stdout


def test_the_sync_benchmark_runs_to_its_figures(database_admin_url, redis_url):
    """The sync benchmark at its smallest (~30 s), on the suite's PostgreSQL and Redis: the script
    must keep running to its figures as the sync changes."""
    base, sep, query = database_admin_url.partition("?")
    env = os.environ | {"BENCH_DATABASE_ADMIN_URL": base.rsplit("/", 1)[0] + "/postgres" + sep + query,
                        "REDIS_URL": redis_url}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "sync_bench.py"), "--quick", "--sdk-events", "100",
                           "--rounds", "1"], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unchanged re-sync rows written (row versions): 0" in done.stdout
    assert "(this process / emulator / PostgreSQL)" in done.stdout
    assert done.stdout.count("20/20 synced ok") == 2  # the 1- and 2-worker rounds
    assert "WARNING" not in done.stdout


def test_the_api_benchmark_runs_to_its_figures(database_admin_url, redis_url):
    """bench/api_bench.py at its smallest, on the suite's PostgreSQL and Redis (it starts a worker)."""
    base, sep, query = database_admin_url.partition("?")
    env = os.environ | {"BENCH_DATABASE_ADMIN_URL": base.rsplit("/", 1)[0] + "/postgres" + sep + query,
                        "REDIS_URL": redis_url}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "api_bench.py"), "--pairs", "100", "--samples", "3",
                           "--events", "2", "--ended", "5", "--slow-ms", "50"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "distinct webhook-ids 5, marked delivered 5, signatures verified 5" in done.stdout
    assert "all 2 signatures verified: True" in done.stdout


def test_the_notification_benchmark_runs_to_its_figures(database_admin_url, redis_url):
    """All three parts at their smallest, with the real processes (gunicorn, RQ, the emulator)."""
    base, sep, query = database_admin_url.partition("?")
    env = os.environ | {"BENCH_DATABASE_ADMIN_URL": base.rsplit("/", 1)[0] + "/postgres" + sep + query,
                        "REDIS_URL": redis_url}
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "notify_bench.py"), "--changes", "2",
                           "--mailboxes", "4", "--hours", "1", "--notifications", "20", "--seconds", "2"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "p50" in done.stdout and "Graph requests per unchanged mailbox per day" in done.stdout
    assert "syncs per changed mailbox: {1: 4}" in done.stdout
