"""pytest plugin (entry point ``pytest11: tapi``). Inert unless its options or fixtures are used.

Options (group "tapi"): ``--tapi-backend SPEC`` (default ``sim``), ``--tapi-profile PATH|NAME`` (a file
or a shipped profile's name; ini ``tapi_profile``, env ``TAPI_PROFILE``), ``--tapi-results PATH``
(results.json at session end), ``--tapi-exitstatus`` (ini ``tapi_exitstatus``: pytest's exit status
becomes ro-conformance's, 0..5, so a not-compatible PBX fails a CI job). The terminal summary shows the
Remote Office verdict, route and clauses (ini ``tapi_summary = false`` turns it off). Collecting suite
tests without a profile is one usage error, not one error per test.

Markers: ``tapi_requires(*claims)`` (``_suite_claims``; an unmet claim makes the test not-applicable),
``requirement(id)`` (the stable requirement id, e.g. ``RO-FWD-01``; ``test_ro_fwd_01_*`` works too).

Fixtures: ``tapi_profile`` (session), ``tapi_backend`` (a fresh recorded backend per test),
``tapi_parties``, ``tapi_line`` (the opened desk line), ``tapi_session`` (``LineSession``: bounded waits,
pre/post conditions around the test).

Keys for other plugins (the reports): ``config.stash[RESULTS_KEY]`` (``RunResults``, filled on the
controller from the reports, also under pytest-xdist), ``item.stash[OUTCOME_KEY]`` (the test's
``TestOutcome``; final after the teardown report), ``item.stash[RECORDER_KEY]`` (its
``RecordingBackend``), and on every teardown report ``report.tapi_outcome`` (``TestOutcome`` as a dict)
plus the JUnit properties ``ro_outcome`` / ``ro_requirement``. ``item.stash[TRACE_KEY]`` is the test's
``TraceBackend`` (``_trace``: the full trace the recorder sits on); with ``--tapi-results`` the
``_certification`` plugin writes ``trace.jsonl`` and ``profile.yaml`` next to results.json and certifies
them (results.json ``certification``, JUnit ``ro_*`` testsuite properties, the report's table).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from conformance._plugin_outcomes import (
    ItemState,
    classify,
    link_verdict,
    make_outcome,
    outcome_from_payload,
    requirement_of,
)
from conformance._recorder import RecordingBackend
from conformance._registry import backend_class, open_backend, split_spec
from conformance._trace import TraceBackend
from conformance.backend import Backend, PartyControl
from conformance.report._results import RunResults, TestOutcome
from conformance.suite._claims import as_if_offered, undocumented_claims, unmet
from conformance.suite._errors import HarnessError, Inconclusive, NotApplicable
from conformance.suite._session import DeskLine, LineSession, open_desk_line
from simulator._errors import BackendUnavailable, ProfileError, TapiError
from simulator._profile_model import Profile

__all__ = ["OUTCOME_KEY", "PROFILE_KEY", "RECORDER_KEY", "RESULTS_KEY", "TRACE_KEY"]

RESULTS_KEY = pytest.StashKey[RunResults]()
OUTCOME_KEY = pytest.StashKey[TestOutcome]()
PROFILE_KEY = pytest.StashKey[Profile]()
RECORDER_KEY = pytest.StashKey[RecordingBackend]()
TRACE_KEY = pytest.StashKey[TraceBackend]()
_STATE_KEY = pytest.StashKey[ItemState]()
_INFO_KEY = pytest.StashKey[dict[str, Any]]()
_SESSION_KEY = pytest.StashKey[LineSession]()
_FIXTURES = frozenset({"tapi_profile", "tapi_backend", "tapi_parties", "tapi_line", "tapi_session"})
ENV_PROFILE = "TAPI_PROFILE"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tapi", "TAPI Remote Office conformance")
    group.addoption("--tapi-backend", dest="tapi_backend", default="sim", metavar="SPEC",
                    help="backend spec: sim (default), sim:PROFILE, bridge://HOST:PORT, tapi32:")
    group.addoption("--tapi-profile", dest="tapi_profile", default=None, metavar="PATH",
                    help=f"PBX profile: a YAML file or a shipped profile's name (ro-conformance profiles); "
                         f"also ini tapi_profile or env {ENV_PROFILE}")
    group.addoption("--tapi-results", dest="tapi_results", default=None, metavar="PATH",
                    help="write results.json (per-requirement outcomes, Remote Office verdict) here")
    group.addoption("--tapi-exitstatus", dest="tapi_exitstatus", action="store_true", default=None,
                    help="exit with ro-conformance's status (0 compatible, 1 not compatible, 2 a claim not "
                         "honoured, 3 errors/inconclusive, 5 partial run) instead of pytest's; "
                         "also ini tapi_exitstatus")
    parser.addini("tapi_profile", "PBX profile (YAML file or shipped name) for the conformance suite",
                  default="")
    parser.addini("tapi_exitstatus", "exit with ro-conformance's status instead of pytest's", type="bool",
                  default=False)
    parser.addini("tapi_summary", "print the Remote Office verdict in the terminal summary", type="bool",
                  default=True)


def _profile_path(config: pytest.Config) -> str | None:
    given = config.getoption("tapi_profile")
    if given:
        return str(given)
    ini = str(config.getini("tapi_profile") or "")
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return str(base / ini) if (base / ini).is_file() else ini    # a file next to the ini, else a name
    return os.environ.get(ENV_PROFILE) or None


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "tapi_requires(*claims): run only if the PBX profile makes these "
                                       "claims (blind_transfer, forwarding, trunks>=2, ...); else not-applicable")
    config.addinivalue_line("markers", "requirement(id): stable conformance requirement id, e.g. RO-FWD-01")
    spec = str(config.getoption("tapi_backend") or "sim")
    if spec != "sim":
        try:
            backend_class(split_spec(spec)[0])
        except BackendUnavailable as exc:
            raise pytest.UsageError(f"--tapi-backend {spec}: {exc}") from exc
    path = _profile_path(config)
    if path is None:
        if config.getoption("tapi_results"):
            raise pytest.UsageError("--tapi-results needs a profile: --tapi-profile PATH")
        return
    # Imported here: the plugin loads in every pytest run of the environment, and the profile loader
    # (jsonschema, PyYAML) is only needed once a run asks for a profile.
    from conformance._shipped import ShippedProfileError, resolve_profile
    from simulator._profile import load_profile

    try:
        profile = load_profile(resolve_profile(path))
    except ShippedProfileError as exc:
        raise pytest.UsageError(f"--tapi-profile: {exc}") from exc
    except ProfileError as exc:
        raise pytest.UsageError(f"profile {path} is broken:\n{exc}") from exc
    except OSError as exc:
        raise pytest.UsageError(f"profile {path} cannot be read: {exc}") from exc
    config.stash[PROFILE_KEY] = profile
    config.stash[RESULTS_KEY] = RunResults(
        profile={"name": profile.name, "path": profile.path, "vendor": profile.vendor,
                 "description": profile.description, "source": profile.source,
                 "undocumented": sorted(profile.undocumented), "data": _jsonable(profile.raw)},
        backend={"spec": spec}, started=datetime.now(UTC).isoformat(timespec="seconds"))
    config.pluginmanager.register(_Collector(config), "tapi-results-collector")
    if config.getoption("tapi_results"):
        from conformance._certification import Certifier  # trace.jsonl + certification fields

        config.pluginmanager.register(Certifier(config, RESULTS_KEY, path), "tapi-certifier")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """Suite tests collected without a profile: one usage error now rather than an error in every test."""
    if PROFILE_KEY in config.stash or hasattr(config, "workerinput"):
        return
    needing = [item for item in items if _relevant(item)]
    if needing:
        raise pytest.UsageError(
            f"{len(needing)} collected test(s) need a PBX profile (e.g. {needing[0].nodeid}): pass "
            f"--tapi-profile FILE-or-NAME (ini tapi_profile, env {ENV_PROFILE}); 'ro-conformance profiles' "
            "lists the shipped names")


class _Collector:
    """Builds ``RunResults`` from teardown reports (on the xdist controller too) and writes results.json,
    prints the verdict in the terminal summary and, when asked, sets the exit status from it."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self._data: dict[str, Any] | None = None

    def jsonable_results(self) -> dict[str, Any]:
        """results.json's data, serialised once after the session (evidence records are large); the
        HTML report reads it from here (plugin name ``tapi-results-collector``)."""
        if self._data is None:
            self._data = self.config.stash[RESULTS_KEY].to_jsonable()
        return self._data

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        payload = getattr(report, "tapi_outcome", None)
        if report.when != "teardown" or not isinstance(payload, dict):
            return
        results = self.config.stash[RESULTS_KEY]
        results.tests.append(outcome_from_payload(payload))
        info = getattr(report, "tapi_backend_info", None)
        if isinstance(info, dict) and "info" not in results.backend:
            results.backend.update(name=info.get("backend", ""), info=info)

    def _exitstatus_wanted(self) -> bool:
        given = self.config.getoption("tapi_exitstatus")
        return bool(given) if given is not None else bool(self.config.getini("tapi_exitstatus"))

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> Generator[None, None, None]:
        # Before the other plugins (the HTML report reads the finished results), and after them: write
        # results.json and, when asked, take over the exit status.
        self.config.stash[RESULTS_KEY].finished = datetime.now(UTC).isoformat(timespec="seconds")
        self._data = None
        yield
        if hasattr(self.config, "workerinput"):
            return      # an xdist worker: the controller has every report and writes the file
        results = self.config.stash[RESULTS_KEY]
        out = self.config.getoption("tapi_results")
        if out:
            target = Path(out)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(self.jsonable_results(), indent=2) + "\n", encoding="utf-8")
        if self._exitstatus_wanted() and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) \
                and results.tests:
            from conformance.report._summary import run_status

            session.exitstatus = run_status(self.jsonable_results(), self.config.option.keyword)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        results = self.config.stash[RESULTS_KEY]
        if hasattr(self.config, "workerinput") or not results.tests or not self.config.getini("tapi_summary"):
            return
        from conformance.report._summary import summary_lines

        terminalreporter.section("Remote Office conformance")
        for line in summary_lines(self.jsonable_results(), self.config.option.keyword):
            terminalreporter.write_line(line)
        if not self._exitstatus_wanted():
            terminalreporter.write_line("(pytest's own exit status; --tapi-exitstatus makes it the one above)")


