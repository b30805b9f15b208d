"""profiles/vendors/: written from public documentation, judged on the simulator as their sources imply;
docs/matrix.md lists every shipped profile and is current.

One in-process matrix run of every shipped profile (about 6 s) feeds all the checks that need results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from conformance.cli._matrix import doc_rows, expand, matrix_rows
from conformance.report._matrix_doc import COMMAND, render_matrix_doc
from conformance.suite._claims import UNDOCUMENTED_PREFIX
from simulator._profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
VENDORS = sorted((ROOT / "profiles" / "vendors").glob("*.yaml"))
SHIPPED = sorted((ROOT / "profiles").rglob("*.yaml"))
DOC = ROOT / "docs" / "matrix.md"
HEADER = "THIS PROFILE DESCRIBES PUBLIC DOCUMENTATION, NOT A CERTIFIED OR TESTED PBX"
URL = re.compile(r"https?://\S+")


def _raw(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[Any]]:
    """Every shipped profile run on the simulator, as ``ro-conformance matrix`` does: (paths, rows)."""
    out = tmp_path_factory.mktemp("matrix")
    paths = expand([str(ROOT / "profiles")])      # what `ro-conformance matrix ... profiles/` runs
    assert paths == [str(p) for p in SHIPPED]
    return paths, matrix_rows(paths, "sim", out)


def test_there_are_at_least_six_vendor_profiles_and_they_validate() -> None:
    assert len(VENDORS) >= 6
    for path in VENDORS:
        profile = load_profile(path)
        assert profile.name == path.stem


@pytest.mark.parametrize("path", VENDORS, ids=lambda p: p.stem)
def test_header_says_documentation_not_certification(path: Path) -> None:
    head = path.read_text(encoding="utf-8").split("\nschema:", 1)[0]
    assert HEADER in head
    assert re.search(r"Verdict the sources imply: (COMPATIBLE|NOT COMPATIBLE|UNDETERMINED)", head)


def _capability_groups(text: str) -> dict[str, str]:
    """capabilities.<group> -> its lines, with the comment lines just above it."""
    block = text.split("\ncapabilities:\n", 1)[1].split("\n\n", 1)[0]
    groups: dict[str, str] = {}
    pending: list[str] = []
    current = None
    for line in block.splitlines():
        m = re.match(r"^  ([a-z_]+):", line)
        if line.startswith("  #") and (current is None or not line.startswith("    ")):
            pending.append(line)
            continue
        if m:
            current = m.group(1)
            groups[current] = "\n".join([*pending, line])
            pending = []
        elif current is not None:
            groups[current] += "\n" + line
    return groups


@pytest.mark.parametrize("path", VENDORS, ids=lambda p: p.stem)
def test_every_claim_cites_a_url_or_is_undocumented(path: Path) -> None:
    """A capability group either is undocumented throughout or carries the URL that backs it."""
    groups = _capability_groups(path.read_text(encoding="utf-8"))
    assert set(groups) >= {"forwarding", "origination", "transfer", "native_remote_office", "caller_id"}
    for name, text in groups.items():
        values = [v.strip() for v in re.findall(r":\s*([^#\n{\[]+?)\s*(?:,|}|$)", "\n".join(
            line for line in text.splitlines() if not line.lstrip().startswith("#")), re.MULTILINE)]
        values = [v for v in values if v]
        documented = [v for v in values if v != "undocumented"]
        if documented and name != "native_remote_office":
            assert URL.search(text), f"{path.name}: capabilities.{name} claims {documented} without a URL"
        if name == "native_remote_office" and documented != ["none"]:
            assert URL.search(text), f"{path.name}: a native Remote Office needs its source"


@pytest.mark.parametrize("path", VENDORS, ids=lambda p: p.stem)
def test_vendor_profile_gets_the_verdict_its_sources_imply(
        path: Path, matrix: tuple[list[str], list[Any]]) -> None:
    expect = _raw(path)["expect"]
    paths, rows = matrix
    row = rows[paths.index(str(path))]
    assert row.results is not None, row.problem
    ro = row.results["remote_office"]
    failed = sorted(t["id"] for t in row.results["tests"] if t["outcome"] == "fail")
    assert (ro["verdict"], ro["route"], failed) == (expect["verdict"], expect.get("route"),
                                                    sorted(expect.get("fails", [])))
    header = path.read_text(encoding="utf-8").split("\nschema:", 1)[0]
    said = {"compatible": "COMPATIBLE", "not-compatible": "NOT COMPATIBLE", "undetermined": "UNDETERMINED"}
    assert f"Verdict the sources imply: {said[expect['verdict']]}" in header


@pytest.mark.parametrize("path", VENDORS, ids=lambda p: p.stem)
def test_undocumented_claims_are_not_judged_not_offered(path: Path, matrix: tuple[list[str], list[Any]]) -> None:
    """Everything resting on an undocumented key is inconclusive with the 'not documented' reason, never
    not-applicable, pass or fail on the strength of the simulator's stand-in value."""
    paths, rows = matrix
    results: Mapping[str, Any] = rows[paths.index(str(path))].results
    undocumented = load_profile(path).undocumented
    for test in results["tests"]:
        reason = str(test["reason"])
        if reason.startswith(UNDOCUMENTED_PREFIX):
            assert test["outcome"] == "inconclusive"
            assert any(key in reason for key in undocumented), reason
        if test["outcome"] == "not-applicable":
            assert "undocumented" not in reason


def test_committed_matrix_is_current(matrix: tuple[list[str], list[Any]]) -> None:
    """docs/matrix.md is exactly what `COMMAND` makes now; regenerate it when this fails."""
    paths, rows = matrix
    fresh = render_matrix_doc(doc_rows(paths, rows), DOC)
    assert DOC.read_text(encoding="utf-8") == fresh, f"docs/matrix.md is stale; regenerate: {COMMAND}"


def test_matrix_lists_every_shipped_profile_vendors_first() -> None:
    table = [line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("| [")]
    names = [re.match(r"\| \[([^\]]+)\]", line).group(1) for line in table]  # type: ignore[union-attr]
    vendor_names = [load_profile(p).name for p in VENDORS]
    assert names[:len(VENDORS)] == sorted(vendor_names)
    assert sorted(names) == sorted(load_profile(p).name for p in SHIPPED)
    for mark in ("available", "planned", "not relevant", "not possible for technical reasons", "not tested",
                 "tested — failed", "not documented"):
        assert f"| {mark} |" in DOC.read_text(encoding="utf-8")
