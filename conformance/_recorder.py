"""The evidence log: every TAPI request, return, error, message and party action, time-stamped.

``RecordingBackend`` wraps any ``Backend`` by plain delegation and appends one ``Record`` per event to
an in-memory list. It never changes what the wrapped backend does: results are returned as they came,
exceptions are re-raised untouched (same object, same traceback) after an ``error`` record.

Record kinds::

    request   the app called a TAPI function (args repr'd, short)
    return    it returned; for async functions ``request_id`` is the id handed back
    error     it raised (``result`` is the LINEERR name, or the exception type)
    message   lineGetMessage delivered a LINEMESSAGE (``request_id`` set for LINE_REPLY)
    timeout   lineGetMessage / parties.wait_for came back empty-handed
    party     a harness action on a party (answer, call, observe, ...), ``actor`` is the role
    note      free text from the suite; ``mark_failure`` is a note with ``failed=True``

``time`` is ``backend.now()`` when the record is made (virtual seconds on the simulator).

``value`` keeps what a verdict may judge, in full: the structure a synchronous function returned
(LINEDEVCAPS, LINEADDRESSCAPS, LINEADDRESSSTATUS, LINECALLINFO, LINECALLSTATUS), the exception of an
``error`` record, the PartyView of a party observation. ``judge`` marks the record a verdict cites
(``conformance._evidence``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from conformance._evidence import Cite, as_cites, locate
from conformance._trace import decode, decode_error, encode, encode_error
from conformance.backend import (
    ASYNC_FUNCTIONS,
    DEFAULT_API_VERSION,
    INTERACTIVEVOICE,
    OWNER_MONITOR,
    TAPI_NAMES,
    Backend,
    PartyControl,
    PartyView,
)
from simulator._constants import (
    LineAddrCapFlags,
    LineAddressState,
    LineAddrFeature,
    LineCallFeature,
    LineCallParamFlags,
    LineCallState,
    LineDevStatusFlags,
    LineFeature,
    LineForwardMode,
    LineMsg,
    LineTransferMode,
)
from simulator._errors import LineError
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
    "ASYNC_FUNCTIONS",
    "TAPI_NAMES",
    "Kind",
    "Record",
    "RecordingBackend",
    "RecordingParties",
    "raw_log",
    "records_from_jsonable",
]

Kind = Literal["request", "return", "error", "message", "party", "timeout", "note"]

_ARG_MAX: Final = 48
# struct fields shown by flag name in the evidence
_FLAG_FIELDS: Final[Mapping[str, type[enum.IntFlag]]] = {
    "call_param_flags": LineCallParamFlags, "forward_mode": LineForwardMode,
    "address_features": LineAddrFeature, "call_state": LineCallState, "call_features": LineCallFeature,
    "addr_cap_flags": LineAddrCapFlags, "transfer_modes": LineTransferMode, "address_states": LineAddressState,
    "forward_modes": LineForwardMode, "line_features": LineFeature, "dev_status_flags": LineDevStatusFlags}
# structures a synchronous function returns that the suite judges: kept whole in ``Record.value``
_KEPT: Final = (LineDevCaps, LineAddressCaps, LineAddressStatus, LineCallInfo, LineCallStatus, LineDevStatus)
_RESULT_MAX: Final = 96

T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One line of evidence. See the module docstring for what each ``kind`` means."""

    seq: int
    time: float
    kind: Kind
    function: str
    actor: str
    args: tuple[tuple[str, str], ...] = ()
    result: str = ""
    request_id: int = 0
    message: LineMessage | None = None
    text: str = ""
    failed: bool = False
    value: Any = None       # the judged value in full (module docstring); compared by the evidence check

    def log_line(self) -> str:
        """``t=12.345s  #17 request lineMakeCall(h_line=0x00010001, dest_address='0017...')``."""
        return f"t={self.time:.3f}s  #{self.seq} {self.kind} {self.text}"

    def to_jsonable(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "time": self.time, "kind": self.kind, "function": self.function,
            "actor": self.actor, "args": [list(a) for a in self.args], "result": self.result,
            "request_id": self.request_id, "text": self.text, "failed": self.failed,
            "message": None if self.message is None else _message_to_jsonable(self.message),
            **({} if self.value is None else {"value": _value_to_jsonable(self.value)}),
        }

    @classmethod
    def from_jsonable(cls, data: Mapping[str, Any]) -> Record:
        """Inverse of ``to_jsonable`` (the report renders ladders from results.json)."""
        msg = data.get("message")
        return cls(
            seq=int(data["seq"]), time=float(data["time"]), kind=data["kind"],
            function=str(data["function"]), actor=str(data["actor"]),
            args=tuple((str(k), str(v)) for k, v in data.get("args", ())),
            result=str(data.get("result", "")), request_id=int(data.get("request_id", 0)),
            message=None if msg is None else _message_from_jsonable(msg),
            text=str(data.get("text", "")), failed=bool(data.get("failed", False)),
            value=_value_from_jsonable(data.get("value")),
        )


