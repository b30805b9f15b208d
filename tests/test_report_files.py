"""results.json round trip and checks, exit status read back from it, the matrix in HTML and Markdown."""

from __future__ import annotations

import html
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from report_fixtures import EVIL, all_pass, evil_records, run_results

from conformance.report._files import (
    RESULTS_FORMAT,
    MatrixRow,
    ResultsFileError,
    outcomes_from_jsonable,
    read_results,
    render_matrix_html,
    render_matrix_md,
    safe_dirname,
    status_of,
    write_results,
)


def test_write_then_read_round_trips_every_test_field(tmp_path: Path) -> None:
    tests = all_pass({"RO-CONS-01": ("fail", EVIL)})
    tests[0].records = evil_records()
    tests[0].failed_seq = 4
    written = write_results(run_results(tests), tmp_path / "sub" / "results.json")
    data = read_results(tmp_path / "sub" / "results.json")
    assert data == json.loads(json.dumps(written))
    assert data["format"] == RESULTS_FORMAT
    back = {t.id: t for t in outcomes_from_jsonable(data["tests"])}
    assert back == {t.id: t for t in tests}
    assert not list((tmp_path / "sub").glob("*.tmp"))


@pytest.mark.parametrize(("tests", "status"), [
    (all_pass(), 0),
    (all_pass({"RO-BLIND-01": ("not-applicable", ""), "RO-CONS-01": ("not-applicable", "")}), 1),
    (all_pass({"RO-FWD-02": ("fail", "empty list")}), 2),
    (all_pass({"RO-TRUNK-01": ("inconclusive", "nobody answered")}), 3),
    (all_pass({"RO-CAPS-01": ("error", "backend died")}), 3),
    ([], 3),   # nothing ran: nothing proven, never "compatible"
])
def test_status_is_recomputed_from_the_tests(tests: list[object], status: int, tmp_path: Path) -> None:
    data = write_results(run_results(tests), tmp_path / "r.json")  # type: ignore[arg-type]
    data["exit_status"] = 0   # a stale or forged key does not decide the status
    assert status_of(data) == status


def test_read_results_rejects_missing_garbage_and_foreign_formats(tmp_path: Path) -> None:
    with pytest.raises(ResultsFileError, match="no results were written"):
        read_results(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultsFileError, match="unreadable"):
        read_results(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"format": "something/2", "tests": []}))
    with pytest.raises(ResultsFileError, match="something/2"):
        read_results(tmp_path / "other.json")
    (tmp_path / "partial.json").write_text(json.dumps({"format": RESULTS_FORMAT}))
    with pytest.raises(ResultsFileError, match="missing"):
        read_results(tmp_path / "partial.json")


def test_safe_dirname() -> None:
    assert safe_dirname("reference") == "reference"
    assert safe_dirname("../../etc/passwd") == "etc-passwd"
    assert safe_dirname("a b/c") == "a-b-c"
    assert safe_dirname("..") == "profile"


def matrix_rows() -> list[MatrixRow]:
    good = run_results(all_pass()).to_jsonable()
    bad = run_results(all_pass({"RO-FWD-02": ("fail", "x")}), name=EVIL).to_jsonable()
    return [MatrixRow("reference", "reference", 0, good),
            MatrixRow(EVIL, "evil", 2, bad),
            MatrixRow("broken", "broken", 4, None, f"invalid profile {EVIL}")]


def test_matrix_html_rows_cells_links_and_escaping() -> None:
    page = render_matrix_html(matrix_rows())
    assert "<script" not in page and "<img" not in page
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    head = [th.text for th in root.iter("thead").__next__().iter("th")]
    assert head == ["profile", "native", "fwd_set", "fwd_clear", "fwd_query", "auto_dial", "blind",
                    "consult_in_ringing", "trunks", "verdict", "route", "exit"]
    rows = list(root.iter("tbody").__next__())
    ref, evil, broken = rows
    ref_cells = ["".join(td.itertext()) for td in ref.findall("td")]
    assert ref_cells == ["○", "✔", "✔", "✔", "✔", "✔", "✔", "✔", "compatible", "blind", "0"]
    assert ref.findall("td")[0].get("class") == "no"       # native: declared unsupported, not a fail
    assert ref.find("th/a").get("href") == "reference/report.html"  # type: ignore[union-attr]
    evil_cells = evil.findall("td")
    assert "".join(evil.find("th").itertext()) == EVIL  # type: ignore[union-attr]
    assert evil_cells[3].get("class") == "fail" and "RO-FWD-02" in (evil_cells[3].get("title") or "")
    assert "".join(evil_cells[8].itertext()) == "not-compatible"   # native n/a, fwd_query failed
    assert "".join(broken.findall("td")[-1].itertext()) == "4"
    assert broken.find(".//a") is None   # no report was written for it: nothing to link to
    assert EVIL in "".join(broken.find("th").itertext())  # type: ignore[union-attr]


def test_matrix_markdown_is_a_table_and_cannot_inject() -> None:
    md = render_matrix_md(matrix_rows())
    lines = [line for line in md.splitlines() if line.startswith("|")]
    assert len(lines) == 2 + 3
    assert all(line.count(" | ") == lines[0].count(" | ") for line in lines[2:])  # pipes were escaped
    assert lines[2].startswith("| [reference](reference/report.html) | ○ | ✔")
    assert lines[2].endswith("| compatible | blind | 0 |")
    assert "<script>" not in md and "&lt;script&gt;" in md
    assert lines[4] == "| broken | — | — | — | — | — | — | — | — | error | — | 4 |"
    assert md.endswith("\n")
    assert "- broken: invalid profile &lt;script&gt;" in md



def test_matrix_cells_open_the_clause_evidence_with_distinct_marks_and_one_legend() -> None:
    good = run_results(all_pass()).to_jsonable()
    mixed = run_results(all_pass({"RO-FWD-02": ("fail", "x"), "RO-TRUNK-01": ("error", "link died")})).to_jsonable()
    page = render_matrix_html([MatrixRow("reference", "reference", 0, good), MatrixRow("mixed", "m", 2, mixed)])
    root = ET.fromstring(page.removeprefix("<!DOCTYPE html>\n"))
    ref, mix = list(root.iter("tbody").__next__())
    links = [td.find("a").get("href") for td in ref.findall("td")[:8]]  # type: ignore[union-attr]
    assert links[0] == "reference/report.html#ev-RO-NATIVE-01"
    assert links[3] == "reference/report.html#ev-RO-FWD-02"
    assert all(link.startswith("reference/report.html#ev-RO-") for link in links)   # type: ignore[union-attr]
    marks = {td.get("class"): "".join(td.itertext()) for td in mix.findall("td")[:8]}
    assert marks == {"no": "○", "pass": "✔", "fail": "✘", "open": "?"}   # not offered / holds / failed / not judged
    assert mix.findall("td")[3].find("a").get("href") == "m/report.html#ev-RO-FWD-02"  # type: ignore[union-attr]
    from conformance.report._cells import LEGEND

    assert page.count('class="legend"') == 1      # one legend, naming every mark
    legend = page[page.index('class="legend"'):]
    legend = legend[:legend.index("</p>")]
    for state in ("available", "failed", "not-possible", "not-tested"):   # holds / failed / not offered / not judged
        symbol, label, _ = LEGEND[state]
        assert html.escape(f"{symbol} {label}") in legend, (state, legend)
