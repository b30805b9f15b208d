"""Helpers for tests that check our code against the real Windows SDK header (mingw-w64 ``tapi.h``).

* ``find_tapi_header()`` / ``require_tapi_header()``: locate ``tapi.h``; the ``require_`` form skips the test
  with a reason that names the Debian package to install.
* ``read_defines(path)``: an integer ``#define`` parser written independently of ``tools/gen_constants.py``
  (it must not share that tool's regular expression, or the test would prove nothing).
* ``find_compiler(arch)`` / ``require_compiler(arch)`` and ``static_assert_failures(arch, lines)``: compile
  a generated C file full of ``_Static_assert`` lines with ``-fsyntax-only`` and return the messages of the
  ones that failed, so a test can say exactly which constant or field offset disagrees with the header.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pytest

__all__ = [
    "Arch",
    "find_compiler",
    "find_tapi_header",
    "read_defines",
    "require_compiler",
    "require_tapi_header",
    "static_assert_failures",
]

Arch = Literal["x86_64", "i686"]

# Debian installs one copy and links it from both triplet include directories.
_HEADER_CANDIDATES = (
    "/usr/share/mingw-w64/include/tapi.h",
    "/usr/x86_64-w64-mingw32/include/tapi.h",
    "/usr/i686-w64-mingw32/include/tapi.h",
)
_PACKAGES = {"x86_64": "gcc-mingw-w64-x86-64 mingw-w64-x86-64-dev",
             "i686": "gcc-mingw-w64-i686 mingw-w64-i686-dev"}


def find_tapi_header() -> Path | None:
    """``$TAPI_H`` if set, else the first Debian mingw-w64 location that exists."""
    override = os.environ.get("TAPI_H")
    for candidate in ((override,) if override else _HEADER_CANDIDATES):
        if Path(candidate).is_file():
            return Path(candidate)
    return None


def require_tapi_header() -> Path:
    header = find_tapi_header()
    if header is None:
        pytest.skip("mingw-w64 tapi.h not found (apt-get install mingw-w64-x86-64-dev, or set TAPI_H=...)")
    return header


def find_compiler(arch: Arch) -> str | None:
    return shutil.which(f"{arch}-w64-mingw32-gcc")


def require_compiler(arch: Arch) -> str:
    compiler = find_compiler(arch)
    if compiler is None:
        pytest.skip(f"{arch}-w64-mingw32-gcc not on PATH (apt-get install {_PACKAGES[arch]})")
    return compiler


# --- #define parsing ---------------------------------------------------------------------------------

_DEFINE = re.compile(r"^\s*#\s*define\s+(?P<name>[A-Za-z_]\w*)(?P<params>\()?\s*(?P<body>.*)$")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_NUMBER = re.compile(r"^(?P<num>0[xX][0-9A-Fa-f]+|\d+)(?P<suffix>[uUlL]*)$")
_WRAPPERS = ("__MSABI_LONG(", "(")


def _strip_comments(text: str) -> str:
    text = _BLOCK_COMMENT.sub(" ", text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def _evaluate(body: str, known: dict[str, int]) -> int | None:
    """Value of a simple integer macro body: a literal, ``__MSABI_LONG(x)``, ``(x)`` or another macro."""
    body = body.strip()
    for wrapper in _WRAPPERS:
        if body.startswith(wrapper) and body.endswith(")"):
            return _evaluate(body[len(wrapper):-1], known)
    literal = _NUMBER.match(body)
    if literal:
        return int(literal.group("num"), 0)
    return known.get(body)


def read_defines(header: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Every object-like ``#define`` of ``header``: ``(integer values, bodies that are not integers)``.

    Line continuations and comments are handled; aliases of earlier integer macros resolve. The second
    dict lets a test fail loudly on a family-prefixed macro the parser could not read, instead of
    silently missing it.
    """
    text = _strip_comments(header.read_text(encoding="latin-1").replace("\\\n", " "))
    values: dict[str, int] = {}
    others: dict[str, str] = {}
    for line in text.splitlines():
        match = _DEFINE.match(line)
        if not match or match.group("params"):
            continue                                  # not a define, or a function-like macro
        name, body = match.group("name"), match.group("body").strip()
        value = _evaluate(body, values)
        if value is None:
            others[name] = body
        else:
            values[name] = value
    return values, others


# --- compiling static asserts ------------------------------------------------------------------------

_PRELUDE = "#include <windows.h>\n#include <tapi.h>\n#include <stddef.h>\n"
_FAILED = re.compile(r'static assertion failed: "(?P<msg>[^"]*)"')


def static_assert_failures(arch: Arch, asserts: Iterable[str]) -> list[str]:
    """Compile ``asserts`` (``_Static_assert`` lines) for ``arch``; return the messages of the failed ones.

    Any compiler error that is not a failed static assert (a typo in a field name, a missing header)
    raises ``AssertionError`` with the compiler output, because it means the check itself is broken.
    """
    compiler = require_compiler(arch)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "check.c"
        source.write_text(_PRELUDE + "\n".join(asserts) + "\n", encoding="ascii")
        proc = subprocess.run([compiler, "-std=c11", "-fsyntax-only", "-Wno-attributes", str(source)],
                              capture_output=True, text=True, check=False)
    failed = _FAILED.findall(proc.stderr)
    other_errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln and "static assertion" not in ln]
    if other_errors or (proc.returncode != 0 and not failed):
        raise AssertionError(f"{arch} compile of the generated check failed:\n{proc.stderr}")
    return failed
