"""``simulator._constants`` against the mingw-w64 ``tapi.h`` it was generated from.

The header is parsed again here by ``header_tools.read_defines`` (not by ``tools/gen_constants.py``), and
every value is additionally confirmed by the C compiler itself through one ``_Static_assert`` per constant.
"""

from __future__ import annotations

import functools
from typing import Any

import pytest
from header_tools import read_defines, require_tapi_header, static_assert_failures

from simulator._constants import FAMILIES, ApiVersion, lookup, tapi_name
from simulator._constants import LineErr as _LineErr

LineErr: Any = _LineErr   # from_result is attached at runtime, so mypy cannot see it

_PREFIXES_LONGEST_FIRST = sorted(FAMILIES, key=len, reverse=True)

# Header macros that simulator/_constants.py is known to lack. Each entry is a strict xfail: when the
# generator is fixed the test XPASSes, fails, and the entry must be removed.
KNOWN_MISSING: dict[str, str] = {}


@functools.cache
def _header() -> tuple[dict[str, int], dict[str, str]]:
    return read_defines(require_tapi_header())


def _family_of(name: str) -> str | None:
    """The longest family prefix of a C name, if its remainder is a plausible member name."""
    prefix: str
    for prefix in _PREFIXES_LONGEST_FIRST:
        suffix = name[len(prefix):]
        if name.startswith(prefix) and suffix[:1].isalpha():
            return prefix
    return None


def _all_members() -> list[tuple[str, Any]]:
    return [(f"{prefix}{m.name}", m) for prefix, cls in FAMILIES.items() for m in cls]


def _header_family_names() -> list[str]:
    values, _ = read_defines(require_tapi_header())   # at collection; a skip here becomes a skip param
    return sorted(name for name in values if _family_of(name) is not None)




@pytest.mark.parametrize(("c_name", "member"), _all_members(), ids=[n for n, _ in _all_members()])
def test_member_equals_header_define(c_name: str, member: Any) -> None:
    values, _ = _header()
    assert c_name in values, f"{c_name} is in simulator._constants but not #defined in tapi.h"
    assert int(member) == values[c_name], f"{c_name}: module {int(member):#x} != header {values[c_name]:#x}"


def _missing_marks(name: str) -> list[Any]:
    if name in KNOWN_MISSING:
        return [pytest.mark.xfail(reason=KNOWN_MISSING[name], strict=True)]
    return []


def _header_name_params() -> list[Any]:
    """One param per family macro of tapi.h; without the header, one skipped param saying why."""
    try:
        names = _header_family_names()
    except pytest.skip.Exception as exc:
        return [pytest.param(None, marks=pytest.mark.skip(reason=str(exc)), id="no-tapi.h")]
    return [pytest.param(n, marks=_missing_marks(n), id=n) for n in names]


@pytest.mark.parametrize("c_name", _header_name_params())
def test_header_define_present_in_module(c_name: str) -> None:
    values, _ = _header()
    prefix = _family_of(c_name)
    assert prefix is not None
    member = FAMILIES[prefix].__members__.get(c_name[len(prefix):])
    assert member is not None, f"tapi.h #defines {c_name} = 0x{values[c_name]:08X}, the module lacks it"
    assert int(member) == values[c_name]


def test_no_family_define_left_unparsed() -> None:
    _, others = _header()
    unparsed = {n: body for n, body in others.items() if _family_of(n) is not None}
    assert not unparsed, f"family macros the test parser could not evaluate: {unparsed}"


def test_every_family_has_members_in_header() -> None:
    values, _ = _header()
    for prefix in FAMILIES:
        assert any(_family_of(n) == prefix for n in values), f"no #define in tapi.h starts with {prefix}"


def test_api_version_current_is_header_default() -> None:
    values, _ = _header()
    assert values["TAPI_CURRENT_VERSION"] == ApiVersion.V3_1
    for member in ApiVersion:
        major, minor = member.name[1:].split("_")
        assert member == (int(major) << 16) | int(minor)


def test_compiler_agrees_with_every_member() -> None:
    """One ``_Static_assert`` per constant, compiled by the real cross compiler against the real header."""
    asserts = [f'_Static_assert((unsigned int)({name}) == {int(m):#x}u, "{name}");'
               for name, m in _all_members()]
    current = int(ApiVersion.V3_1)
    asserts.append(f'_Static_assert(TAPI_CURRENT_VERSION == {current:#x}, "TAPI_CURRENT_VERSION");')
    assert static_assert_failures("x86_64", asserts) == []
    assert static_assert_failures("i686", asserts) == []


def test_compiler_check_detects_a_wrong_value() -> None:
    """The static-assert harness must be able to fail, or the check above proves nothing."""
    canary = '_Static_assert(LINEERR_INVALCALLSTATE == 0x1Du, "canary");'
    assert static_assert_failures("x86_64", [canary]) == ["canary"]


@pytest.mark.parametrize(("c_name", "member"), _all_members(), ids=[n for n, _ in _all_members()])
def test_lookup_and_tapi_name_round_trip(c_name: str, member: Any) -> None:
    assert lookup(c_name) is member
    assert tapi_name(member) == c_name
    assert member.tapi_name == c_name


def test_lookup_rejects_unknown_name() -> None:
    with pytest.raises(KeyError, match="LINEERR_NOSUCHTHING"):
        lookup("LINEERR_NOSUCHTHING")


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (-2147483620, "INVALCALLSTATE"),          # 0x8000001C read as a signed LONG
        (0x8000001C, "INVALCALLSTATE"),           # the same as an unsigned DWORD
        (0xFFFFFFFF8000001C, "INVALCALLSTATE"),   # sign-extended into a 64-bit DWORD_PTR
        (-2147483571, "STRUCTURETOOSMALL"),       # 0x8000004D
        (0, None),                                # synchronous success
        (1, None),                                # request ids are positive
        (0x7FFFFFFF, None),
        (-2147483548, None),                      # 0x80000064: negative, but no such LINEERR
    ],
)
def test_line_err_from_result(result: int, expected: str | None) -> None:
    decoded = LineErr.from_result(result)
    if expected is None:
        assert decoded is None
    else:
        assert decoded is LineErr[expected]


def test_line_err_from_result_every_member() -> None:
    for member in LineErr:
        signed = int(member) - (1 << 32)
        assert LineErr.from_result(signed) is member
        assert LineErr.from_result(int(member)) is member
