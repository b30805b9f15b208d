#!/usr/bin/env bash
# The on-demand mutation run over the suite-check modules (docs/testing.md "Mutation score").
#
# mutmut 3 reads its configuration only from [tool.mutmut] in ./pyproject.toml and keeps its state in
# ./mutants/, so a second scope cannot live next to the first in one directory. The suite-check scope is
# [tool.mutmut-suite] in pyproject.toml; this script runs mutmut in a scratch copy of the working tree
# (.mutation-suite/, git-ignored) whose pyproject.toml has that section as [tool.mutmut]. The
# repository's own [tool.mutmut] run (verdict, outcome, claims) and its mutants/ are not touched.
#
#   tools/mutation_suite.sh run [--fresh] [MUTANT ...]   copy the tree in, run mutmut there
#   tools/mutation_suite.sh sample N [SEED]                run N mutants drawn at random (after one run)
#   tools/mutation_suite.sh results | show NAME | ...      any other mutmut command, in the copy
#
# run: --fresh forgets earlier results (rm -rf .mutation-suite/mutants); MUTANT names may use * globs
# (mutmut's own filter). sample: a uniform draw (SEED, default 1) from every mutant of the scope, for a
# figure in a fraction of the full run's time; the names drawn are printed and kept in
# .mutation-suite/sample.txt. MUTMUT_CHILDREN sets --max-children (default 1); the run is nice -n 10.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.mutation-suite"
mutmut="$root/.venv/bin/mutmut"
[ -x "$mutmut" ] || { echo "mutation_suite.sh: $mutmut not found (pip install -e '.[dev]' in .venv)" >&2; exit 2; }
cmd=${1:-run}
[ $# -gt 0 ] && shift

if [ "$cmd" = sample ]; then
    [ -f "$work/mutants/mutmut-stats.json" ] ||
        { echo "mutation_suite.sh: sample needs one run first (its mutants and stats)" >&2; exit 2; }
    n=${1:?sample N [SEED]}
    # every mutant name of the scope, from mutmut's .meta files; sorted, so a seed always draws the same
    "$root/.venv/bin/python" - "$work/mutants" "$n" "${2:-1}" > "$work/sample.txt" <<'PY'
import json, pathlib, random, sys
names = sorted(k for meta in pathlib.Path(sys.argv[1]).rglob("*.py.meta")
               for k in json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"])
print("\n".join(sorted(random.Random(int(sys.argv[3])).sample(names, min(int(sys.argv[2]), len(names))))))
PY
    echo "mutation_suite.sh: $(wc -l < "$work/sample.txt") mutants drawn (seed ${2:-1}), listed in $work/sample.txt"
    mapfile -t drawn < "$work/sample.txt"
    exec "$0" run "${drawn[@]}"
fi

if [ "$cmd" = run ]; then
    if [ "${1:-}" = --fresh ]; then
        shift
        rm -rf "$work/mutants"
    fi
    # mutmut 3.8 re-maps only new or changed tests to the functions they call; a test whose own code did
    # not change keeps its old map even when the suite code it runs did (a profile added to the catalogue
    # starts calling a helper the old map never saw), and a mutant mapped to too few tests "survives".
    # Mapping every test again costs about 5 minutes and is always right.
    rm -f "$work/mutants/mutmut-stats.json"
    mkdir -p "$work"
    # The working tree as git sees it (tracked and untracked, not ignored), so uncommitted tests count;
    # everything else in the copy goes first, except mutmut's state (mutants/: cached results), the sample and
    # tools/mutation_retest.py's files (retest*).
    find "$work" -mindepth 1 -maxdepth 1 ! -name mutants ! -name sample.txt ! -name 'retest*' -exec rm -rf {} +
    (cd "$root" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf -) | tar -xf - -C "$work"
    grep -q '^\[tool\.mutmut-suite\]$' "$work/pyproject.toml" ||
        { echo "mutation_suite.sh: no [tool.mutmut-suite] in pyproject.toml" >&2; exit 2; }
    sed -i -e 's/^\[tool\.mutmut\]$/[tool.mutmut-verdict]/' -e 's/^\[tool\.mutmut-suite\]$/[tool.mutmut]/' \
        "$work/pyproject.toml"
    cd "$work"
    # Bytecode caching on, whatever the environment says: every whole suite run in a test re-imports
    # conformance.suite, which pytest rewrites (conformance is a pytest11 plugin) - the 3 MB mutated _flows.py and
    # the 700 kB test_caps.py were parsed, rewritten and compiled again in every run under
    # PYTHONDONTWRITEBYTECODE=1 (native_flow: 20 -> 49 mutants a minute with the cache, docs/testing.md).
    exec env -u PYTHONDONTWRITEBYTECODE nice -n 10 "$mutmut" run --max-children "${MUTMUT_CHILDREN:-1}" "$@"
fi
[ -d "$work/mutants" ] || { echo "mutation_suite.sh: no run yet (tools/mutation_suite.sh run)" >&2; exit 2; }
cd "$work"
exec "$mutmut" "$cmd" "$@"