def _value_to_jsonable(value: object) -> Any:
    """Only the fields that differ from their default (decoding fills the rest back in)."""
    if isinstance(value, BaseException):
        return {"$error": encode_error(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"$struct": type(value).__name__,
                **{f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if getattr(value, f.name) != f.default or f.default is dataclasses.MISSING}}
    return encode(value)


def _value_from_jsonable(data: Any) -> Any:
    if isinstance(data, dict) and "$error" in data:
        return decode_error(data["$error"])
    return None if data is None else decode(data)


def _message_to_jsonable(msg: LineMessage) -> dict[str, Any]:
    name = msg.msg.tapi_name if isinstance(msg.msg, LineMsg) else str(int(msg.msg))
    # int(): values may arrive as IntEnum/IntFlag members, which JSON and execnet must not see.
    return {"device": int(msg.device), "msg": int(msg.msg), "name": name, "instance": int(msg.instance),
            "param1": int(msg.param1), "param2": int(msg.param2), "param3": int(msg.param3),
            "new_call": int(msg.new_call), "data": msg.data.hex(), "time": float(msg.time)}


def _message_from_jsonable(data: Mapping[str, Any]) -> LineMessage:
    return LineMessage(device=int(data["device"]), msg=LineMsg(int(data["msg"])),
                       instance=int(data["instance"]), param1=int(data["param1"]),
                       param2=int(data["param2"]), param3=int(data["param3"]),
                       new_call=int(data["new_call"]), data=bytes.fromhex(data["data"]),
                       time=float(data["time"]))


def records_from_jsonable(items: Iterable[Mapping[str, Any]]) -> list[Record]:
    return [Record.from_jsonable(item) for item in items]


def raw_log(records: Iterable[Record]) -> str:
    """The plain-text log, one line per record."""
    return "\n".join(r.log_line() for r in records)


# --- formatting -------------------------------------------------------------------------------

def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _fields(value: object) -> str:
    """``Name(field=value, ...)`` with the fields that differ from their default, flags by TAPI name."""
    shown = []
    for f in dataclasses.fields(value):         # type: ignore[arg-type]
        v = getattr(value, f.name)
        if v == f.default:
            continue
        shown.append(f"{f.name}={field_text(f.name, v)}")
    return f"{type(value).__name__}({', '.join(shown)})"


def _flags(flag: type[enum.IntFlag], value: int) -> str:
    names = [str(getattr(m, "tapi_name", m.name)) for m in flag if m.value and value & m.value == m.value]
    rest = value & ~sum(m.value for m in flag if m.value and value & m.value == m.value)
    return "|".join(names + ([f"0x{rest:X}"] if rest else [])) or "0"


def _judged(value: object) -> str | None:
    """The full text of a value the suite judges (forward list, LINECALLPARAMS, a number), else None."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, LineCallParams | LineForward):
        return _fields(value)
    if isinstance(value, tuple) and value and all(isinstance(v, LineForward) for v in value):
        return "(" + ", ".join(_fields(v) for v in value) + ")"
    return None


def field_text(name: str, value: object) -> str:
    """One structure field as the evidence (and every verdict citing it) writes it: flags by TAPI name,
    judged values in full."""
    flag = _FLAG_FIELDS.get(name)
    if flag is not None and isinstance(value, int):
        return _flags(flag, value)
    return _judged(value) or repr(value)


def _fmt_value(name: str, value: object) -> str:
    if type(value) is int:          # the common case first: this runs for every argument of every call
        hexadecimal = name.startswith("h_") or name.endswith("version")     # handles, API versions
        return f"0x{value:08X}" if hexadecimal else str(value)
    if isinstance(value, enum.Enum):
        return str(getattr(value, "tapi_name", value.name))
    if isinstance(value, bytes):
        return _short(value.hex(" "), _ARG_MAX)
    judged = _judged(value)      # what a verdict is about is never cut short
    return judged if judged is not None else _short(repr(value), _ARG_MAX)


def _fmt_args(kwargs: Mapping[str, object]) -> tuple[tuple[str, str], ...]:
    return tuple((k, _fmt_value(k, v)) for k, v in kwargs.items())


def _call_text(function: str, args: tuple[tuple[str, str], ...]) -> str:
    return f"{function}({', '.join(f'{k}={v}' for k, v in args)})"


def _fmt_result(function: str, value: object) -> str:
    if function == "lineOpen" and isinstance(value, int):
        return f"hLine=0x{value:08X}"
    if function == "lineInitializeEx" and isinstance(value, tuple) and len(value) == 3:
        return f"hLineApp=0x{value[0]:08X}, devices={value[1]}, api=0x{value[2]:08X}"
    if function.startswith("lineNegotiate") and isinstance(value, int):
        return f"0x{value:08X}"
    if isinstance(value, LineAddressStatus | LineCallStatus | LineCallInfo | LineDevStatus):    # judged: in full
        return _fields(value)
    return _short(repr(value), _RESULT_MAX)


def _error_name(exc: BaseException) -> str:
    return exc.name if isinstance(exc, LineError) else type(exc).__name__


def _error_text(function: str, exc: BaseException) -> str:
    detail = f" ({_short(str(exc), _RESULT_MAX)})" if not isinstance(exc, LineError) else ""
    return f"{function} failed: {_error_name(exc)}{detail}"


def _view_text(view: PartyView) -> str:
    parts: list[str] = [view.state]
    for label, value in (("presented", view.presented_number), ("redirecting", view.redirecting_number),
                         ("connected", view.connected_number)):
        if value:
            parts.append(f"{label}={value!r}")
    # a caller ID that came without its number is evidence a verdict may rest on (docs/tapi.md §8.5)
    if view.presentation == "name_only":
        parts.append(f"caller ID name only {view.presented_name!r}, no number")
    elif view.presentation in ("withheld", "unavailable"):
        parts.append(f"caller ID {view.presentation}")
    if view.reason:
        parts.append(f"reason=0x{view.reason:X}")
    if view.off_hook:
        parts.append("off-hook")
    return ", ".join(parts)


# --- the log ----------------------------------------------------------------------------------

class _Log:
    """The shared list of records, numbered from 1, stamped with the backend's clock."""

    __slots__ = ("_clock", "_last", "records")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last = 0.0
        self.records: list[Record] = []

    def _now(self) -> float:
        # A dead clock (bridge gone) must not mask the error being logged: keep the last time seen.
        with contextlib.suppress(Exception):
            self._last = float(self._clock())
        return self._last

    def add(self, kind: Kind, function: str, actor: str, text: str, **fields: Any) -> Record:
        record = Record(seq=len(self.records) + 1, time=self._now(), kind=kind, function=function,
                        actor=actor, text=text, **fields)
        self.records.append(record)
        return record

    def error(self, function: str, actor: str, exc: BaseException, args: tuple[tuple[str, str], ...] = ()
              ) -> None:
        self.add("error", function, actor, _error_text(function, exc), args=args, result=_error_name(exc),
                 value=exc)


class RecordingParties:
    """``PartyControl`` by delegation; every action becomes a ``party`` (or ``timeout``) record."""

    def __init__(self, inner: PartyControl, log: _Log) -> None:
        self._inner = inner
        self._log = log

    def _act(self, action: str, role: str, fn: Callable[[], T], label: str = "") -> T:
        try:
            result = fn()
        except Exception as exc:
            self._log.error(action, role, exc)
            raise
        self._log.add("party", action, role, f"{role}: {action}{label}")
        return result

    def answer(self, role: str) -> None:
        self._act("answer", role, lambda: self._inner.answer(role))

    def reject(self, role: str) -> None:
        self._act("reject", role, lambda: self._inner.reject(role))

    def hang_up(self, role: str) -> None:
        self._act("hang_up", role, lambda: self._inner.hang_up(role))

    def go_off_hook(self, role: str) -> None:
        self._act("go_off_hook", role, lambda: self._inner.go_off_hook(role))

    def call(self, role: str, number: str) -> None:
        self._act("call", role, lambda: self._inner.call(role, number), f"({number!r})")

    def observe(self, role: str) -> PartyView:
        try:
            view = self._inner.observe(role)
        except Exception as exc:
            self._log.error("observe", role, exc)
            raise
        self._log.add("party", "observe", role, f"{role}: observe -> {_view_text(view)}",
                      result=view.state, value=view)
        return view

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        wanted = "/".join(sorted(states))
        args = (("states", wanted), ("timeout", f"{timeout:g}"))
        try:
            view = self._inner.wait_for(role, states, timeout)
        except Exception as exc:
            self._log.error("wait_for", role, exc, args)
            raise
        if view is None:
            self._log.add("timeout", "wait_for", role, f"{role}: not {wanted} within {timeout:g}s",
                          args=args)
        else:
            self._log.add("party", "wait_for", role, f"{role}: reached {_view_text(view)}",
                          args=args, result=view.state, value=view)
        return view


class RecordingBackend:
    """A ``Backend`` that records everything passing through it (see the module docstring)."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.name = inner.name
        self._log = _Log(inner.now)
        self.parties: PartyControl = RecordingParties(inner.parties, self._log)

    # --- the suite's side ---
    @property
    def records(self) -> tuple[Record, ...]:
        return tuple(self._log.records)

    def note(self, text: str) -> Record:
        return self._log.add("note", "", "suite", text)

    def mark_failure(self, text: str, cause: LineMessage | Cite | None = None) -> Record:
        """Mark where a verdict was reached and write ``text`` as a note.

        With ``cause`` (the message the suite judged: an error LINE_REPLY, the LINE_CALLSTATE that ended a
        wait) that message's record is the one marked ``failed``, so the evidence points at what the PBX
        did rather than at the note written afterwards; otherwise (or if it was never recorded) the note
        is. Returns the marked record.
        """
        cites = self.judge(text, as_cites(cause))
        seq = next((c.seq for c in cites if c.seq is not None), None)
        return self._log.records[(seq or self.last_seq) - 1]

    def judge(self, text: str, cites: Sequence[Cite]) -> tuple[Cite, ...]:
        """Mark the records a verdict cites and write ``text`` as a note; the cites, located.

        Each cited record found in the log (``conformance._evidence.locate``) is marked ``failed`` -- the
        evidence points at what the PBX did, not at the note written afterwards. When none is found (or
        nothing is cited) the note itself is marked.
        """
        records = self._log.records
        located: list[Cite] = []
        for cite in cites:
            rec = locate(records, cite)
            if rec is not None:
                records[rec.seq - 1] = dataclasses.replace(rec, failed=True)
            located.append(dataclasses.replace(cite, seq=None if rec is None else rec.seq))
        found = any(c.seq is not None for c in located)
        note = self._log.add("note", "", "suite", text, failed=not found)
        return tuple(dataclasses.replace(c, note=note.seq) for c in located)

    def keep_marks(self, seqs: Iterable[int]) -> None:
        """Only the records ``seqs`` stay marked ``failed``: a verdict that was caught and superseded (a
        prerequisite's, wrapped into "cannot be judged", or an inner wait a flow turned into its own
        verdict) must not leave a red band on a record the final verdict does not cite."""
        keep = set(seqs)
        records = self._log.records
        for i, rec in enumerate(records):
            if rec.failed and rec.seq not in keep:
                records[i] = dataclasses.replace(rec, failed=False)

    @property
    def last_seq(self) -> int:
        """``seq`` of the latest record (0 before the first)."""
        return len(self._log.records)

    def to_jsonable(self) -> list[dict[str, Any]]:
        return [r.to_jsonable() for r in self._log.records]

    def raw_log(self) -> str:
        return raw_log(self._log.records)

    # --- plumbing ---
    def _call(self, method: str, fn: Callable[..., T], **kw: object) -> T:
        # Names are for the log only; the inner backend gets the arguments positionally, in Protocol
        # order, so a backend that names a parameter differently behaves the same with or without us.
        function = TAPI_NAMES[method]
        args = _fmt_args(kw)
        self._log.add("request", function, "app", _call_text(function, args), args=args)
        try:
            result = fn(*kw.values())
        except Exception as exc:
            self._log.error(function, "app", exc, args)
            raise
        if function in ASYNC_FUNCTIONS and isinstance(result, int):
            self._log.add("return", function, "app", f"{function} -> req {result}", args=args,
                          result=str(result), request_id=result)
        else:
            shown = _fmt_result(function, result)
            self._log.add("return", function, "app", f"{function} -> {shown}", args=args, result=shown,
                          value=result if isinstance(result, _KEPT) else None)
        return result

    def _message(self, msg: LineMessage) -> None:
        is_reply = msg.msg == LineMsg.REPLY
        name = msg.msg.tapi_name if isinstance(msg.msg, LineMsg) else str(int(msg.msg))
        self._log.add("message", "lineGetMessage", "app", msg.describe(), result=name,
                      request_id=msg.request_id if is_reply else 0, message=msg)

    # --- Backend: not TAPI, not recorded ---
    def info(self) -> dict[str, Any]:
        return self.inner.info()

    def now(self) -> float:
        return self.inner.now()

    def close(self) -> None:
        self.inner.close()

    # --- Backend: TAPI ---
    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None:
        try:
            msg = self.inner.line_get_message(h_line_app, timeout)
        except Exception as exc:
            self._log.error("lineGetMessage", "app", exc,
                            _fmt_args({"h_line_app": h_line_app, "timeout": timeout}))
            raise
        if msg is None:
            self._log.add("timeout", "lineGetMessage", "app",
                          f"lineGetMessage: no message within {timeout:g}s", result="None")
        else:
            self._message(msg)
        return msg
    def line_initialize_ex(self, app_name: str, api_version: int = DEFAULT_API_VERSION) -> tuple[int, int, int]:
        return self._call("line_initialize_ex", self.inner.line_initialize_ex,
                          app_name=app_name, api_version=api_version)
    def line_shutdown(self, h_line_app: int) -> None:
        self._call("line_shutdown", self.inner.line_shutdown, h_line_app=h_line_app)
    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int:
        return self._call("line_negotiate_api_version", self.inner.line_negotiate_api_version,
                          h_line_app=h_line_app, device_id=device_id, low=low, high=high)
    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int,
                                   low: int, high: int) -> int:
        return self._call("line_negotiate_ext_version", self.inner.line_negotiate_ext_version,
                          h_line_app=h_line_app, device_id=device_id, api_version=api_version,
                          low=low, high=high)
    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps:
        return self._call("line_get_dev_caps", self.inner.line_get_dev_caps, h_line_app=h_line_app,
                          device_id=device_id, api_version=api_version, ext_version=ext_version)
    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps:
        return self._call("line_get_address_caps", self.inner.line_get_address_caps,
                          h_line_app=h_line_app, device_id=device_id, address_id=address_id,
                          api_version=api_version, ext_version=ext_version)
    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = OWNER_MONITOR,
                  media_modes: int = INTERACTIVEVOICE) -> int:
        return self._call("line_open", self.inner.line_open, h_line_app=h_line_app, device_id=device_id,
                          api_version=api_version, ext_version=ext_version,
                          callback_instance=callback_instance, privileges=privileges,
                          media_modes=media_modes)
    def line_close(self, h_line: int) -> None:
        self._call("line_close", self.inner.line_close, h_line=h_line)
    def line_set_status_messages(self, h_line: int, line_states: int, address_states: int) -> None:
        self._call("line_set_status_messages", self.inner.line_set_status_messages, h_line=h_line,
                   line_states=line_states, address_states=address_states)
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        return self._call("line_get_address_status", self.inner.line_get_address_status,
                          h_line=h_line, address_id=address_id)
    def line_get_line_dev_status(self, h_line: int) -> LineDevStatus:
        return self._call("line_get_line_dev_status", self.inner.line_get_line_dev_status, h_line=h_line)
    def line_get_call_info(self, h_call: int) -> LineCallInfo:
        return self._call("line_get_call_info", self.inner.line_get_call_info, h_call=h_call)
    def line_get_call_status(self, h_call: int) -> LineCallStatus:
        return self._call("line_get_call_status", self.inner.line_get_call_status, h_call=h_call)
    def line_deallocate_call(self, h_call: int) -> None:
        self._call("line_deallocate_call", self.inner.line_deallocate_call, h_call=h_call)
    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        self._call("line_set_call_privilege", self.inner.line_set_call_privilege, h_call=h_call,
                   privilege=privilege)
    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int:
        return self._call("line_make_call", self.inner.line_make_call, h_line=h_line,
                          dest_address=dest_address, country_code=country_code, call_params=call_params)
    def line_dial(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._call("line_dial", self.inner.line_dial, h_call=h_call, dest_address=dest_address,
                          country_code=country_code)
    def line_answer(self, h_call: int) -> int:
        return self._call("line_answer", self.inner.line_answer, h_call=h_call)
    def line_drop(self, h_call: int) -> int:
        return self._call("line_drop", self.inner.line_drop, h_call=h_call)
    def line_hold(self, h_call: int) -> int:
        return self._call("line_hold", self.inner.line_hold, h_call=h_call)
    def line_unhold(self, h_call: int) -> int:
        return self._call("line_unhold", self.inner.line_unhold, h_call=h_call)
    def line_swap_hold(self, h_active_call: int, h_held_call: int) -> int:
        return self._call("line_swap_hold", self.inner.line_swap_hold, h_active_call=h_active_call,
                          h_held_call=h_held_call)
    def line_blind_transfer(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._call("line_blind_transfer", self.inner.line_blind_transfer, h_call=h_call,
                          dest_address=dest_address, country_code=country_code)
    def line_setup_transfer(self, h_call: int, call_params: LineCallParams | None = None) -> int:
        return self._call("line_setup_transfer", self.inner.line_setup_transfer, h_call=h_call,
                          call_params=call_params)
    def line_complete_transfer(self, h_call: int, h_consult_call: int, transfer_mode: int) -> int:
        return self._call("line_complete_transfer", self.inner.line_complete_transfer, h_call=h_call,
                          h_consult_call=h_consult_call, transfer_mode=transfer_mode)
    def line_redirect(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._call("line_redirect", self.inner.line_redirect, h_call=h_call,
                          dest_address=dest_address, country_code=country_code)
    def line_forward(self, h_line: int, all_addresses: bool, address_id: int,
                     forward_list: tuple[LineForward, ...] | None, num_rings_no_answer: int = 0) -> int:
        return self._call("line_forward", self.inner.line_forward, h_line=h_line,
                          all_addresses=all_addresses, address_id=address_id, forward_list=forward_list,
                          num_rings_no_answer=num_rings_no_answer)
    def line_dev_specific(self, h_line: int, address_id: int, h_call: int, params: bytes) -> int:
        return self._call("line_dev_specific", self.inner.line_dev_specific, h_line=h_line,
                          address_id=address_id, h_call=h_call, params=params)


if TYPE_CHECKING:
    # mypy proves here that RecordingBackend satisfies the Backend Protocol, at no runtime cost.
    def _conforms(inner: Backend) -> Backend:
        return RecordingBackend(inner)
