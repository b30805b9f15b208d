"""Shipped profiles load, build the frozen model, and ``ro-conformance validate`` agrees."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.cli import main
from simulator._constants import LineCallFeature, LineErr
from simulator._errors import ProfileError
from simulator._profile import SCHEMA, load_profile, load_profile_text
from simulator._profile_model import Profile, Transfer

ROOT = Path(__file__).parent.parent
SHIPPED = sorted((ROOT / "profiles").glob("*.yaml"))
EXPECTED = {"reference", "blind-only", "consult-ringing", "consult-connected-only", "native-ro",
            "single-trunk", "forward-no-query", "prompted"}


def test_the_promised_profiles_are_shipped() -> None:
    assert {p.stem for p in SHIPPED} == EXPECTED


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_profile_loads(path: Path) -> None:
    profile = load_profile(path)
    assert profile.name == path.stem
    assert profile.path == str(path)
    assert profile.dial_string(profile.pixit.target) == "0" + profile.pixit.target
    assert profile.station(profile.pixit.desk).business_number.startswith("+")
    header = path.read_text(encoding="utf-8").split("schema: 1")[0]
    assert "verdict" in header.lower()


def test_validate_command_accepts_every_shipped_profile(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    assert out.out.splitlines() == [f"OK {p} ({p.stem})" for p in SHIPPED]


def test_validate_command_exits_4_and_prints_problems(capsys: pytest.CaptureFixture[str]) -> None:
    bad = ROOT / "tests" / "profiles_broken" / "zero-trunks.yaml"
    assert main(["validate", str(SHIPPED[0]), str(bad)]) == 4
    out = capsys.readouterr()
    assert out.out == f"OK {SHIPPED[0]} ({SHIPPED[0].stem})\n"
    first, *rest = out.err.splitlines()
    assert first == f"{bad}:13: trunks.channels: 0 is less than the minimum of 1"
    assert all("missing claim" in line for line in rest)   # the fixture states no claims


def test_reference_values() -> None:
    ref = load_profile(ROOT / "profiles" / "reference.yaml")
    assert ref.trunks == 4
    assert ref.capabilities.forwarding is not None
    assert ref.capabilities.forwarding.modes == ("UNCOND", "BUSY", "NOANSW")
    assert ref.capabilities.transfer == Transfer(True, True, ("connected", "ringback", "proceeding"))
    assert ref.simulation.api_version == 0x00020002
    assert isinstance(ref.simulation.timing.no_answer_timeout, float)
    assert ref.raw["pbx"]["name"] == "reference"
    with pytest.raises(dataclasses.FrozenInstanceError):
        ref.trunks = 9  # type: ignore[misc]


def test_differences_between_shipped_profiles() -> None:
    by_name = {p.stem: load_profile(p) for p in SHIPPED}
    assert by_name["blind-only"].capabilities.transfer == Transfer(True, False, ())
    assert by_name["consult-connected-only"].capabilities.transfer.complete_in == ("connected",)
    native = by_name["native-ro"].capabilities.native_remote_office
    assert (native.mechanism, native.ext_version) == ("devspecific", 0x000C0000)
    assert by_name["single-trunk"].trunks == 1
    fwd = by_name["forward-no-query"].capabilities.forwarding
    assert fwd is not None and (fwd.query, fwd.status_events) == (False, False)
    assert by_name["prompted"].capabilities.origination == "prompt_offering"


MINIMAL = """\
schema: 1
pbx: {name: minimal}
stations:
  - {extension: "201", business_number: "+49891234201"}
pixit: {desk: "201", remote_office: "01711234567", target: "0301234567", caller: "0409876543"}
"""


CLAIMS = """\
trunks: {channels: 2}
capabilities:
  forwarding: {modes: [UNCOND], query: true, status_events: true, max_entries: 1, clear: true}
  origination: auto
  transfer: {blind: true, consultation: true, complete_in: [connected, ringback, proceeding]}
  native_remote_office: {mechanism: none}
  caller_id: {direct: business, blind_transfer: business, consult_transfer: business, forwarded: caller}