def _relevant(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("requirement") or item.get_closest_marker("tapi_requires")
                or _FIXTURES & set(getattr(item, "fixturenames", ())))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Not applicable before any backend opens: the profile does not claim what the test needs."""
    claims = [str(c) for m in item.iter_markers("tapi_requires") for c in m.args]
    if not claims:
        return
    profile = item.config.stash.get(PROFILE_KEY, None)
    if profile is None:
        raise HarnessError("no profile: pass --tapi-profile PATH (or ini tapi_profile, env TAPI_PROFILE)")
    # Not offered whatever the undocumented keys say: not applicable. Resting on an undocumented key:
    # not judged (docs/profiles.md, "Undocumented claims"), never a pass by default.
    missing = unmet(as_if_offered(profile), claims)
    if missing:
        raise NotApplicable("; ".join(reason for _, reason in missing), claims=tuple(c for c, _ in missing))
    undocumented = undocumented_claims(profile, claims)
    if undocumented:
        raise Inconclusive("; ".join(undocumented))


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # trylast: the innermost wrapper, so report plugins' wrappers already see our outcome.
    report = yield
    state = item.stash.get(_STATE_KEY, None)
    if state is None:
        if not _relevant(item):
            return report
        state = item.stash[_STATE_KEY] = ItemState(requirement_of(item) or item.nodeid)
    outcome, reason = classify(call.when, call.excinfo)
    session = item.stash.get(_SESSION_KEY, None)
    if session is not None and outcome != "pass":
        # A dead link (LINE_CLOSE, REINIT, ...) first: whatever the test concluded after it is an error.
        outcome, reason = link_verdict(outcome, reason, session.check_link())
    recorder = item.stash.get(RECORDER_KEY, None)
    if recorder is not None and outcome in ("fail", "error", "inconclusive") \
            and not any(r.failed for r in recorder.records):
        recorder.mark_failure(f"{outcome}: {reason}")
    cites = getattr(call.excinfo.value, "cites", ()) if call.excinfo is not None and outcome != "pass" else ()
    before = state.judged
    state.add(call.when, outcome, reason, call.duration, [c.to_jsonable() for c in cites])
    located = [c.seq for c in cites if c.seq is not None]
    if recorder is not None and located and state.judged is not before:
        recorder.keep_marks(located)        # this verdict is the test's: its cites are what the ladder marks
    if outcome == "not-applicable" and call.excinfo is not None:
        state.unmet_claims = list(getattr(call.excinfo.value, "claims", ()))
    result = make_outcome(item, state, recorder.to_jsonable() if recorder is not None else [])
    item.stash[OUTCOME_KEY] = result
    if outcome != "pass":
        report.sections.append(("ro-conformance", f"{state.requirement}: {outcome}: {reason}"))
        report.tapi_phase_outcome = outcome                            # type: ignore[attr-defined]
    if call.when == "teardown":
        # Through JSON: plain types only (IntFlag params in the records would not cross to xdist).
        report.tapi_outcome = _jsonable(result.to_jsonable())          # type: ignore[attr-defined]
        report.tapi_backend_info = item.stash.get(_INFO_KEY, None)   # type: ignore[attr-defined]
        trace = item.stash.get(TRACE_KEY, None) if item.config.getoption("tapi_results") else None
        report.tapi_trace = trace.session() if trace is not None else None   # type: ignore[attr-defined]
        report.user_properties.append(("ro_outcome", result.outcome))
        report.user_properties.append(("ro_requirement", result.id))
    return report


# pytest's words for a phase that raised, when the suite judged it otherwise: "FAILED" / "ERROR" lines in the
# console for a requirement the verdict lists as inconclusive or not applicable contradict the verdict (a new
# user reads them first). The report's own outcome stays "failed", so pytest-html, JUnit and pytest's exit
# code are unchanged; only the console's letter, word and summary category follow the suite's outcome.
_STATUS_WORDS = {"inconclusive": ("inconclusive", "I", "INCONCLUSIVE"),
                 "not-applicable": ("not applicable", "N", "NOT APPLICABLE")}


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """The console status of a phase the suite judged inconclusive / not applicable (not "failed")."""
    outcome = getattr(report, "tapi_phase_outcome", None)
    if report.outcome == "failed" and outcome in _STATUS_WORDS:
        return _STATUS_WORDS[outcome]
    return None


# ----- fixtures -----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def tapi_profile(pytestconfig: pytest.Config) -> Profile:
    """The PBX profile of the run (``--tapi-profile``)."""
    profile = pytestconfig.stash.get(PROFILE_KEY, None)
    if profile is None:
        raise HarnessError("no profile: pass --tapi-profile PATH (or ini tapi_profile, env TAPI_PROFILE)")
    return profile


@pytest.fixture
def tapi_backend(request: pytest.FixtureRequest, tapi_profile: Profile) -> Iterator[RecordingBackend]:
    """A fresh backend for this test, recorded (the evidence of the report), closed afterwards."""
    spec = str(request.config.getoption("tapi_backend") or "sim")
    try:
        inner = open_backend(spec, tapi_profile)
    except BackendUnavailable as exc:
        raise HarnessError(f"--tapi-backend {spec}: {exc}") from exc
    traced = TraceBackend(inner, test=request.node.nodeid)     # the full trace, for trace.jsonl and replay
    request.node.stash[TRACE_KEY] = traced
    backend = RecordingBackend(cast(Backend, traced))
    request.node.stash[RECORDER_KEY] = backend
    with contextlib.suppress(Exception):
        request.node.stash[_INFO_KEY] = _jsonable(backend.info())
    yield backend
    backend.close()


@pytest.fixture
def tapi_parties(tapi_backend: RecordingBackend) -> PartyControl:
    """Control of the parties around the PBX (recorded)."""
    return tapi_backend.parties


@pytest.fixture
def tapi_line(tapi_backend: RecordingBackend, tapi_profile: Profile) -> Iterator[DeskLine]:
    """The desk line (PIXIT ``desk``) opened OWNER|MONITOR with every status message enabled."""
    line = open_desk_line(tapi_backend, tapi_profile)
    yield line
    with contextlib.suppress(TapiError):     # also after a dead line / bridge: the clean-up never crashes
        tapi_backend.line_shutdown(line.h_line_app)


@pytest.fixture
def tapi_session(request: pytest.FixtureRequest, tapi_backend: RecordingBackend, tapi_profile: Profile,
                 tapi_line: DeskLine) -> Iterator[LineSession]:
    """Bounded waits on the desk line; checks the line is clean before and puts it back after the test."""
    session = LineSession(tapi_backend, tapi_profile, tapi_line)
    marker = request.node.get_closest_marker("requirement")
    session.requirement = str(marker.args[0]) if marker and marker.args else ""
    request.node.stash[_SESSION_KEY] = session
    session.precondition()
    yield session
    session.postcondition()
