"""``ro-conformance matrix PROFILE...``: run every profile, then one table of clauses and verdicts.

Each profile runs exactly as ``ro-conformance run`` would (in-process, one after the other) into
``DIR/<profile name>/``; ``DIR/matrix.html`` and ``DIR/matrix.md`` are then built from the results.json
files. A profile that cannot run (invalid, missing) still gets a row saying why. The exit status is the
worst of the profiles' statuses (4 > 3 > 2 > 1 > 0).

``--doc PATH`` also writes the repository's matrix page (``_matrix_doc``: estos legend, vendor profiles
first, evidence for failures, nothing run-dependent); docs/matrix.md is made that way.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from conformance.cli._run import (
    DEFAULT_BACKEND,
    check_backend,
    check_profile,
    print_summary,
    run_suite,
)
from conformance.report._files import MatrixRow, render_matrix_html, render_matrix_md, safe_dirname
from conformance.report._matrix_doc import DocRow, render_matrix_doc
from conformance.report._results import (
    EXIT_COMPATIBLE,
    EXIT_ERRORS,
    EXIT_NOT_COMPATIBLE,
    EXIT_NOT_HONOURED,
    EXIT_PARTIAL,
    EXIT_USAGE,
)

__all__ = ["add_arguments", "doc_rows", "expand", "matrix_rows", "run"]

DEFAULT_OUT: Final = "reports"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profiles", nargs="+", metavar="PROFILE",
                        help="profile YAML files or shipped profile names (ro-conformance profiles); "
                             "a directory stands for every *.yaml below it (sorted)")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, metavar="SPEC",
                        help="backend spec used for every profile (default: sim, i.e. each profile simulated)")
    parser.add_argument("--out", default=DEFAULT_OUT, metavar="DIR",
                        help=f"directory for the per-profile reports and the matrix (default: {DEFAULT_OUT})")
    parser.add_argument("--doc", default=None, metavar="PATH",
                        help="also write the committed-style matrix page (legend, evidence; e.g. docs/matrix.md)")


def _unique(name: str, taken: set[str]) -> str:
    """Two profiles may share a pbx name; give the second its own directory."""
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _row_for(path: str, backend: str, out: Path, taken: set[str]) -> MatrixRow:
    profile = check_profile(path)
    if profile is None:
        stem = _unique(safe_dirname(Path(path).stem), taken)
        return MatrixRow(stem, stem, EXIT_USAGE, None, f"invalid profile {path}")
    dirname = _unique(safe_dirname(profile.name), taken)
    print(f"== {profile.name} ({path})", flush=True)
    result = run_suite(Path(profile.path), profile.name, backend, out / dirname)
    print_summary(result)
    return MatrixRow(profile.name, dirname, result.status, result.results, result.problem)


def doc_rows(paths: Sequence[str], rows: Sequence[MatrixRow]) -> list[DocRow]:
    """The matrix page's rows: each run's row with the profile file it came from (same order)."""
    return [DocRow(row.profile, path, str((row.results or {}).get("profile", {}).get("vendor") or ""),
                   row.results, row.problem) for path, row in zip(paths, rows, strict=True)]


def expand(args: Sequence[str]) -> list[str]:
    """Profile arguments with each directory replaced by every ``*.yaml`` below it, sorted."""
    out: list[str] = []
    for arg in args:
        path = Path(arg)
        out += sorted(str(p) for p in path.rglob("*.yaml")) if path.is_dir() else [arg]
    return out


def matrix_rows(paths: Sequence[str], backend: str, out: Path) -> list[MatrixRow]:
    """Run every profile (in-process, one after the other) into ``out/<name>/``; one row each."""
    taken: set[str] = set()
    return [_row_for(path, backend, out, taken) for path in paths]


# The matrix exits with its most severe profile status. Severity is not the number: a claim not honoured (2)
# outweighs a run marred by errors or inconclusive results (3), so a CI job sees a lying PBX in the set.
_SEVERITY: Final[dict[int, int]] = {EXIT_COMPATIBLE: 0, EXIT_NOT_COMPATIBLE: 1, EXIT_PARTIAL: 2, EXIT_ERRORS: 3,
                                    EXIT_NOT_HONOURED: 4, EXIT_USAGE: 5}


def most_severe(statuses: Iterable[int]) -> int:
    """The status a set of runs exits with (see ``_SEVERITY``); an unknown status ranks by its number."""
    return max(statuses, key=lambda status: _SEVERITY.get(status, status))


def run(args: argparse.Namespace) -> int:
    if not check_backend(args.backend):
        return EXIT_USAGE
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = expand(args.profiles)
    rows = matrix_rows(paths, args.backend, out)
    (out / "matrix.html").write_text(render_matrix_html(rows), encoding="utf-8")
    (out / "matrix.md").write_text(render_matrix_md(rows), encoding="utf-8")
    if args.doc:
        Path(args.doc).write_text(render_matrix_doc(doc_rows(paths, rows), args.doc), encoding="utf-8")
        print(f"matrix page: {args.doc}", file=sys.stdout)
    worst = most_severe(row.status for row in rows)
    print(f"matrix: {out / 'matrix.html'}  {out / 'matrix.md'}  (exit status {worst})", file=sys.stdout)
    return worst
