"""Every prototype the adapter binds is tapi.h's: one C function-pointer type per export, compiled
against the mingw-w64 header for x86-64 and i686 with ``-Werror=incompatible-pointer-types``.

The types are written from ``_dll.PROTOTYPES`` (tapi.h spelling, header order), so a parameter of the
wrong type, a missing or extra one, or two swapped parameters of different types is a compile error on
the assignment ``fp_X p_X = &X;``. A second check pins the width of every spelling's ctypes type to the
compiler's ``sizeof`` for each architecture, so the ctypes call passes what the header declares.
"""

from __future__ import annotations

import ctypes
import subprocess
import tempfile
from pathlib import Path

import pytest
from header_tools import Arch, require_compiler, require_tapi_header

from conformance.backends.tapi32._dll import C_TYPES, PROTOTYPES

ARCHES: tuple[Arch, ...] = ("x86_64", "i686")
POINTER_SIZE = {"x86_64": 8, "i686": 4}


def _compile(arch: Arch, body: str) -> subprocess.CompletedProcess[str]:
    require_tapi_header()
    compiler = require_compiler(arch)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "prototypes.c"
        source.write_text("#include <windows.h>\n#include <tapi.h>\n" + body, encoding="ascii")
        return subprocess.run([compiler, "-std=c11", "-fsyntax-only", "-Wno-attributes",
                               "-Werror=incompatible-pointer-types", str(source)],
                              capture_output=True, text=True, check=False)


def _pointer_types(prototypes: dict[str, tuple[str, ...]]) -> str:
    lines = []
    for name, params in prototypes.items():
        lines.append(f"typedef LONG (WINAPI *fp_{name})({', '.join(params)});")
        lines.append(f"fp_{name} p_{name} = &{name};")
    return "\n".join(lines) + "\n"


def _width(c_type: str, arch: Arch) -> int:
    ctype = C_TYPES[c_type]
    native_pointer = ctypes.sizeof(ctypes.c_void_p)
    size = ctypes.sizeof(ctype)
    return POINTER_SIZE[arch] if size == native_pointer and c_type != "DWORD" and ctype is not ctypes.c_uint32 \
        else size


@pytest.mark.parametrize("arch", ARCHES)
def test_every_bound_prototype_is_the_headers(arch: Arch) -> None:
    done = _compile(arch, _pointer_types(PROTOTYPES))
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_every_parameter_spelling_has_the_headers_width(arch: Arch) -> None:
    spellings = sorted({c for params in PROTOTYPES.values() for c in params})
    asserts = [f'_Static_assert(sizeof({c}) == {_width(c, arch)}, "{c}");' for c in spellings]
    done = _compile(arch, "\n".join(asserts) + "\n")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("arch", ARCHES)
def test_the_check_catches_a_wrong_prototype(arch: Arch) -> None:
    """Swapped parameters of different types, a missing one, a W export with an ANSI string: all rejected."""
    wrong = {"lineMakeCallW": ("HLINE", "LPCWSTR", "LPHCALL", "DWORD", "LPLINECALLPARAMS"),
             "lineGetCallInfoW": ("HCALL",),
             "lineDialW": ("HCALL", "LPCSTR", "DWORD")}
    for name, params in wrong.items():
        done = _compile(arch, _pointer_types({name: params}))
        assert done.returncode != 0 and "incompatible" in done.stderr, (name, done.stderr)
