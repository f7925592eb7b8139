"""The Procfile's commands, for the demo launcher and the tests that run the real processes.
Standard library only."""
from __future__ import annotations

import shlex
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"


def commands(path: Path = PROCFILE) -> dict[str, list[str]]:
    """Process name -> argv, as the Procfile declares them."""
    found = {}
    for line in path.read_text().splitlines():
        name, sep, command = line.partition(":")
        if sep and name.strip() and not name.lstrip().startswith("#"):
            found[name.strip()] = shlex.split(command)
    return found


def command(name: str, bin_dir: Path | None = None, **options: str) -> list[str]:
    """One process's argv; its program taken from ``bin_dir`` (a virtual environment's bin), and
    each ``--option value`` of the Procfile replaced by ``options`` (``maintenance_interval="1"``)."""
    argv = list(commands()[name])
    if bin_dir is not None:
        argv[0] = str(Path(bin_dir) / argv[0])
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv[1:1] = [flag, value]
    return argv
