"""The bridge wire format: JSON-RPC 2.0 method table, parameter checking and the JSON codec.

Both ends import this module, so the server's checks and the client's encoding cannot drift apart.
docs/bridge.md is the human-readable version of the tables below; keep the two in step.

Conventions (see docs/bridge.md for examples):

* Methods are the Backend method names (``line_open``, ...) and ``party.<name>`` for party control;
  params are by name (a JSON object; a positional array in the table's order is accepted too).
* Results: structures are JSON objects with the dataclass field names; ``bytes`` fields travel as
  standard base64 strings (RFC 4648 with padding); tuples of LINEFORWARD entries are arrays of objects;
  a LineMessage is an object whose ``msg`` is the LINE_* number and ``msg_name`` its C name.
* Errors: a TAPI ``LINEERR_*`` is code -32000 with ``data = {"lineerr", "name", "function", "detail"}``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from conformance.backend import DEFAULT_API_VERSION, INTERACTIVEVOICE, OWNER_MONITOR, TAPI_NAMES
from simulator._constants import LineMsg
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
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "LIMIT_EXCEEDED",
    "LINE_ERROR",
    "MAX_WAIT",
    "METHODS",
    "METHOD_NOT_FOUND",
    "PARSE_ERROR",
    "TAPI_ERROR",
    "Method",
    "Param",
    "RpcError",
    "decode_message",
    "decode_struct",
    "encode",
    "file_sha256",
    "parse_params",
]

PARSE_ERROR = -32700        # the frame is not JSON (or not UTF-8, or NaN/Infinity, or nested too deep)
INVALID_REQUEST = -32600    # JSON, but not a JSON-RPC 2.0 request object (batches are refused too)
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603     # a bug in the served backend; the server logs it and carries on
LINE_ERROR = -32000         # the TAPI function failed: data.lineerr is the LINEERR code
TAPI_ERROR = -32001         # any other deliberate error of the backend (e.g. an unknown party role)
LIMIT_EXCEEDED = -32005     # a server limit (lines, waits, queued messages, applications) was reached

MAX_WAIT = 3600.0           # longest timeout a wait may ask for, in seconds
MAX_STR = 4096              # longest string parameter
MAX_LIST = 64               # longest forward list / state set
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
DWORD_MAX = 2**32 - 1       # DWORD parameters (flags, ids, counts, versions): 0..0xFFFFFFFF
PTR_MAX = 2**64 - 1         # DWORD_PTR and handles (callback instance, HLINEAPP/HLINE/HCALL): 0..2**64-1


class RpcError(Exception):
    """A JSON-RPC error object to send back (server side)."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            err["data"] = self.data
        return err


# ----- parameter converters: JSON value -> Python value, or RpcError(-32602) -------------------------
def _bad(name: str, what: str) -> RpcError:
    return RpcError(INVALID_PARAMS, f"invalid params: {name!r} must be {what}")


