"""The README stands on its own: every link in it names a file of this repository that exists
(a person who clones the project has nothing beside it)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_every_readme_link_is_a_file_of_the_repository():
    text = (ROOT / "README.md").read_text()
    targets = [t.split("#", 1)[0] for t in LINK.findall(text)]
    assert targets, "the README links its documents and screenshots"
    outside = [t for t in targets if "://" in t or t.startswith(("..", "/", "mailto:"))]
    assert outside == []
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert missing == []
