"""The pytest plugin in somebody else's CI: the verdict in the terminal summary, an exit status that can
fail the job (``--tapi-exitstatus`` / ini ``tapi_exitstatus``), shipped profiles by name, and one usage
error -- not one per test -- when no profile was given."""

from __future__ import annotations

import pytest

from conformance.report._results import REQUIREMENT_CLAUSES

pytest_plugins = ["pytester"]


def _suite(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--pyargs", "conformance.suite", *args,
                                         timeout=300)


def test_without_a_profile_one_usage_error(pytester: pytest.Pytester) -> None:
    result = _suite(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert text.count("need a PBX profile") == 1, text
    assert "--tapi-profile" in text and "Traceback" not in text


def test_not_compatible_fails_the_job_with_the_documented_status(pytester: pytest.Pytester) -> None:
    result = _suite(pytester, "--tapi-profile", "consult-connected-only", "--tapi-exitstatus")
    assert result.ret == 1, result.stdout.str()
    out = result.stdout.str()
    assert "Remote Office conformance" in out
    assert "Remote Office verdict: not-compatible   route: none" in out
    assert "consult_in_ringing" in out and "exit status 1: not compatible" in out


def test_pytest_status_stays_pytest_s_without_the_option(pytester: pytest.Pytester) -> None:
    result = _suite(pytester, "--tapi-profile", "consult-connected-only", "-k", "CONS_01 or cons_01")
    assert result.ret == 0
    out = result.stdout.str()
    assert f"partial run: 1 of {len(REQUIREMENT_CLAUSES)} requirements; verdict not judged" in out
    assert "--tapi-exitstatus makes it the one above" in out


def test_the_ini_setting_and_a_partial_run(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ntapi_exitstatus = true\ntapi_profile = blind-only\n")
    result = _suite(pytester, "-k", "FWD_01 or fwd_01")
    assert result.ret == 5, result.stdout.str()
    assert "exit status 5: partial run" in result.stdout.str()


def test_an_unknown_profile_name_is_a_usage_error_listing_the_shipped_ones(pytester: pytest.Pytester) -> None:
    result = _suite(pytester, "--tapi-profile", "no-such-pbx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "neither a file nor a shipped profile" in result.stderr.str() and "reference" in result.stderr.str()