def _dword(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= DWORD_MAX:
        raise _bad(name, "a DWORD: an integer in [0, 4294967295]")
    return v


def _ptr(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= PTR_MAX:
        raise _bad(name, "a handle or DWORD_PTR: an integer in [0, 2**64-1]")
    return v


def _timeout(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not 0 <= v <= MAX_WAIT:
        raise _bad(name, f"a number of seconds in [0, {MAX_WAIT:g}]")
    return float(v)


def _str(name: str, v: Any) -> str:
    if not isinstance(v, str) or len(v) > MAX_STR:
        raise _bad(name, f"a string of at most {MAX_STR} characters")
    return v


def _opt_str(name: str, v: Any) -> str | None:
    return None if v is None else _str(name, v)


def _bool(name: str, v: Any) -> bool:
    if not isinstance(v, bool):
        raise _bad(name, "true or false")
    return v


def _bytes(name: str, v: Any) -> bytes:
    if not isinstance(v, str):
        raise _bad(name, "a base64 string")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(name, "a base64 string") from None


def _float(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise _bad(name, "a finite number")
    return float(v)


_FIELD: dict[str, Callable[[str, Any], Any]] = {"int": _dword, "str": _str, "bytes": _bytes, "bool": _bool,
                                                "float": _float}


def _struct(cls: type[Any], name: str, v: Any) -> Any:
    """A JSON object -> dataclass ``cls``; every key must be a field of the right JSON type."""
    if not isinstance(v, dict):
        raise _bad(name, f"an object ({cls.__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in v.items():
        field = fields.get(key)
        if field is None:
            raise _bad(f"{name}.{key}", f"a field of {cls.__name__}")
        kind = str(field.type)
        if kind.startswith("tuple[LineForward"):
            kwargs[key] = _forward_list(f"{name}.{key}", value) or ()
        else:
            kwargs[key] = _FIELD[kind](f"{name}.{key}", value)
    try:
        return cls(**kwargs)
    except TypeError as exc:   # a required field is missing
        raise _bad(name, f"a complete {cls.__name__} ({exc})") from None


def _call_params(name: str, v: Any) -> LineCallParams | None:
    return None if v is None else _struct(LineCallParams, name, v)


def _forward_list(name: str, v: Any) -> tuple[LineForward, ...] | None:
    if v is None:
        return None
    if not isinstance(v, list) or len(v) > MAX_LIST:
        raise _bad(name, f"null or an array of at most {MAX_LIST} LineForward objects")
    return tuple(_struct(LineForward, f"{name}[{i}]", e) for i, e in enumerate(v))


def _states(name: str, v: Any) -> frozenset[str]:
    if not isinstance(v, list) or len(v) > MAX_LIST or not all(isinstance(s, str) and len(s) <= 64 for s in v):
        raise _bad(name, "an array of state names")
    return frozenset(v)


_REQUIRED: Any = object()


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter; ``owned`` names the handle kind the caller must own (the server checks it)."""

    name: str
    convert: Callable[[str, Any], Any]
    default: Any = _REQUIRED
    owned: str = ""             # "app" | "line" | "call" | "consult" | "call_or_0" | ""

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True, slots=True)
class Method:
    """One bridge method: the backend attribute it calls, its params in contract order, how it waits."""

    name: str
    target: str                 # "line_open" or "parties.answer": attribute path on the backend
    params: tuple[Param, ...]
    tapi: str = ""              # TAPI function name, for the LINEERR of a handle the caller does not own
    waits: bool = False         # its last param is a timeout the server may wait out asynchronously


def _m(name: str, *params: Param, waits: bool = False, target: str = "") -> Method:
    # Handle params (``owned``) are checked against what the connection was given, and a stranger's
    # handle is refused as that TAPI function refuses a bad one (LINEERR_INVAL*HANDLE).
    return Method(name, target or name, params, TAPI_NAMES.get(name, ""), waits)


_APP = Param("h_line_app", _ptr, owned="app")
_LINE = Param("h_line", _ptr, owned="line")
_CALL = Param("h_call", _ptr, owned="call")
_DEV = Param("device_id", _dword)
_ROLE = Param("role", _str)
_CC = Param("country_code", _dword, 0)
_EXT0 = Param("ext_version", _dword, 0)
_API = Param("api_version", _dword)


def _party(name: str, *params: Param, waits: bool = False) -> Method:
    return Method(f"party.{name}", f"parties.{name}", (_ROLE, *params), "", waits)


METHODS: dict[str, Method] = {m.name: m for m in (
    _m("info"),
    _m("now"),
    Method("session.reset", "", ()),   # served by the server itself: a fresh PBX for this connection
    Method("server.stats", "", ()),    # served by the server itself: what it holds (operators, the soak)
    # served by the server itself: push the application's messages as "line_message" notifications
    # (a TSP forwards events as they happen instead of polling; docs/bridge.md "Push events")
    Method("line_subscribe", "", (_APP,), "line_subscribe"),
    Method("line_unsubscribe", "", (_APP,), "line_unsubscribe"),
    _m("line_initialize_ex", Param("app_name", _str), Param("api_version", _dword, DEFAULT_API_VERSION)),
    _m("line_shutdown", _APP),
    _m("line_negotiate_api_version", _APP, _DEV, Param("low", _dword), Param("high", _dword)),
    _m("line_negotiate_ext_version", _APP, _DEV, _API, Param("low", _dword), Param("high", _dword)),
    _m("line_get_dev_caps", _APP, _DEV, _API, _EXT0),
    _m("line_get_address_caps", _APP, _DEV, Param("address_id", _dword), _API, _EXT0),
    _m("line_open", _APP, _DEV, _API, _EXT0, Param("callback_instance", _ptr, 0),
       Param("privileges", _dword, OWNER_MONITOR), Param("media_modes", _dword, INTERACTIVEVOICE)),
    _m("line_close", _LINE),
    _m("line_set_status_messages", _LINE, Param("line_states", _dword), Param("address_states", _dword)),
    _m("line_get_message", _APP, Param("timeout", _timeout), waits=True),
    _m("line_get_address_status", _LINE, Param("address_id", _dword)),
    _m("line_get_line_dev_status", _LINE),
    _m("line_get_call_info", _CALL),
    _m("line_get_call_status", _CALL),
    _m("line_deallocate_call", _CALL),
    _m("line_set_call_privilege", _CALL, Param("privilege", _dword)),
    _m("line_make_call", _LINE, Param("dest_address", _opt_str), _CC, Param("call_params", _call_params, None)),
    _m("line_dial", _CALL, Param("dest_address", _str), _CC),
    _m("line_answer", _CALL),
    _m("line_drop", _CALL),
    _m("line_hold", _CALL),
    _m("line_unhold", _CALL),
    _m("line_swap_hold", Param("h_active_call", _ptr, owned="call"), Param("h_held_call", _ptr, owned="call")),
    _m("line_blind_transfer", _CALL, Param("dest_address", _str), _CC),
    _m("line_setup_transfer", _CALL, Param("call_params", _call_params, None)),
    _m("line_complete_transfer", _CALL, Param("h_consult_call", _ptr, owned="consult"),
       Param("transfer_mode", _dword)),
    _m("line_redirect", _CALL, Param("dest_address", _str), _CC),
    _m("line_forward", _LINE, Param("all_addresses", _bool), Param("address_id", _dword),
       Param("forward_list", _forward_list), Param("num_rings_no_answer", _dword, 0)),
    _m("line_dev_specific", _LINE, Param("address_id", _dword), Param("h_call", _ptr, owned="call_or_0"),
       Param("params", _bytes)),
    _party("answer"),
    _party("reject"),
    _party("hang_up"),
    _party("go_off_hook"),
    _party("call", Param("number", _str)),
    _party("observe"),
    _party("wait_for", Param("states", _states), Param("timeout", _timeout), waits=True),
)}


def parse_params(method: Method, params: Any) -> list[Any]:
    """JSON params (object, array or absent) -> positional arguments in contract order."""
    if params is None:
        params = {}
    if isinstance(params, list):
        if len(params) > len(method.params):
            raise RpcError(INVALID_PARAMS, f"invalid params: {method.name} takes at most {len(method.params)}")
        params = {p.name: v for p, v in zip(method.params, params, strict=False)}
    if not isinstance(params, dict):
        raise RpcError(INVALID_PARAMS, "invalid params: params must be an object (or an array)")
    known = {p.name for p in method.params}
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise RpcError(INVALID_PARAMS, f"invalid params: {method.name} has no parameter {unknown[0]!r}")
    args: list[Any] = []
    for p in method.params:
        if p.name in params:
            args.append(p.convert(p.name, params[p.name]))
        elif p.required:
            raise RpcError(INVALID_PARAMS, f"invalid params: {method.name} needs {p.name!r}")
        else:
            args.append(p.default)
    return args


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes ("" when it cannot be read): which profile a server plays."""
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


# ----- results: Python value -> JSON ----------------------------------------------------------------
_PLAIN = frozenset({str, int, float, bool, type(None)})   # exact types that are their own JSON value
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}        # dataclass type -> field names, built once


def _field_names(cls: type[Any]) -> tuple[str, ...]:
    """``dataclasses.fields`` builds a tuple of Field objects per call; a result is encoded per request."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def encode(value: Any) -> Any:
    """Backend result -> JSON value (dataclasses to objects, bytes to base64, enums to numbers)."""
    if type(value) in _PLAIN:   # the common case first (IntEnum/IntFlag are int subclasses: not here)
        return value
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return int(value.value) if isinstance(value.value, int) else str(value.value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, LineMessage):
        out = {name: encode(getattr(value, name)) for name in _field_names(type(value))}
        msg = value.msg
        out["msg_name"] = msg.tapi_name if isinstance(msg, LineMsg) else ""
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {name: encode(getattr(value, name)) for name in _field_names(type(value))}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode(v) for v in value]
    return str(value)


# ----- client side: JSON -> Python values -----------------------------------------------------------
class DecodeError(ValueError):
    """A result did not have the documented shape."""


def decode_struct(cls: type[Any], obj: Any) -> Any:
    """JSON object -> dataclass ``cls`` (unknown keys from a newer server are ignored)."""
    if not isinstance(obj, dict):
        raise DecodeError(f"expected an object for {cls.__name__}, got {type(obj).__name__}")
    fields = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, kind in fields.items():
        if key not in obj:
            continue
        value = obj[key]
        if kind == "bytes":
            value = base64.b64decode(value)
        elif kind.startswith("tuple[LineForward"):
            value = tuple(decode_struct(LineForward, e) for e in value or ())
        kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise DecodeError(f"{cls.__name__}: {exc}") from None


def decode_message(obj: Any) -> LineMessage:
    if not isinstance(obj, dict):
        raise DecodeError("expected a LineMessage object")
    try:
        msg: Any = LineMsg(obj["msg"])
    except ValueError:
        msg = int(obj["msg"])   # a LINE_* number this version does not name: keep it raw
    return LineMessage(device=int(obj["device"]), msg=msg, instance=int(obj.get("instance", 0)),
                       param1=int(obj.get("param1", 0)), param2=int(obj.get("param2", 0)),
                       param3=int(obj.get("param3", 0)), new_call=int(obj.get("new_call", 0)),
                       data=base64.b64decode(obj.get("data", "")), time=float(obj.get("time", 0.0)))


STRUCTS: dict[str, type[Any]] = {c.__name__: c for c in (
    LineDevCaps, LineAddressCaps, LineAddressStatus, LineCallInfo, LineCallStatus, LineCallParams, LineForward,
    LineDevStatus)}
