"""Every broken profile gives one ProfileError naming the file, the line and the key path."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from simulator._errors import ProfileError, ProfileProblem
from simulator._profile import MAX_BYTES, load_profile, load_profile_text

BROKEN = Path(__file__).parent / "profiles_broken"

# file stem -> (line, key path, fragment of the message); "" is the whole document
CASES: dict[str, tuple[int, str, str]] = {
    "syntax-error": (4, "", "YAML syntax"),
    "unclosed-flow": (14, "", "expected ',' or '}'"),
    "multi-document": (12, "", "single document"),
    "not-a-mapping": (1, "", "must be a mapping"),
    "empty": (1, "", "file is empty"),
    "non-utf8": (4, "", "not UTF-8: byte 0xFC"),
    "control-char": (4, "", "U+0007"),
    "python-tag": (4, "pbx.vendor", "python/object/apply:os.system"),
    "custom-tag": (4, "pbx.source", "'!include'"),
    "recursive-alias": (12, "externals[0]", "recursive"),
    "missing-schema": (1, "schema", "missing"),
    "schema-2": (1, "schema", "unsupported format version 2"),
    "schema-string": (1, "schema", "unsupported format version '1'"),
    "duplicate-key": (9, "pixit.desk", "duplicate key 'desk'"),
    "duplicate-section": (12, "pbx", "duplicate key 'pbx'"),
    "unknown-top-key": (12, "colour", "unknown key"),
    "unknown-key-pbx": (4, "pbx.modle", "unknown key; allowed here: name, vendor"),
    "unknown-key-station": (7, "stations[0].mobile", "unknown key"),
    "unknown-key-transfer": (15, "capabilities.transfer.consultative", "allowed here: blind, consultation"),
    "unknown-key-fault": (16, "simulation.faults[0].eror", "unknown key"),
    "unknown-party-role": (14, "pixit.party_lines.boss", "unknown key"),
    "default-external-number": (13, "default_external.number", "unknown key"),
    "missing-pixit": (1, "pixit", "required key is missing"),
    "missing-pixit-caller": (7, "pixit.caller", "required key is missing"),
    "trunks-not-int": (13, "trunks.channels", "'two' is not of type 'integer'"),
    "zero-trunks": (13, "trunks.channels", "less than the minimum of 1"),
    "number-unquoted": (10, "pixit.target", "quote numbers"),
    "bool-for-string": (4, "pbx.vendor", "True is not of type 'string'"),
    "bad-slug": (3, "pbx.name", "does not match"),
    "business-number-not-e164": (6, "stations[0].business_number", "does not match"),
    "bad-behaviour": (14, "externals[0].behaviour", "'hangup' is not one of"),
    "bad-origination": (13, "capabilities.origination", "'manual' is not one of"),
    "forwarding-wrong-type": (13, "capabilities.forwarding", "not of type 'object', 'null'"),
    "complete-in-ringing": (15, "capabilities.transfer.complete_in[1]", "'ringing' is not one of"),
    "consult-ringing-without-consultation": (16, "capabilities.transfer.complete_in", "consultation: true"),
    "native-no-ext-version": (13, "capabilities.native_remote_office.ext_version", "ext_version > 0"),
    "native-empty-activate": (16, "capabilities.native_remote_office.activate", "non-empty activate"),
    "duplicate-extension": (7, "stations[1].extension", "already used by stations[0].extension"),
    "duplicate-external-number": (14, "externals[1].number", "already used by externals[0].number"),
    "external-is-extension": (13, "externals[0].number", "already used by stations[0].extension"),
    "desk-not-station": (8, "pixit.desk", "'209' is not a station extension"),
    "remote-office-is-station": (9, "pixit.remote_office", "must be an external number"),
    "unknown-lineerr": (16, "simulation.faults[0].error", "unknown 'LINEERR_NOPE'; valid: LINEERR_ALLOCATED"),
    "unknown-callfeature": (15, "simulation.faults[0].features[1]", "'LINECALLFEATURE_TELEPORT'; valid:"),
    "unknown-forward-mode": (14, "capabilities.forwarding.modes[1]", "'SOMETIMES'; valid: UNCOND"),
    "fault-kind-unknown": (14, "simulation.faults[0].kind", "'explode' is not one of"),
    "fault-missing-error": (14, "simulation.faults[0].error", "needed by kind 'reply_error'"),
    "fault-no-handle-function": (15, "simulation.faults[0].function",
                                 "lineDial hands out no new call handle in a LINE_REPLY; valid: lineMakeCall, "
                                 "lineSetupTransfer"),
    "fault-lingers-call-blind": (16, "simulation.faults[0].call", "call goes with route: consult"),
    "negative-timing": (14, "simulation.timing.ring_period", "less than the minimum of 0"),
    "api-version-unknown": (13, "simulation.api_version", "0x00020005 is not a TAPI version"),
    "trunk-exhaustion-unknown": (13, "simulation.trunk_exhaustion",
                                 "'refuse' is not one of ['reply_error', 'busy', 'disconnected', 'refused']"),
}
# fixtures whose one mistake has a second, honest consequence (the last duplicate wins: desk 202)
EXTRA_PROBLEMS = {"duplicate-key": 1}


def _problems(path: Path) -> tuple[ProfileProblem, ...]:
    """The problems of ``path``; the fixtures are minimal files that state no claims, so the 'missing
    claim' problems that would follow are left out here (tests/test_profile_claims.py checks them)."""
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    return tuple(p for p in info.value.problems if not p.message.startswith("missing claim"))


