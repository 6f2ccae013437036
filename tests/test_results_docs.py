"""The results that the docs quote ship with their predictions: `raygan report --results` on the
committed results folder, with no MLflow store, data or training, writes every table that
docs/results.md quotes and every verdict line of the README's headline."""

import re
from pathlib import Path

import pytest

from raygan.cli import main

ROOT = Path(__file__).resolve().parents[1]
# <!-- quoted from results/A: report.md --> ... <!-- end of quote -->; a quote of the section
# that sets another sweep's verdicts beside A's names it: "report.md, --compare results/B".
QUOTED = re.compile(r"<!-- quoted from (results/[\w.-]+): (?:summary|report)\.md"
                    r"(?:, --compare (results/[\w.-]+))? -->\n(.*?)<!-- end of quote -->", re.S)


def _tables(text: str) -> list[str]:
    """The markdown tables of a text: runs of lines that start with '|'."""
    return [m.group(0).strip() for m in re.finditer(r"(?:^\|.*\n?)+", text, re.M)]


def _quotes() -> list[tuple[tuple[str, str | None], str]]:
    """((quoted folder, the folder it is compared with or None), the quoted text) of each quote."""
    docs = [ROOT / "README.md", ROOT / "docs" / "results.md"]
    return [((m.group(1), m.group(2)), m.group(3)) for doc in docs
            for m in QUOTED.finditer(doc.read_text())]


def test_the_docs_quote_results_folders():
    quotes = _quotes()
    assert quotes, "docs/results.md quotes no results folder"
    for key, _ in quotes:
        for folder in filter(None, key):
            assert (ROOT / folder / "sets.json").is_file(), f"{folder} is not committed"


@pytest.mark.parametrize("key", sorted({k for k, _ in _quotes()}, key=str), ids=str)
def test_the_report_of_a_committed_results_folder_writes_what_the_docs_quote(key, tmp_path):
    folder, compare = key
    args = ["report", "--results", str(ROOT / folder), "--output", str(tmp_path)]
    assert main(args + (["--compare", str(ROOT / compare)] if compare else [])) == 0
    summary = next(tmp_path.glob("*/report/summary.md")).read_text()
    report = next(tmp_path.glob("*/report/report.md")).read_text()
    for quoted, text in _quotes():
        if quoted != key:
            continue
        for table in _tables(text):
            assert table in summary or table in report, (
                f"a table quoted from {folder} differs:\n{table[:300]}")
        for line in re.findall(r"^Verdicts: .*$", text, re.M):
            assert line in summary, line
        for line in re.findall(r"^- (N=\d+: .*)$", text, re.M):
            assert line in report, line[:200]
