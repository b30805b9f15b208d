"""A profile's ``expect.fails`` names real requirement ids; the matrix's exit status never hides a fail."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conformance.cli._matrix import most_severe
from conformance.report._results import (
    EXIT_COMPATIBLE,
    EXIT_ERRORS,
    EXIT_NOT_COMPATIBLE,
    EXIT_NOT_HONOURED,
    EXIT_PARTIAL,
    EXIT_USAGE,
    REQUIREMENT_CLAUSES,
)
from simulator._errors import ProfileError
from simulator._profile import load_profile

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "simulator" / "profile.schema.json"


def test_the_schema_knows_exactly_the_suite_s_requirement_ids() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    ids = schema["properties"]["expect"]["properties"]["fails"]["items"]["enum"]
    assert sorted(ids) == sorted(REQUIREMENT_CLAUSES)


def test_a_typo_in_expect_fails_is_a_validate_error_naming_the_key(tmp_path: Path) -> None:
    text = (ROOT / "profiles" / "reference.yaml").read_text(encoding="utf-8")
    assert "fails: []" in text
    broken = tmp_path / "typo.yaml"
    broken.write_text(text.replace("fails: []", "fails: [RO-BLND-01]"), encoding="utf-8")
    with pytest.raises(ProfileError) as caught:
        load_profile(broken)
    message = str(caught.value)
    assert "typo.yaml:" in message and "expect.fails" in message, message


@pytest.mark.parametrize(("statuses", "worst"), [
    ((EXIT_COMPATIBLE, EXIT_NOT_COMPATIBLE), EXIT_NOT_COMPATIBLE),
    ((EXIT_ERRORS, EXIT_NOT_HONOURED, EXIT_COMPATIBLE), EXIT_NOT_HONOURED),   # a fail outweighs an inconclusive
    ((EXIT_NOT_HONOURED, EXIT_USAGE), EXIT_USAGE),                            # a broken profile outweighs all
    ((EXIT_PARTIAL, EXIT_ERRORS), EXIT_ERRORS),
    ((EXIT_PARTIAL, EXIT_NOT_COMPATIBLE), EXIT_PARTIAL),
])
def test_the_matrix_exits_with_its_most_severe_status(statuses: tuple[int, ...], worst: int) -> None:
    assert most_severe(statuses) == worst
