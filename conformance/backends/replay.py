"""``replay:PATH`` - the provider of a recorded run (``trace.jsonl``) played back to the suite.

Every Backend call of a test must be the next one the trace recorded for that test, with equal
arguments; it then gets the recorded result (or raises the recorded error), and ``now()`` returns the
clock readings the recorded run saw, so the suite takes the same decisions and reaches the same
outcomes. The first call that differs raises ``ReplayDivergence`` naming the test, the position (entry
number and line of the trace), the function and the first differing argument; the divergence is sticky
(every later call and ``close`` raise it again), so no clean-up can swallow it and the test is an error.

No DLL, socket or simulator is involved: a trace recorded through ``tapi32:emulated`` (or ``tapi32:`` on
Windows, or a bridge) replays on any OS. ``PATH`` is the trace file or the run directory holding it.
"""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path
from typing import Any

from conformance._trace import (
    ReplayDivergence,
    TraceFileError,
    bind_args,
    decode,
    decode_error,
    encode_args,
    read_trace,
    sha256_of,
)
from conformance.backend import TAPI_NAMES, PartyView
from simulator._errors import BackendUnavailable
from simulator._profile_model import Profile

__all__ = ["ReplayBackend"]

_CACHE: dict[tuple[str, float, int], tuple[dict[str, Any], dict[str, dict[str, Any]]]] = {}
_CACHE_LOCK = threading.Lock()
_warned: set[tuple[str, str, str, str]] = set()


def _load(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The parsed trace, parsed once per file version (the suite opens one backend per test)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime, stat.st_size)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = read_trace(path)
        return _CACHE[key]


def _show(args: Any) -> str:
    if isinstance(args, dict):
        return ", ".join(f"{k}={_show(v)}" for k, v in args.items())
    text = repr(args)
    return text if len(text) <= 120 else text[:119] + "\u2026"


