"""Re-test the survivors of a suite-check mutation run against tests added after it (docs/testing.md).

The whole-scope run (``tools/mutation_suite.sh run --fresh``) takes hours, set by its survivors: each runs
every test mapped to its function. Tests written against those survivors need not wait for another whole
run: a survivor is killed as soon as *some* test fails with it active, and the tests that already ran
against it passed. So each survivor is run here against the new tests only (``-x``, one fork per mutant,
as mutmut does), with the mutated scope files of that run overlaid on a copy of today's working tree.

    .venv/bin/python tools/mutation_retest.py TESTS_FILE [OUT.jsonl]

TESTS_FILE: pytest node ids, one per line (the tests added or changed since the run). The survivors are
read from ``.mutation-suite/mutants/**/*.py.meta`` (exit code 0). Refuses to run when a scope file of the
working tree differs from the one the run mutated (the mutants would no longer be today's code), or when
the new tests fail with no mutant active. Prints one JSON line per mutant ([name, pytest exit code]:
non-zero = killed) to OUT.jsonl (default ``.mutation-suite/retest.jsonl``) and a summary. Mutants already
in OUT.jsonl are not run again (a re-test interrupted, or survivors added by a run that went on, resume).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".mutation-suite"
TREE = ROOT / ".mutation-retest"


def survivors() -> list[str]:
    names = []
    for meta in sorted((RUN / "mutants").rglob("*.py.meta")):
        names += [k for k, v in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"].items() if v == 0]
    return sorted(names)


def build_tree() -> None:
    """Today's working tree (tracked and untracked, not ignored) with the run's mutated scope files."""
    shutil.rmtree(TREE, ignore_errors=True)
    TREE.mkdir()
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (TREE / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, TREE / name)
    for meta in (RUN / "mutants").rglob("*.py.meta"):
        source = meta.with_suffix("")                       # the mutated file
        relative = source.relative_to(RUN / "mutants")
        if (RUN / relative).read_bytes() != (ROOT / relative).read_bytes():
            sys.exit(f"mutation_retest: {relative} changed since the run mutated it; run the whole scope again")
        shutil.copy2(source, TREE / relative)


def main() -> int:
    if len(sys.argv) < 2 or not (RUN / "mutants").is_dir():
        print(__doc__, file=sys.stderr)
        return 2
    tests = [t for t in Path(sys.argv[1]).read_text(encoding="utf-8").splitlines() if t.strip()]
    out_path = Path(sys.argv[2]) if len(sys.argv) > 2 else RUN / "retest.jsonl"
    names = survivors()
    build_tree()
    os.chdir(TREE)
    sys.path.insert(0, str(TREE))
    sys.dont_write_bytecode = False      # the rewritten suite modules are cached once, not per run
    import pytest
    from mutmut.mutation.trampoline import set_mutant_under_test

    def run(mutant: str) -> int:
        pid = os.fork()
        if pid == 0:
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - the child exits at once
            set_mutant_under_test(mutant)
            os._exit(int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "--tb=native", *tests])))
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

    if run("") != 0:
        print("mutation_retest: the tests fail with no mutant active; fix them first", file=sys.stderr)
        return 2
    done: dict[str, int] = {}
    if out_path.exists():
        done = dict(json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines() if line)
    with out_path.open("a", encoding="utf-8") as out:
        for name in names:
            if name not in done:
                done[name] = run(name)
                out.write(json.dumps([name, done[name]]) + "\n")
                out.flush()
    killed = sum(done[name] != 0 for name in names)
    print(f"mutation_retest: {killed} of {len(names)} survivors killed by {len(tests)} tests ({out_path})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
