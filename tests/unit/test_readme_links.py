"""The README stands on its own: every link in it names a file of this repository that exists
(a person who clones the project has nothing beside it)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)")  # [text](target "title")


def test_every_readme_link_is_a_file_of_the_repository():
    text = (ROOT / "README.md").read_text()
    # Outside code, an address becomes a link by itself (bare, <autolink> or [reference]: …).
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", text, flags=re.S))
    bare = r"[a-z][a-z0-9+.-]*://\S+|\bwww\.\S+|^\s*\[[^\]]+\]:\s*\S+"
    assert re.findall(bare, prose, flags=re.M | re.I) == []
    targets = [t.split("#", 1)[0] for t in LINK.findall(text)]
    assert targets, "the README links its documents and screenshots"
    outside = [t for t in targets if "://" in t or t.startswith(("..", "/", "mailto:"))]
    assert outside == []
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert missing == []
