"""Golden verdict texts: what the suite says about a profile, word for word, kept in tests/golden/.

A verdict's reason (and, for the shipped profiles, the steps each test logs) is what a vendor reads in
results.json and the report, so a change to it is a change to the product: it must show up in a diff.
``check_golden`` compares a run with its file; ``pytest --update-golden`` (tests/conftest.py) rewrites
the files from the run instead, for a deliberate change:

    .venv/bin/pytest -q tests/test_profile_catalogue.py tests/test_suite_profiles.py --update-golden
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

GOLDEN = Path(__file__).resolve().parent / "golden"


# What an absence followed (``LineSession.wait_message(after=...)``, kept in a ``no_message`` cite's facts):
# the request or the party action the missing event should have come after. Deterministic in-process.
AFTER_KEYS = ("request_id", "role", "action")


def _detail(kind: str, facts: dict[str, Any]) -> str:
    """Which record of its kind a cite names, from facts that are the same on every in-process run: the
    party role and fields, the function and field or flag, the error, the claim keys (values are left out)."""
    fields = ",".join(facts.get("fields") or ())
    if kind == "no_message":
        after = " ".join(f"{key}={facts[key]}" for key in AFTER_KEYS if key in facts)
        return f"after {after}" if after else ""
    return {"party": f"{facts.get('role')}: {fields}", "value": f"{facts.get('function')}: {fields}",
            "flag": f"{facts.get('function')}: {facts.get('field')} {facts.get('name')}",
            "error": f"{facts.get('function')}: {facts.get('error')}",
            "reply": f"{facts.get('function')}: {facts.get('result')}",
            "claim": ",".join(facts.get("keys") or ())}.get(kind, "")


def _judged(test: dict[str, Any]) -> str:
    """``judged: KIND (DETAIL), ...``: the kinds of the records the verdict cites (results.json
    ``tests[].judged``, conformance/_evidence.py) and which record each names (``_detail``)."""
    kinds = []
    for cite in test.get("judged") or ():
        detail = _detail(str(cite["kind"]), cite.get("facts") or {})
        kinds.append(f"{cite['kind']} ({detail})" if detail else str(cite["kind"]))
    return "    judged: " + (", ".join(kinds) or "none")


def golden_text(results: dict[str, Any], *, steps: bool) -> str:
    """One line per requirement test, ``ID outcome`` plus ``: reason`` unless it passed, then (indented)
    what its verdict cites (``_judged``); with ``steps`` the steps it logged (``step: ...`` notes) follow,
    indented."""
    lines: list[str] = []
    for test in sorted(results["tests"], key=lambda t: str(t["id"])):
        outcome = str(test["outcome"])
        lines.append(f"{test['id']} {outcome}" + ("" if outcome == "pass" else f": {test['reason']}"))
        if outcome != "pass":
            lines.append(_judged(test))
        if steps:
            lines += [f"    {r['text']}" for r in test["records"]
                      if r["kind"] == "note" and str(r["text"]).startswith("step: ")]
    return "\n".join(lines) + "\n"


def check_golden(config: pytest.Config, name: str, results: dict[str, Any], *, steps: bool = False) -> None:
    """The run's ``golden_text`` equals tests/golden/``name``.txt (or replaces it with --update-golden)."""
    path = GOLDEN / f"{name}.txt"
    text = golden_text(results, steps=steps)
    if config.getoption("update_golden"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: run pytest with --update-golden to write it"
    want = path.read_text(encoding="utf-8")
    if text != want:
        got, expected = text.splitlines(), want.splitlines()
        diff = [f"- {e}\n+ {g}" for g, e in zip(got, expected, strict=False) if g != e][:5]
        pytest.fail(f"the verdict texts differ from {path.relative_to(GOLDEN.parent.parent)} "
                    f"(a deliberate change: --update-golden):\n" + "\n".join(diff)
                    + ("" if len(got) == len(expected) else f"\n({len(got)} lines, expected {len(expected)})"),
                    pytrace=False)
