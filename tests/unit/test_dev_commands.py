"""dev.py and the demo launcher, as a newcomer meets them: the demo's options, and a mistake in
them, are told before any virtual environment exists, and the banner says whom to sign in as."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _dev(tmp_path, *args) -> subprocess.CompletedProcess:
    """dev.py run in a copy of the project that has no virtual environment."""
    for name in ("dev.py", "tools"):
        if not (tmp_path / name).exists():
            (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    return subprocess.run([sys.executable, "dev.py", *args], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)


def test_demo_help_lists_the_options_without_making_an_environment(tmp_path):
    done = _dev(tmp_path, "demo", "--help")
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout and "--emulator-port" in done.stdout and "--reset" in done.stdout
    assert not (tmp_path / ".venv").exists()


def test_a_mistaken_demo_option_is_told_at_once_in_one_line(tmp_path):
    for args, says in ((["--port", "5000", "--emulator-port", "5000"], "must differ"),
                       (["--prot", "1"], "unrecognized arguments: --prot 1"),
                       (["--port", "70000"], "must be a port number")):
        done = _dev(tmp_path, "demo", *args)
        assert done.returncode == 2 and done.stdout == ""
        assert done.stderr.count("\n") == 1 and says in done.stderr, done.stderr
    assert not (tmp_path / ".venv").exists()


def test_dev_py_says_what_it_runs(tmp_path):
    helped = _dev(tmp_path, "--help")
    assert helped.returncode == 0 and "dev.py demo" in helped.stdout and "dev.py test" in helped.stdout
    for args in ([], ["tests"]):
        done = _dev(tmp_path, *args)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "demo or test" in done.stderr
    assert not (tmp_path / ".venv").exists() and not (tmp_path / ".venv-test").exists()


def test_the_demo_banner_names_whom_to_try_the_approval_step_with():
    from tools.demo_stack import approval_lines

    tenants = [{"id": "t1", "name": "Contoso", "requiresAdminConsent": False},
               {"id": "t2", "name": "Fabrikam", "requiresAdminConsent": True}]
    users = [{"email": "boss@contoso.com", "tenant": "t1", "directReports": ["a@contoso.com"]},
             {"email": "lead@fabrikam.com", "tenant": "t2", "directReports": ["b@fabrikam.com"]},
             {"email": "hr@fabrikam.com", "tenant": "t2", "jobTitle": "HR Coordinator"},
             {"email": "b@fabrikam.com", "tenant": "t2"}]
    assert approval_lines(tenants, users) == [
        "Fabrikam must approve Listening first: link as lead@fabrikam.com, see who waits as hr@fabrikam.com"]
    assert approval_lines(tenants[:1], users) == []
