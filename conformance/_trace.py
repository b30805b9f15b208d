"""The trace: every TAPI request of a run in full, so anyone can replay the provider later (``trace.jsonl``).

The evidence log of ``_recorder`` is for people (short reprs); the trace is for machines. ``TraceBackend``
sits between the recorder and the real backend (``RecordingBackend(TraceBackend(inner))``) and keeps,
per test, one entry per Backend call with its arguments and its outcome as typed JSON (structures in
full, bytes as hex, LINEMESSAGEs with every field), the (virtual) time, the readings of ``now()`` the
suite took since the previous entry (so a replay sees the same clock and takes the same decisions), and
for ``tapi32`` the raw bytes of every variable-size structure the DLL filled. The file format is
documented in docs/results-format.md ("trace.jsonl").

Value encoding (``encode`` / ``decode``, exact round trip for every value the Backend contract passes):
``None``/bool/int/float/str as JSON (enum members become their int); ``bytes`` -> ``{"$bytes": hex}``;
``LineMessage`` -> ``{"$message": {...}}``; the structures of ``simulator._structs`` and ``PartyView``
-> ``{"$struct": ClassName, field: value, ...}``; tuples and lists -> arrays (decoded as tuples);
sets -> ``{"$set": [...]}`` (sorted).
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import inspect
import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from conformance.backend import ASYNC_FUNCTIONS, TAPI_NAMES, Backend, PartyControl, PartyView
from simulator._constants import LineMsg
from simulator._errors import BackendUnavailable, BridgeError, LineError, TapiError
from simulator._messages import LineMessage
from simulator._structs import (
    LineAddressCaps,
    LineAddressStatus,
    LineCallInfo,
    LineCallParams,
    LineCallStatus,
    LineDevCaps,
    LineDevStatus,
    LineForward,
)

__all__ = [
    "TRACE_FORMAT",
    "ReplayDivergence",
    "TraceBackend",
    "TraceFileError",
    "decode",
    "encode",
    "encode_args",
    "read_trace",
    "sha256_of",
    "write_trace",
]

TRACE_FORMAT: Final = "ro-conformance-trace/1"

_STRUCTS: Final[dict[str, type[Any]]] = {cls.__name__: cls for cls in (
    LineDevCaps, LineAddressCaps, LineAddressStatus, LineCallInfo, LineCallStatus, LineCallParams, LineForward,
    LineDevStatus, PartyView)}
_ERRORS: Final[dict[str, type[TapiError]]] = {cls.__name__: cls for cls in (
    TapiError, BackendUnavailable, BridgeError)}


class ReplayDivergence(TapiError):
    """A replayed run asked the recorded provider something it was not asked when the trace was made."""


class TraceFileError(TapiError):
    """A trace file is missing, unreadable, of another format, or not JSON lines."""


# --- values -----------------------------------------------------------------------------------------


def encode(value: Any) -> Any:
    """A Backend value as plain JSON data (see the module docstring); TypeError for anything else."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)           # IntEnum / IntFlag members: their number
    if isinstance(value, float):
        return value
    if isinstance(value, bytes | bytearray):
        return {"$bytes": bytes(value).hex()}
    if isinstance(value, LineMessage):
        return {"$message": {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, frozenset | set):
        return {"$set": sorted(encode(v) for v in value)}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _STRUCTS:
        return {"$struct": type(value).__name__,
                **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, enum.Enum):
        return str(value.value)
    raise TypeError(f"cannot trace a value of type {type(value).__name__}")


def encode_args(args: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by name, each ``encode``d (how a trace stores and compares them)."""
    return {k: encode(v) for k, v in args.items()}


def decode(data: Any) -> Any:
    """Inverse of ``encode``."""
    if isinstance(data, list):
        return tuple(decode(v) for v in data)
    if not isinstance(data, dict):
        return data
    if "$bytes" in data:
        return bytes.fromhex(data["$bytes"])
    if "$set" in data:
        return frozenset(decode(v) for v in data["$set"])
    if "$message" in data:
        fields = {k: decode(v) for k, v in data["$message"].items()}
        return LineMessage(**{**fields, "msg": _msg(fields["msg"])})
    if "$struct" in data:
        cls = _STRUCTS.get(str(data["$struct"]))
        if cls is None:
            raise TraceFileError(f"unknown structure {data['$struct']!r}")
        return cls(**{k: decode(v) for k, v in data.items() if k != "$struct"})
    return {k: decode(v) for k, v in data.items()}


def _msg(number: int) -> LineMsg | int:
    try:
        return LineMsg(number)
    except ValueError:
        return number


def encode_error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, LineError):
        return {"type": "LineError", "code": exc.code, "name": exc.name, "function": exc.function,
                "detail": exc.detail}
    return {"type": type(exc).__name__, "text": str(exc)}


def decode_error(data: Mapping[str, Any]) -> BaseException:
    """The exception a recorded ``error`` stands for (a TapiError of the recorded class where known)."""
    if data.get("type") == "LineError":
        return LineError(int(data["code"]), data.get("function"), str(data.get("detail", "")))
    cls = _ERRORS.get(str(data.get("type")), TapiError)
    return cls(str(data.get("text", "")))


# --- recording --------------------------------------------------------------------------------------


class TraceBackend:
    """A ``Backend`` that keeps the full trace of one test (``entries``); results pass through untouched.

    If the inner backend has a ``raw_sink`` attribute (the tapi32 adapter), it is pointed at this trace
    for the duration of each call, so the raw bytes of the structures that call decoded join its entry.
    If it has ``bind_test`` (the replay backend), it is told which test is running.
    """

    def __init__(self, inner: Backend, test: str = "") -> None:
        self.inner = inner
        self.name = inner.name
        self.test = test
        self.entries: list[dict[str, Any]] = []
        self.info_seen: dict[str, Any] | None = None
        self._clock: list[float] = []
        self._requests: dict[int, int] = {}         # request id -> position of the request that got it
        self._raw: list[dict[str, Any]] | None = None
        self._thread = 0
        self.desk: dict[str, Any] = {}              # the first line opened: device, version, its caps
        self._caps: dict[int, LineDevCaps] = {}
        self._stamp: Callable[[], float] = getattr(inner, "trace_stamp", inner.now)
        bind = getattr(inner, "bind_test", None)
        if callable(bind):
            bind(test)
        self.parties: PartyControl = _TraceParties(self, inner.parties)

    # --- what the run keeps -------------------------------------------------------------------
    def session(self) -> dict[str, Any]:
        """The test's trace as JSON-able data: ``{"test", "info", "desk", "entries"}``."""
        return {"test": self.test, "info": self.info_seen, "desk": self.desk, "entries": self.entries}

    # --- plumbing -----------------------------------------------------------------------------
    def _sink(self, struct: str, version: int | None, raw: bytes) -> None:
        if self._raw is not None and threading.get_ident() == self._thread:
            self._raw.append({"struct": struct, "api_version": version, "hex": raw.hex()})

    def _time(self) -> float:
        try:
            return float(self._stamp())
        except Exception:       # a dead bridge must not hide the error being traced
            return self._clock[-1] if self._clock else 0.0

    def _entry(self, kind: str, method: str, args: dict[str, Any]) -> dict[str, Any]:
        entry: dict[str, Any] = {"type": kind, "pos": len(self.entries) + 1, "method": method,
                                 "function": TAPI_NAMES.get(method, method), "args": encode_args(args),
                                 "clock": self._clock}
        self._clock = []
        return entry

    def _run(self, kind: str, method: str, fn: Callable[[], Any], args: dict[str, Any]) -> Any:
        entry = self._entry(kind, method, args)
        sinkable = hasattr(self.inner, "raw_sink")
        if sinkable:
            self._raw, self._thread = [], threading.get_ident()
            self.inner.raw_sink = self._sink                # type: ignore[attr-defined]
        try:
            result = fn()
        except Exception as exc:
            entry["error"] = encode_error(exc)
            raise
        else:
            entry["result"] = encode(result)
            self._after(method, args, result, entry)
        finally:
            if sinkable:
                self.inner.raw_sink = None                  # type: ignore[attr-defined]
                if self._raw:
                    entry["raw"] = self._raw
                self._raw = None
            entry["t"] = self._time()
            self.entries.append(entry)
        return result

    def _after(self, method: str, args: Mapping[str, Any], result: Any, entry: dict[str, Any]) -> None:
        """Cross-references that make the trace readable: which request a LINE_REPLY answers; the desk."""
        if TAPI_NAMES.get(method) in ASYNC_FUNCTIONS and isinstance(result, int):
            self._requests[result] = entry["pos"]
        elif isinstance(result, LineMessage) and result.msg == LineMsg.REPLY and result.param1 in self._requests:
            entry["reply_to"] = self._requests[result.param1]
        elif method == "line_get_dev_caps" and isinstance(result, LineDevCaps):
            self._caps.setdefault(int(args["device_id"]), result)
        elif method == "line_open" and not self.desk:
            device = int(args["device_id"])
            caps = self._caps.get(device, LineDevCaps())
            self.desk = {"device_id": device, "api_version": int(args["api_version"]),
                         "ext_version": int(args["ext_version"]), "provider_info": caps.provider_info,
                         "switch_info": caps.switch_info, "line_name": caps.line_name,
                         "permanent_line_id": caps.permanent_line_id}

    def call(self, method: str, **kw: Any) -> Any:
        fn = getattr(self.inner, method)
        return self._run("call", method, lambda: fn(*kw.values()), kw)

    # --- not TAPI -----------------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        info = self.inner.info()
        if self.info_seen is None:
            self.info_seen = json.loads(json.dumps(info, default=str))
        return info

    def now(self) -> float:
        value = self.inner.now()
        self._clock.append(float(value))
        return value

    def close(self) -> None:
        self._run("close", "close", self.inner.close, {})

    def __getattr__(self, name: str) -> Any:
        # line_* methods: every one is traced the same way, with its arguments by name.
        if name.startswith("line_") and name in TAPI_NAMES:
            return _TracedMethod(self, name)
        if name.startswith("__"):
            raise AttributeError(name)
        # Anything else (a test harness poking the simulator, e.g. ``inner._spontaneous``) is the wrapped
        # backend's, untraced: the trace is of the TAPI provider, not of the harness's own levers.
        return getattr(self.inner, name)


class _TracedMethod:
    """``trace.line_x(*args, **kw)``: binds the arguments to the Protocol's parameter names, then traces."""

    __slots__ = ("_method", "_trace")

    def __init__(self, trace: TraceBackend, method: str) -> None:
        self._trace, self._method = trace, method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._trace.call(self._method, **bind_args(self._method, args, kwargs))


_SIGNATURES: dict[str, inspect.Signature] = {}


def bind_args(method: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments by their Backend-Protocol names, defaults filled in (so traces compare by value).

    Raises TypeError when they do not fit the Protocol's signature of ``method``.
    """
    signature = _SIGNATURES.get(method)
    if signature is None:
        signature = _SIGNATURES[method] = inspect.signature(getattr(Backend, method))
    bound = signature.bind(None, *args, **kwargs)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k != "self"}


class _TraceParties:
    """Party control by delegation; every action is a ``party`` entry of the trace."""

    def __init__(self, trace: TraceBackend, inner: PartyControl) -> None:
        self._trace, self._inner = trace, inner

    def _act(self, method: str, fn: Callable[[], Any], **args: Any) -> Any:
        return self._trace._run("party", method, fn, args)

    def answer(self, role: str) -> None:
        self._act("answer", lambda: self._inner.answer(role), role=role)

    def reject(self, role: str) -> None:
        self._act("reject", lambda: self._inner.reject(role), role=role)

    def hang_up(self, role: str) -> None:
        self._act("hang_up", lambda: self._inner.hang_up(role), role=role)

    def go_off_hook(self, role: str) -> None:
        self._act("go_off_hook", lambda: self._inner.go_off_hook(role), role=role)

    def call(self, role: str, number: str) -> None:
        self._act("call", lambda: self._inner.call(role, number), role=role, number=number)

    def observe(self, role: str) -> PartyView:
        view: PartyView = self._act("observe", lambda: self._inner.observe(role), role=role)
        return view

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        view: PartyView | None = self._act("wait_for", lambda: self._inner.wait_for(role, states, timeout),
                                           role=role, states=frozenset(states), timeout=timeout)
        return view


# --- the file -----------------------------------------------------------------------------------------


def _line(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False) + "\n"


def write_trace(path: Path, header: Mapping[str, Any], sessions: Iterable[Mapping[str, Any]]) -> str:
    """Write ``trace.jsonl`` (header line, then per test a session line and its entries); its SHA-256."""
    lines = [_line({"type": "header", "format": TRACE_FORMAT, **header})]
    for session in sorted(sessions, key=lambda s: str(s["test"])):
        entries = list(session.get("entries", ()))
        lines.append(_line({"type": "session", "test": session["test"], "info": session.get("info"),
                            "desk": session.get("desk") or {}, "entries": len(entries)}))
        lines.extend(_line({"test": session["test"], **e}) for e in entries)
    data = "".join(lines).encode("utf-8")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def read_trace(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(header, {test nodeid: session with its ``entries`` and each entry's ``line`` number in the file})."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceFileError(f"{path}: cannot read the trace: {exc}") from None
    header: dict[str, Any] = {}
    sessions: dict[str, dict[str, Any]] = {}
    for number, obj in _objects(path, text):
        kind = obj.get("type")
        if number == 1:
            if kind != "header" or obj.get("format") != TRACE_FORMAT:
                raise TraceFileError(f"{path}:1: not a {TRACE_FORMAT} trace (format {obj.get('format')!r})")
            header = obj
        elif kind == "session":
            sessions[str(obj["test"])] = {**obj, "line": number, "entries": []}
        elif str(obj.get("test")) in sessions:
            sessions[str(obj["test"])]["entries"].append({**obj, "line": number})
        else:
            raise TraceFileError(f"{path}:{number}: an entry of test {obj.get('test')!r} before its session line")
    if not header:
        raise TraceFileError(f"{path}: empty trace")
    return header, sessions


def _objects(path: Path, text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(text.splitlines(), 1):
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise TraceFileError(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise TraceFileError(f"{path}:{number}: not a JSON object")
        yield number, obj