"""


def test_a_profile_without_claims_is_refused_naming_each_missing_claim() -> None:
    with pytest.raises(ProfileError) as info:
        load_profile_text(MINIMAL, "minimal.yaml")
    missing = {p.key_path for p in info.value.problems}
    assert all(p.message.startswith("missing claim") for p in info.value.problems)
    assert missing == {"trunks.channels", "capabilities.forwarding", "capabilities.origination",
                       "capabilities.transfer.blind", "capabilities.transfer.consultation",
                       "capabilities.transfer.complete_in", "capabilities.native_remote_office.mechanism",
                       *(f"capabilities.caller_id.{p}" for p in ("direct", "blind_transfer", "consult_transfer",
                                                                   "forwarded"))}


def test_a_missing_forwarding_claim_is_named_and_null_states_no_forwarding() -> None:
    text = MINIMAL + CLAIMS.replace(" clear: true", "")
    with pytest.raises(ProfileError, match=r"capabilities\.forwarding\.clear: missing claim"):
        load_profile_text(text, "noclear.yaml")
    profile = load_profile_text(MINIMAL + CLAIMS.replace(
        "{modes: [UNCOND], query: true, status_events: true, max_entries: 1, clear: true}", "null"), "nofwd.yaml")
    assert profile.capabilities.forwarding is None


def test_minimal_profile_takes_the_model_defaults() -> None:
    profile = load_profile_text(MINIMAL + CLAIMS, "minimal.yaml")
    assert profile.trunks == 2
    assert profile.capabilities == type(profile.capabilities)()
    assert profile.simulation == type(profile.simulation)()
    assert profile.externals == ()
    assert profile.default_external.number == ""


def test_faults_become_tapi_values() -> None:
    text = MINIMAL + CLAIMS.replace(
        "{modes: [UNCOND], query: true, status_events: true, max_entries: 1, clear: true}", "null") + """\
simulation:
  faults:
    - {kind: reply_error, function: lineCompleteTransfer, error: LINEERR_OPERATIONFAILED}
    - {kind: caps_omit_call_features, features: [LINECALLFEATURE_BLINDTRANSFER, LINECALLFEATURE_DIAL]}
    - {kind: reply_latency, seconds: 2}
"""
    profile = load_profile_text(text, "faults.yaml")
    assert profile.capabilities.forwarding is None
    error, omit, latency = profile.simulation.faults
    assert error.error == LineErr.OPERATIONFAILED
    assert omit.features == LineCallFeature.BLINDTRANSFER | LineCallFeature.DIAL
    assert latency.seconds == 2.0 and isinstance(latency.seconds, float)


def test_schema_is_valid_and_self_describing() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    missing: list[str] = []
    _walk_schema(SCHEMA, "", missing)
    assert missing == []


def _walk_schema(node: Any, where: str, missing: list[str]) -> None:
    if not isinstance(node, dict):
        return
    if node.get("type") == "object" or "object" in node.get("type", []):
        if node.get("additionalProperties") is not False:
            missing.append(f"{where}: additionalProperties")
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{where}.{key}: description")
            _walk_schema(sub, f"{where}.{key}", missing)
    if "items" in node:
        _walk_schema(node["items"], f"{where}[]", missing)


# Anything a user can write gives a Profile or a ProfileError, never another exception.
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_BASE = yaml.safe_load(MINIMAL)
_SECTIONS = ["pbx", "stations", "trunks", "externals", "default_external", "pixit", "capabilities",
             "simulation"]


@settings(max_examples=150, deadline=None)
@given(section=st.sampled_from(_SECTIONS), value=_json, sub=st.sampled_from([None, "transfer", "faults",
                                                                             "native_remote_office", "desk"]))
def test_arbitrary_values_never_crash(section: str, value: Any, sub: str | None) -> None:
    data = dict(_BASE)
    data[section] = {sub: value} if sub else value
    try:
        result = load_profile_text(yaml.safe_dump(data), "fuzz.yaml")
    except ProfileError as exc:
        assert all(p.file == "fuzz.yaml" and p.line for p in exc.problems)
    else:
        assert isinstance(result, Profile)
