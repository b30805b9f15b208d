"""Generate ``conformance/backends/tapi32_double/_layout_table.py``: TAPI structure layouts as the
Windows SDK header defines them, measured by the mingw-w64 cross compilers.

The emulated tapi32 double must not learn layouts from the adapter's ctypes classes (issue 10 §2), so it
reads and writes structures at offsets taken from the header itself:

1. the member names of each structure come from its ``typedef struct ... { ... } NAME`` block in
   ``tapi.h`` (a small reader of the header; an anonymous-member union such as
   LINEINITIALIZEEXPARAMS' ``Handles`` is one member);
2. ``offsetof`` and ``sizeof`` of every member are compiled with ``x86_64-w64-mingw32-gcc`` and
   ``i686-w64-mingw32-gcc -S`` into constants and read back from the assembler output, so the numbers are
   the compiler's, not ours.

Usage: ``python tools/gen_tapi_layout.py [--check]`` (``--check`` exits 1 when the checked-in table
differs from what the header gives). ``TAPI_H`` overrides the header location.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "conformance" / "backends" / "tapi32_double" / "_layout_table.py"
HEADERS = ("/usr/share/mingw-w64/include/tapi.h", "/usr/x86_64-w64-mingw32/include/tapi.h")
ARCHES = {"x86_64": "x86_64-w64-mingw32-gcc", "i686": "i686-w64-mingw32-gcc"}

# The structures the double exchanges with an application.
STRUCTS = ("LINEINITIALIZEEXPARAMS", "LINEEXTENSIONID", "LINEMESSAGE", "LINEDEVCAPS", "LINEDEVSTATUS",
           "LINEADDRESSCAPS", "LINEADDRESSSTATUS", "LINECALLINFO", "LINECALLSTATUS", "LINECALLPARAMS", "LINEFORWARD",
           "LINEFORWARDLIST", "LINEDIALPARAMS", "LINETRANSLATEOUTPUT", "SYSTEMTIME")
# SYSTEMTIME is not in tapi.h; its members are fixed by the Win32 API and measured all the same.
_SYSTEMTIME_MEMBERS = ("wYear", "wMonth", "wDayOfWeek", "wDay", "wHour", "wMinute", "wSecond", "wMilliseconds")

_TYPEDEF = re.compile(r"typedef\s+struct\s+\w*\s*\{")
_NAMES = re.compile(r"\s*(?P<names>[^;{}]*);")
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_UNION = re.compile(r"union\s*\{[^{}]*\}\s*(?P<name>\w+)\s*;", re.DOTALL)
_MEMBER = re.compile(r"(?P<name>\w+)\s*(?:\[\s*\w+\s*\])?\s*$")


def find_header() -> Path:
    override = os.environ.get("TAPI_H")
    for candidate in ((override,) if override else HEADERS):
        if Path(candidate).is_file():
            return Path(candidate)
    raise SystemExit("tapi.h not found (apt-get install mingw-w64-x86-64-dev, or set TAPI_H=...)")


def read_members(header_text: str) -> dict[str, tuple[str, ...]]:
    """Member names of every wanted structure, in declaration order, read from the header text."""
    text = _COMMENT.sub(" ", header_text)
    found: dict[str, tuple[str, ...]] = {"SYSTEMTIME": _SYSTEMTIME_MEMBERS}
    for match in _TYPEDEF.finditer(text):
        depth, end = 1, match.end()
        while depth:                            # the body ends at the brace that closes the struct
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        tail = _NAMES.match(text, end)
        names = [n.strip() for n in tail["names"].split(",")] if tail else []
        if not names or names[0] not in STRUCTS:
            continue
        body = _UNION.sub(lambda m: f"__union {m['name']};", text[match.end():end - 1])
        members = []
        for declaration in body.split(";"):
            declaration = " ".join(declaration.split())
            if not declaration or declaration.startswith("#"):
                continue
            member = _MEMBER.search(declaration)
            if member is None:
                raise SystemExit(f"{names[0]}: cannot read member {declaration!r}")
            members.append(member["name"])
        found[names[0]] = tuple(members)
    missing = [name for name in STRUCTS if name not in found]
    if missing:
        raise SystemExit(f"tapi.h has no typedef for {', '.join(missing)}")
    return found


def _c_source(members: dict[str, tuple[str, ...]]) -> str:
    lines = ["#include <windows.h>", "#include <tapi.h>", "#include <stddef.h>"]
    for struct, names in members.items():
        lines.append(f"const unsigned int L__{struct}__ = sizeof({struct});")
        for name in names:
            lines.append(f"const unsigned int L__{struct}__{name}[2] = "
                         f"{{offsetof({struct}, {name}), sizeof((({struct} *)0)->{name})}};")
    return "\n".join(lines) + "\n"


_LABEL = re.compile(r"^_?L__(?P<struct>\w+?)__(?P<member>\w*):\s*$")
_LONG = re.compile(r"^\s*\.long\s+(?P<value>\d+)\s*$")


def measure(compiler: str, members: dict[str, tuple[str, ...]], header: Path) -> dict[str, tuple[int, tuple[
        tuple[str, int, int], ...]]]:
    """``{struct: (sizeof, ((member, offset, size), ...))}`` as ``compiler`` lays the header out."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "layout.c"
        source.write_text(_c_source(members), encoding="ascii")
        done = subprocess.run([compiler, "-S", "-O0", f"-I{header.parent}", "-o", "-", str(source)],
                              capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{compiler} failed:\n{done.stderr[-2000:]}")
    values: dict[tuple[str, str], list[int]] = {}
    current: tuple[str, str] | None = None
    for line in done.stdout.splitlines():
        if (label := _LABEL.match(line)) is not None:
            current = (label["struct"], label["member"])
            values[current] = []
        elif current is not None and (number := _LONG.match(line)) is not None:
            values[current].append(int(number["value"]))
    result = {}
    for struct, names in members.items():
        fields = tuple((name, *values[(struct, name)]) for name in names)
        result[struct] = (values[(struct, "")][0], fields)
    return result  # type: ignore[return-value]


def render(header: Path) -> str:
    members = read_members(header.read_text(encoding="latin-1"))
    out = ['"""TAPI structure layouts of mingw-w64 ``tapi.h``, measured by the cross compilers.',
           "",
           "Generated by ``tools/gen_tapi_layout.py``; do not edit. ``LAYOUTS[arch][struct]`` is",
           "``(sizeof, ((member, offset, size), ...))`` in declaration order, bytes; ``arch`` is ``x86_64``",
           '(64-bit Windows) or ``i686`` (32-bit). ``tests/test_tapi32_double_layout.py`` regenerates it."""',
           "",
           "from __future__ import annotations",
           "",
           "from typing import Final",
           "",
           "Member = tuple[str, int, int]",
           "",
           "LAYOUTS: Final[dict[str, dict[str, tuple[int, tuple[Member, ...]]]]] = {"]
    for arch, compiler_name in ARCHES.items():
        compiler = shutil.which(compiler_name)
        if compiler is None:
            raise SystemExit(f"{compiler_name} not on PATH (apt-get install gcc-mingw-w64)")
        out.append(f"    {arch!r}: {{")
        for struct, (size, fields) in measure(compiler, members, header).items():
            out.append(f"        {struct!r}: ({size}, (")
            out.extend(f"            {field!r}," for field in fields)
            out.append("        )),")
        out.append("    },")
    out.append("}")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the checked-in table")
    args = parser.parse_args(argv)
    text = render(find_header())
    if args.check:
        same = OUTPUT.is_file() and OUTPUT.read_text(encoding="utf-8") == text
        print("up to date" if same else f"{OUTPUT} differs from tapi.h; run tools/gen_tapi_layout.py")
        return 0 if same else 1
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