def test_every_fixture_has_a_case() -> None:
    assert sorted(p.stem for p in BROKEN.glob("*.yaml")) == sorted(CASES)
    assert len(CASES) >= 30


@pytest.mark.parametrize(("stem", "line", "key_path", "fragment"),
                         [(stem, *case) for stem, case in CASES.items()], ids=list(CASES))
def test_broken_profile_names_file_line_and_key(stem: str, line: int, key_path: str, fragment: str) -> None:
    path = BROKEN / f"{stem}.yaml"
    problems = _problems(path)
    assert len(problems) == 1 + EXTRA_PROBLEMS.get(stem, 0), problems
    first = problems[0]
    assert (first.file, first.line, first.key_path) == (str(path), line, key_path)
    assert fragment in first.message
    shown = key_path or "<document>"
    assert str(first).startswith(f"{path}:{line}: {shown}: ")


def test_python_tag_is_never_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(os, "system", calls.append)
    monkeypatch.chdir(tmp_path)
    _problems(BROKEN / "python-tag.yaml")
    assert calls == []
    assert not (tmp_path / "ro_conformance_pwned").exists()


def test_file_over_one_mib_is_refused_unparsed(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"schema: 1\n" + b"# padding\n" * (MAX_BYTES // 10 + 1))
    assert big.stat().st_size > MAX_BYTES
    (problem,) = _problems(big)
    assert (problem.line, problem.key_path) == (1, "")
    assert "larger than 1048576 bytes" in problem.message


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    (problem,) = _problems(tmp_path / "nope.yaml")
    assert problem.file.endswith("nope.yaml")
    assert "cannot read" in problem.message


def test_alias_bomb_is_stopped() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    with pytest.raises(ProfileError, match="too deep, too large or recursive"):
        load_profile_text("\n".join(lines) + "\n", "bomb.yaml")


THREE_MISTAKES = """\
schema: 1
pbx:
  name: three
stations:
  - {extension: "201", business_number: "+49891234201"}
trunks:
  channels: 0
pixit:
  desk: "301"
  remote_office: "01711234567"
  target: "0301234567"
  caller: "0409876543"
capabilities:
  transfer: {blind: true, teleport: true}
"""


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile_text(THREE_MISTAKES, "three.yaml")
    found = {(p.line, p.key_path) for p in info.value.problems if not p.message.startswith("missing claim")}
    assert found == {(7, "trunks.channels"), (9, "pixit.desk"), (14, "capabilities.transfer.teleport")}
    assert str(info.value).count("three.yaml:") == len(info.value.problems)
