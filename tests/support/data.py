"""Where the test data kept in this repository lives (tests/data, see its READMEs)."""
from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
GRAPH_SAMPLES = DATA / "graph-samples"  # Microsoft's sample payloads and the event schema
FILTER_EXAMPLES = DATA / "filter-examples"  # one scenario per rule of docs/filter-rules.md
