"""The double's structure layouts are the header's: the checked-in table regenerates identically from
mingw-w64 ``tapi.h`` and the cross compilers, and its version-dependent fixed parts agree with the
adapter's own (independently derived) table - two derivations, one answer."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from header_tools import require_compiler, require_tapi_header

from conformance.backends.tapi32._structs import FIXED_SIZES
from conformance.backends.tapi32_double._layout import fixed_part, member, sizeof
from conformance.backends.tapi32_double._layout_table import LAYOUTS

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import gen_tapi_layout  # noqa: E402


def test_the_checked_in_table_is_what_the_header_gives() -> None:
    header = require_tapi_header()
    require_compiler("x86_64")
    require_compiler("i686")
    assert gen_tapi_layout.OUTPUT.read_text(encoding="utf-8") == gen_tapi_layout.render(header), \
        "run: python tools/gen_tapi_layout.py"


def test_pointer_sized_members_differ_by_architecture() -> None:
    assert LAYOUTS["x86_64"]["LINEMESSAGE"][0] == 40 and LAYOUTS["i686"]["LINEMESSAGE"][0] == 24
    assert member("LINEINITIALIZEEXPARAMS", "Handles", "i686") == (16, 4)
    assert member("LINEINITIALIZEEXPARAMS", "dwCompletionKey", "x86_64") == (24, 4)
    assert sizeof("LINECALLINFO", "x86_64") == sizeof("LINECALLINFO", "i686")     # pack(1), no pointers


@pytest.mark.parametrize("struct", sorted(set(FIXED_SIZES) - {"LINECALLLIST", "VARSTRING"}))
def test_fixed_parts_agree_with_the_adapters_table(struct: str) -> None:
    for version, size in FIXED_SIZES[struct].items():
        assert fixed_part(struct, version) == size, hex(version)


def test_unknown_member_and_old_version_are_named_errors() -> None:
    with pytest.raises(KeyError, match=r"LINECALLINFO\.dwNoSuch"):
        member("LINECALLINFO", "dwNoSuch")
    with pytest.raises(ValueError, match=r"older than TAPI 1\.3"):
        fixed_part("LINEDEVCAPS", 0x00010000)
