"""``ro-conformance run`` and ``matrix``: usage errors (exit 4) and, with the suite, runs end to end.

The end-to-end tests run the real suite in-process on the simulator. They are skipped only while the
package ``conformance.suite`` does not exist; once it does they always run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from conformance.cli import main
from conformance.cli._run import pytest_args
from conformance.report._results import REQUIREMENT_CLAUSES

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "profiles"
BROKEN = ROOT / "tests" / "profiles_broken" / "duplicate-extension.yaml"



def _suite_exists() -> bool:
    spec = importlib.util.find_spec("conformance.suite")
    places = spec.submodule_search_locations if spec is not None else None
    return any(list(Path(p).glob("test_*.py")) for p in places or ())


needs_suite = pytest.mark.skipif(not _suite_exists(),
                                 reason="conformance.suite has no test modules yet: no suite to run end to end")


# --- usage and profile errors: exit 4, with a message, before pytest is involved ---------------------


def test_unknown_profile_name_is_exit_4_listing_the_shipped_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--profile", "no-such-pbx"]) == 4
    err = capsys.readouterr().err
    assert "profile not found: no-such-pbx is neither a file nor a shipped profile" in err
    assert "blind-only" in err and "reference" in err
    assert not (tmp_path / "reports").exists()


def test_a_directory_as_profile_is_exit_4_saying_it_is_a_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mypbx").mkdir()
    assert main(["run", "--profile", "mypbx"]) == 4
    err = capsys.readouterr().err
    assert "profile mypbx is a directory; give one profile file" in err and "neither" not in err
    assert not (tmp_path / "reports").exists()


def test_serve_without_a_usable_profile_explains_itself_as_run_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", "no-such-pbx"]) == 4
    run_err = capsys.readouterr().err
    assert main(["serve", "--profile", "no-such-pbx", "--listen", "127.0.0.1:0"]) == 4
    assert capsys.readouterr().err == run_err


def test_shipped_names_resolve_with_or_without_suffix_and_paths_win() -> None:
    from conformance._shipped import resolve_profile, shipped_profiles

    shipped = shipped_profiles()
    assert {"reference", "blind-only", "consult-ringing"} <= set(shipped)
    assert Path(resolve_profile("blind-only")) == Path(resolve_profile("blind-only.yaml")) == shipped["blind-only"]
    assert resolve_profile(str(BROKEN)) == str(BROKEN)


def test_version_and_top_level_help_speak_to_users(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert re.fullmatch(r"ro-conformance \S+\n", capsys.readouterr().out)
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    assert "does this PBX support Remote Office?" in text and "``" not in text
    for command in ("run", "matrix", "profiles", "validate", "schema", "serve"):
        assert re.search(rf"^\s+{command}\s+\w", text, re.MULTILINE), command
    assert "exit status:" in text and "5  partial run" in text


def test_run_help_lists_every_backend_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    for spec in ("sim:", "sim:PROFILE", "bridge://HOST:PORT", "tapi32::", "tapi32:emulated"):
        assert spec in text, spec


def test_profiles_lists_every_shipped_profile_with_its_expected_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    from conformance._shipped import shipped_profiles

    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["name", "expected", "verdict"]
    names = [line.split()[0] for line in lines[1:] if line.strip()]
    assert names == list(shipped_profiles())


def test_expected_verdict_text_reads_the_expect_block() -> None:
    from conformance.cli._profiles import expected_text

    assert expected_text({"verdict": "compatible", "route": "blind"}) == "compatible (blind)"
    assert expected_text({"verdict": "not-compatible", "fails": ["RO-FWD-02"]}) == "not-compatible; fails: RO-FWD-02"
    assert expected_text(None) == "not stated"


def test_schema_prints_the_json_schema_the_loader_uses(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((ROOT / "simulator" / "profile.schema.json").read_text(encoding="utf-8"))
    assert printed["$schema"].startswith("https://json-schema.org/")


def test_broken_profile_is_exit_4_with_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", str(BROKEN), "--out", str(tmp_path / "out")]) == 4
    err = capsys.readouterr().err
    assert "is not a valid profile" in err
    assert re.search(r"duplicate-extension\.yaml:\d+: ", err)
    assert not (tmp_path / "out").exists()


def test_unknown_backend_is_exit_4_naming_the_available_ones(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--profile", str(PROFILES / "reference.yaml"), "--backend", "nosuch://x",
                 "--out", str(tmp_path / "out")])
    assert code == 4
    err = capsys.readouterr().err
    assert "unknown backend 'nosuch'" in err and "sim" in err and "bridge" in err


def test_bad_option_is_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--no-such-option"]) == 4


def test_matrix_with_unknown_backend_is_exit_4(tmp_path: Path) -> None:
    assert main(["matrix", str(PROFILES / "reference.yaml"), "--backend", "nosuch",
                 "--out", str(tmp_path)]) == 4


def test_pytest_args_wire_plugin_options_and_the_three_files(tmp_path: Path) -> None:
    args = pytest_args(Path("/p/x.yaml"), "sim", tmp_path, "FWD", "2", "x")

    def value(opt: str) -> str:
        return args[args.index(opt) + 1]

    assert value("--pyargs") == "conformance.suite"
    assert value("--tapi-profile") == "/p/x.yaml" and value("--tapi-backend") == "sim"
    assert value("--tapi-results") == str(tmp_path / "results.json")
    assert value("--junitxml") == str(tmp_path / "junit.xml")
    assert value("--html") == str(tmp_path / "report.html") and "--self-contained-html" in args
    assert "--css" not in args     # pytest-html would print the style sheet's local path into the page
    assert value("-k") == "FWD" and value("-n") == "2"
    overrides = [args[i + 1] for i, a in enumerate(args) if a == "-o"]
    assert overrides == ["junit_suite_name=ro-conformance x", "tapi_summary=false"]
    assert value("-c") == os.devnull   # the caller's ini files do not change the suite
    # the suite plugin comes from its pytest11 entry point; asking again with -p would register it twice
    assert "conformance.plugin" not in args


def test_pytest_args_without_plugin_autoload_name_the_plugins(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    args = pytest_args(Path("x.yaml"), "sim", tmp_path, None, None)
    plugins = [args[i + 1] for i, a in enumerate(args) if a == "-p"]
    assert {"conformance.plugin", "pytest_html.plugin", "pytest_metadata.plugin"} <= set(plugins)
    assert "-k" not in args and "-n" not in args


# --- end to end ------------------------------------------------------------------------------------


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().out


def results_of(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return data


@needs_suite
def test_run_reference_is_compatible_with_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ref"
    code, console = run_cli(["run", "--profile", str(PROFILES / "reference.yaml"), "--out", str(out)], capsys)
    data = results_of(out)
    assert code == 0, console
    assert {p.name for p in out.iterdir()} >= {"report.html", "results.json", "junit.xml"}
    assert data["format"] == "ro-conformance-results/1"
    assert data["remote_office"]["verdict"] == "compatible" and data["exit_status"] == 0
    assert "Remote Office verdict: compatible" in console and str(out / "report.html") in console
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Remote Office conformance — reference" in page
    assert page.index('id="ro-verdict"') < page.index('id="ro-requirements"') < page.index('id="results-table"')
    assert "<svg" in page
    assert len(page.encode("utf-8")) <= 250_000, "report.html of the reference profile must stay <= 250 KB"
    for local in (str(ROOT), str(tmp_path), str(Path.home()), "site-packages"):
        assert local not in page, f"a local path is in the report: {local}"
    recorded = sum(1 for t in data["tests"] if t["records"])
    assert page.count("<svg") == recorded, "each requirement's ladder is stored exactly once"
    assert "[[" not in page and "]]" not in page
    junit = (out / "junit.xml").read_text(encoding="utf-8")
    assert 'name="ro_outcome"' in junit


@needs_suite
def test_run_default_out_dir_is_reports_profile_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "reference.yaml").write_bytes((PROFILES / "reference.yaml").read_bytes())
    code, console = run_cli(["run", "-k", "FWD_01 or fwd_01"], capsys)
    assert (tmp_path / "reports" / "reference" / "results.json").is_file(), console
    # a subset cannot prove the whole tree: a partial run says so and has its own status
    assert f"partial run: 1 of {len(REQUIREMENT_CLAUSES)} requirements; verdict not judged" in console
    assert "Remote Office verdict" not in console
    assert code == 5
    page = (tmp_path / "reports" / "reference" / "report.html").read_text(encoding="utf-8")
    assert f"partial run: 1 of {len(REQUIREMENT_CLAUSES)} requirements; verdict not judged" in page
    assert "NOT JUDGED" in page


@needs_suite
def test_run_consult_connected_only_is_not_compatible_exit_1(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cco"
    code, console = run_cli(["run", "--profile", str(PROFILES / "consult-connected-only.yaml"),
                             "--out", str(out)], capsys)
    data = results_of(out)
    assert code == 1, console
    assert data["remote_office"]["verdict"] == "not-compatible"
    assert "consult_in_ringing" in console and "RO-CONS-01" in console


@needs_suite
def test_matrix_on_two_profiles(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, console = run_cli(["matrix", str(PROFILES / "reference.yaml"),
                             str(PROFILES / "consult-connected-only.yaml"), "--out", str(tmp_path)], capsys)
    assert code == 1, console   # the worse of 0 and 1
    for name in ("reference", "consult-connected-only"):
        assert (tmp_path / name / "report.html").is_file()
    page = (tmp_path / "matrix.html").read_text(encoding="utf-8")
    assert 'href="reference/report.html"' in page and 'href="consult-connected-only/report.html"' in page
    md = (tmp_path / "matrix.md").read_text(encoding="utf-8")
    assert "| compatible |" in md and "| not-compatible |" in md


@needs_suite
def test_run_escapes_pbx_names_in_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = "<script>alert(1)</script> \"O''Brien\""   # YAML single-quoted: '' is one quote
    text = (PROFILES / "reference.yaml").read_text(encoding="utf-8")
    text = text.replace("name: Target,", f"name: '{evil}',").replace("name: Desk under test}", f"name: '{evil}'}}")
    assert text.count("<script>") == 2
    profile = tmp_path / "evil.yaml"
    profile.write_text(text, encoding="utf-8")
    code, console = run_cli(["run", "--profile", str(profile), "--out", str(tmp_path / "out")], capsys)
    assert code == 0, console
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;O&#x27;&#x27;Brien&quot;" in page   # the profile text
    assert "<script>alert" not in page and page.count("<script") == 1   # only pytest-html's app.js


def test_bad_input_is_a_message_and_exit_4_never_a_traceback(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    unwritable = tmp_path / "file"
    unwritable.write_text("not a directory", encoding="utf-8")
    profile = str(Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml")
    for argv in (["run", "--profile", profile, "--out", str(unwritable / "out")],
                 ["run", "--profile", profile, "--backend", f"sim:{tmp_path / 'missing.yaml'}"]):
        assert main(argv) == 4, argv
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.startswith("ro-conformance"), err
