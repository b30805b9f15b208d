"""Certification of a run: ``trace.jsonl`` and ``profile.yaml`` next to results.json, and what pins them.

Registered by the plugin when the run writes results.json (``--tapi-results``). On the controller (also
under pytest-xdist) it collects each test's trace session from the teardown reports; at session end,
before JUnit XML and pytest-html write their files (``tryfirst``), it writes ``trace.jsonl``, copies the
profile to ``profile.yaml`` and fills ``RunResults.certification``: suite version, SHA-256 of profile and
trace, backend, provider and switch information from the desk line's LINEDEVCAPS, the negotiated TAPI
version, host OS and date. The same fields become JUnit ``testsuite`` properties (``ro_<field>``) and a
table in report.html. ``ro-conformance verify`` (``conformance.cli._verify``) checks them.
"""

from __future__ import annotations

import html
import platform
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Final

import pytest

from conformance._trace import sha256_of, write_trace

__all__ = ["FIELDS", "PROFILE_FILE", "TRACE_FILE", "Certifier", "certification_html", "suite_version"]

TRACE_FILE: Final = "trace.jsonl"
PROFILE_FILE: Final = "profile.yaml"
# The certification fields, in the order reports show them, with what each means.
FIELDS: Final[Mapping[str, str]] = {
    "suite_version": "version of the installed ro-conformance suite that judged the run",
    "profile_sha256": "SHA-256 of profile.yaml (a byte copy of the profile run)",
    "trace_sha256": "SHA-256 of trace.jsonl (every TAPI request, reply and message)",
    "backend": "backend spec the run used",
    "provider_info": "LINEDEVCAPS dwProviderInfo of the desk line",
    "switch_info": "LINEDEVCAPS dwSwitchInfo of the desk line",
    "line_name": "LINEDEVCAPS dwLineName of the desk line",
    "api_version": "TAPI version negotiated for the desk line",
    "host_os": "operating system of the machine that ran the suite",
    "python": "Python version",
    "date": "when the run finished (UTC)",
}


def suite_version() -> str:
    try:
        return version("ro-conformance")
    except PackageNotFoundError:
        return "unknown"


class Certifier:
    """pytest hooks: collect trace sessions, then write trace + profile copy and certify (see above)."""

    def __init__(self, config: pytest.Config, results_key: Any, profile_path: str) -> None:
        self.config = config
        self.results_key = results_key
        self.profile_path = Path(profile_path)
        self.sessions: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        session = getattr(report, "tapi_trace", None)
        if report.when == "teardown" and isinstance(session, dict):
            self.sessions.append(session)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(self.config, "workerinput"):
            return          # an xdist worker: the controller has every session
        results = self.config.stash.get(self.results_key, None)
        out = self.config.getoption("tapi_results")
        if results is None or not out:
            return
        directory = Path(out).parent
        spec = str(self.config.getoption("tapi_backend") or "sim")
        profile_copy = directory / PROFILE_FILE
        directory.mkdir(parents=True, exist_ok=True)
        if not profile_copy.exists() or not profile_copy.samefile(self.profile_path):
            _copy_profile(self.profile_path, profile_copy, results.profile.get("data") or {})
        header = {"suite_version": suite_version(), "backend": spec,
                  "profile": {"name": results.profile.get("name"), "sha256": sha256_of(profile_copy)},
                  "host_os": platform.platform(), "started": results.started}
        trace_sha = write_trace(directory / TRACE_FILE, header, self.sessions)
        ordered = sorted(self.sessions, key=lambda s: str(s["test"]))
        desk: dict[str, Any] = next((s["desk"] for s in ordered if s.get("desk")), {})
        api = desk.get("api_version")
        results.certification = {
            "suite_version": header["suite_version"],
            "profile_sha256": header["profile"]["sha256"], "trace_sha256": trace_sha,
            "backend": spec, "provider_info": desk.get("provider_info", ""),
            "switch_info": desk.get("switch_info", ""), "line_name": desk.get("line_name", ""),
            "api_version": f"0x{api:08X}" if isinstance(api, int) else "",
            "host_os": header["host_os"], "python": platform.python_version(),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": {"profile": PROFILE_FILE, "trace": TRACE_FILE},
        }
        _junit_properties(self.config, results.certification)


def _copy_profile(source: Path, target: Path, resolved: Mapping[str, Any]) -> None:
    """A byte copy of the profile; a profile derived with ``base:`` is written resolved instead, because
    its base file (a relative path) is not in the run directory and verify must load the copy alone."""
    import yaml

    text = source.read_text(encoding="utf-8")
    loaded = yaml.safe_load(text)
    if isinstance(loaded, dict) and "base" in loaded:
        header = f"# {source.name} resolved against its base: the profile as run (ro-conformance certification)\n"
        target.write_text(header + yaml.safe_dump(dict(resolved), sort_keys=False, allow_unicode=True),
                          encoding="utf-8")
    else:
        shutil.copyfile(source, target)


def _junit_properties(config: pytest.Config, cert: Mapping[str, Any]) -> None:
    from _pytest.junitxml import xml_key  # the LogXML object pytest keeps while --junitxml is active

    xml = config.stash.get(xml_key, None)
    if xml is None:
        return
    for name in FIELDS:
        xml.add_global_property(f"ro_{name}", str(cert.get(name, "")))


def certification_html(cert: Mapping[str, Any]) -> str:
    """The certification table of report.html (empty when the run was not certified)."""
    if not cert:
        return ""
    rows = "".join(f'<tr><th title="{html.escape(meaning)}">{html.escape(name)}</th>'
                   f'<td><code data-ro-cert="{html.escape(name)}">{html.escape(str(cert.get(name, "")))}</code>'
                   "</td></tr>" for name, meaning in FIELDS.items())
    return ('<section id="ro-certification"><h2>Certification</h2><p>Check this run with '
            "<code>ro-conformance verify DIR</code>: it recomputes the hashes, replays trace.jsonl with the "
            f'installed suite and confirms the verdict.</p><table class="ro-backend">{rows}</table></section>')
