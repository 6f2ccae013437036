"""The results that the docs quote ship with their predictions: `raygan report --results` on the
committed results folder, with no MLflow store, data or training, writes every table that
docs/results.md quotes and every verdict line of the README's headline."""

import re
from pathlib import Path

import pytest

from raygan.cli import main

ROOT = Path(__file__).resolve().parents[1]
QUOTED = re.compile(r"<!-- quoted from (results/[\w.-]+): (?:summary|report)\.md -->\n(.*?)"
                    r"<!-- end of quote -->", re.S)


def _tables(text: str) -> list[str]:
    """The markdown tables of a text: runs of lines that start with '|'."""
    return [m.group(0).strip() for m in re.finditer(r"(?:^\|.*\n?)+", text, re.M)]


def _quotes() -> list[tuple[str, str]]:
    docs = [ROOT / "README.md", ROOT / "docs" / "results.md"]
    return [(m.group(1), m.group(2)) for doc in docs for m in QUOTED.finditer(doc.read_text())]


def test_the_docs_quote_results_folders():
    quotes = _quotes()
    assert quotes, "docs/results.md quotes no results folder"
    for folder, _ in quotes:
        assert (ROOT / folder / "sets.json").is_file(), f"{folder} is not committed"


@pytest.mark.parametrize("folder", sorted({f for f, _ in _quotes()}))
def test_the_report_of_a_committed_results_folder_writes_what_the_docs_quote(folder, tmp_path):
    assert main(["report", "--results", str(ROOT / folder), "--output", str(tmp_path)]) == 0
    summary = next(tmp_path.glob("*/report/summary.md")).read_text()
    report = next(tmp_path.glob("*/report/report.md")).read_text()
    for quoted_folder, text in _quotes():
        if quoted_folder != folder:
            continue
        for table in _tables(text):
            assert table in summary or table in report, (
                f"a table quoted from {folder} differs:\n{table[:300]}")
        for line in re.findall(r"^Verdicts: .*$", text, re.M):
            assert line in summary, line
        for line in re.findall(r"^- (N=\d+: .*)$", text, re.M):
            assert line in report, line[:200]
