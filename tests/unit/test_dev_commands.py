"""dev.py, the two commands of the README: the demo's options are listed before any virtual
environment exists (a newcomer reads them first)."""
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