class ReplayBackend:
    """The Backend contract served from a trace (see the module docstring)."""

    name = "replay"

    def __init__(self, path: str | Path) -> None:
        given = Path(path)
        self.path = given / "trace.jsonl" if given.is_dir() else given
        if not self.path.is_file():
            raise BackendUnavailable(f"replay: no trace at {self.path}")
        try:
            self.header, self.sessions = _load(self.path)
        except (TraceFileError, OSError) as exc:
            raise BackendUnavailable(f"replay: {exc}") from exc
        self.test = ""
        self.entries: list[dict[str, Any]] = []
        self.position = 0
        self.clock_index = 0
        self.last_time = 0.0
        self.info_recorded: dict[str, Any] = {}
        self.divergence: ReplayDivergence | None = None
        self.parties = _ReplayParties(self)

    @classmethod
    def from_spec(cls, target: str, profile: Profile | None) -> ReplayBackend:
        """``replay:PATH`` (a trace.jsonl, or the run directory that holds one)."""
        if not target:
            raise BackendUnavailable("replay: needs a trace: replay:PATH/trace.jsonl")
        backend = cls(target)
        if profile is not None and profile.path:
            backend.check_profile(profile)
        return backend

    def check_profile(self, profile: Profile) -> bool:
        """False (and a warning on stderr, once per process) when the trace was recorded with another profile.

        The replayed PBX is the recorded one whatever ``--profile`` says, so judging it against other claims
        gives a verdict about a PBX that was never run. Told apart by the profile's name, and by the file's
        SHA-256 when the run's profile is a plain file (a ``base:`` profile is recorded resolved, so its
        bytes differ from the file by design)."""
        recorded = self.header.get("profile") or {}
        name, sha = str(recorded.get("name") or ""), str(recorded.get("sha256") or "")
        path = Path(profile.path)
        try:
            text = path.read_text(encoding="utf-8")
            run_sha = "" if re.search(r"^base\s*:", text, re.MULTILINE) else sha256_of(path)
        except OSError:
            run_sha = ""
        if (not name or name == profile.name) and (not sha or not run_sha or sha == run_sha):
            return True
        key = (str(self.path), name, sha, str(path))
        if key not in _warned:
            _warned.add(key)
            print(f"ro-conformance: warning: the trace {self.path} was recorded with profile {name!r} "
                  f"(sha256 {sha[:12]}...), not the run's --profile {path} ({profile.name!r}"
                  f"{f', sha256 {run_sha[:12]}...' if run_sha else ''}): the replay plays the recorded PBX "
                  f"while the verdict judges the claims of {path}", file=sys.stderr, flush=True)
        return False

    # --- which test ---------------------------------------------------------------------------
    def bind_test(self, test: str) -> None:
        """Serve the session recorded for ``test`` (a pytest node id); called by ``TraceBackend``."""
        self.test = test
        session = self.sessions.get(test)
        if session is None:
            self.divergence = ReplayDivergence(
                f"replay: the trace {self.path} has no session for {test} (it recorded "
                f"{len(self.sessions)} tests); was it made with another selection or suite version?")
            return
        self.entries = session["entries"]
        self.info_recorded = dict(session.get("info") or {})
        self.position, self.clock_index, self.last_time = 0, 0, 0.0

    # --- the core: the next recorded entry must be this call ------------------------------------
    def _where(self, entry: dict[str, Any] | None) -> str:
        if entry is None:
            return f"{self.test}, after entry {self.position} (the recording of this test ends there)"
        return f"{self.test}, entry {entry['pos']} (trace.jsonl line {entry['line']})"

    def _diverge(self, text: str) -> ReplayDivergence:
        if self.divergence is None:
            self.divergence = ReplayDivergence(f"replay diverged from the recording: {text}")
        return self.divergence

    def serve(self, kind: str, method: str, args: dict[str, Any]) -> Any:
        """The recorded outcome of the next entry, if it is this call; else ``ReplayDivergence``."""
        if self.divergence is not None:
            raise self.divergence
        function = TAPI_NAMES.get(method, method)
        now = encode_args(args)
        entry = self.entries[self.position] if self.position < len(self.entries) else None
        if entry is None or entry["type"] != kind or entry["method"] != method:
            recorded = "nothing" if entry is None else f"{entry['function']}({_show(entry['args'])})"
            raise self._diverge(f"{self._where(entry)}: the suite called {function}({_show(now)}), "
                                f"the recording has {recorded}")
        if now != entry["args"]:
            name = next((k for k in entry["args"] if now.get(k) != entry["args"][k]), "?")
            raise self._diverge(f"{self._where(entry)}: {function} argument {name} is "
                                f"{_show(now.get(name))}, the recording has {_show(entry['args'].get(name))}")
        self.position += 1
        self.clock_index = 0
        self.last_time = float(entry.get("t", self.last_time))
        if "error" in entry:
            raise decode_error(entry["error"])
        return decode(entry.get("result"))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.serve("call", method, bind_args(method, args, kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("line_") and name in TAPI_NAMES:
            return lambda *args, **kwargs: self.call(name, *args, **kwargs)
        raise AttributeError(name)

    # --- not TAPI -----------------------------------------------------------------------------
    def now(self) -> float:
        """The clock readings the recorded suite took before the next entry, in order; then the last time."""
        entry = self.entries[self.position] if self.position < len(self.entries) else None
        clock = entry.get("clock", []) if entry is not None else []
        if self.clock_index < len(clock):
            self.last_time = float(clock[self.clock_index])
            self.clock_index += 1
        return self.last_time

    def trace_stamp(self) -> float:
        """The recorded time of the entry just served (``TraceBackend`` stamps replayed entries with it)."""
        return self.last_time

    def info(self) -> dict[str, Any]:
        recorded = self.info_recorded or {}
        return {**recorded, "backend": "replay", "replayed_backend": recorded.get("backend"),
                "trace": str(self.path), "recorded_suite_version": self.header.get("suite_version")}

    def close(self) -> None:
        if not self.test:
            return                      # opened to check the spec, never bound to a test
        if self.divergence is not None:
            raise self.divergence
        self.serve("close", "close", {})
        if self.position < len(self.entries):
            entry = self.entries[self.position]
            raise self._diverge(f"{self._where(entry)}: the suite stopped, the recording goes on with "
                                f"{entry['function']}({_show(entry['args'])})")


class _ReplayParties:
    """Party control served from the trace: the recorded views, the recorded order."""

    def __init__(self, backend: ReplayBackend) -> None:
        self._b = backend

    def answer(self, role: str) -> None:
        self._b.serve("party", "answer", {"role": role})

    def reject(self, role: str) -> None:
        self._b.serve("party", "reject", {"role": role})

    def hang_up(self, role: str) -> None:
        self._b.serve("party", "hang_up", {"role": role})

    def go_off_hook(self, role: str) -> None:
        self._b.serve("party", "go_off_hook", {"role": role})

    def call(self, role: str, number: str) -> None:
        self._b.serve("party", "call", {"role": role, "number": number})

    def observe(self, role: str) -> PartyView:
        view: PartyView = self._b.serve("party", "observe", {"role": role})
        return view

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        view: PartyView | None = self._b.serve("party", "wait_for",
                                               {"role": role, "states": frozenset(states), "timeout": timeout})
        return view
