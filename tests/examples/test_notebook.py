"""examples/notebook.ipynb runs top to bottom, and shows the report as a table."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_notebook_executes(tmp_path):
    shutil.copytree(ROOT / "examples", tmp_path / "examples", ignore=shutil.ignore_patterns("out", "build"))
    nb = nbformat.read(ROOT / "examples" / "notebook.ipynb", as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    report_html = nb.cells[1].outputs[0]["data"]["text/html"]
    assert "<h4>pipeline quickstart</h4>" in report_html
    assert "<th>validator</th><th>rule</th>" in report_html
    printed = "".join(o.get("text", "") for o in nb.cells[4].outputs)
    assert printed.splitlines() == [
        "accepted",
        "rejected (values): val 7 is out of range -1..4 (-1 a request, 0..4 a rating)",
        'rejected (hours): at "2024-10-21T19:00:00+01:00" is 19:00:00 in Europe/London, outside opening hours '
        "08:45:00..18:15:00",
        'rejected (types): site "03" is not a canonical decimal integer such as "3" (ASCII digits only: no sign, '
        "space, leading zero or prefix)",
    ]
    assert (tmp_path / "out" / "quickstart" / "rating.csv").exists()
