#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing installed but Python 3.

    python3 dev.py demo   # the whole demo: emulator, web app, worker, scheduler
    python3 dev.py test   # the whole test suite

Each makes (once) and reuses its own virtual environment: .venv for the demo,
.venv-test for the tests. Standard library only, so it runs before anything
is installed.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENVS = {"demo": (".venv", "requirements.txt"), "test": (".venv-test", "requirements-dev.txt")}


def ensure_env(kind: str) -> Path:
    """Create the virtual environment and install the pinned requirements when they changed."""
    folder, requirements = ENVS[kind]
    env = ROOT / folder
    python = env / "bin" / "python"
    if not python.exists():
        print(f"creating {folder} ...", flush=True)
        venv.create(env, with_pip=True)
    wanted = _requirements_digest(ROOT / requirements)
    stamp = env / ".requirements-digest"
    if not stamp.exists() or stamp.read_text() != wanted:
        print(f"installing {requirements} into {folder} (first run takes a minute) ...", flush=True)
        pip = [str(python), "-m", "pip", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["install", "-r", str(ROOT / requirements)], check=True, cwd=ROOT)
        stamp.write_text(wanted)
    return python


def _requirements_digest(path: Path) -> str:
    digest = hashlib.sha256()
    for line in path.read_text().splitlines():
        digest.update(line.encode())
        if line.startswith("-r "):
            digest.update(_requirements_digest(path.parent / line[3:].strip()).encode())
    return digest.hexdigest()


USAGE = """usage: python3 dev.py demo [--port P] [--emulator-port Q] [--reset]   run the whole demo
       python3 dev.py test [pytest arguments]                          run the whole test suite
       python3 dev.py demo --help                                      the demo's options"""


def main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"]):
        print(USAGE)
        return 0
    if not argv or argv[0] not in ENVS:
        print("python3 dev.py: say demo or test (python3 dev.py --help says more)", file=sys.stderr)
        return 2
    kind, rest = argv[0], argv[1:]
    if kind == "demo":
        # The demo's options are read by the standard library alone, so its help and a mistaken
        # option show at once, before any environment is made.
        sys.path.insert(0, str(ROOT))
        from tools.demo import parse_args

        parse_args(rest)  # --help exits 0; a bad option exits 2 with one line
        command = [str(ensure_env(kind)), str(ROOT / "tools" / "demo.py"), *rest]
    else:
        command = [str(ensure_env(kind)), "-m", "pytest", *rest]
    os.chdir(ROOT)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
