"""dev.py and the demo launcher, as a newcomer meets them: the demo's options are listed before
any virtual environment exists, and the banner says whom to sign in as."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_help_lists_the_options_without_making_an_environment(tmp_path):
    for name in ("dev.py", "tools"):
        (shutil.copytree if (ROOT / name).is_dir() else shutil.copy)(ROOT / name, tmp_path / name)
    done = subprocess.run([sys.executable, "dev.py", "demo", "--help"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--port" in done.stdout and "--emulator-port" in done.stdout and "--reset" in done.stdout
    assert not (tmp_path / ".venv").exists()


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
