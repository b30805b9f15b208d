"""What a verdict cites from the evidence log, and the check that verdict and log agree (issue 9 §2).

A verdict (``LineSession.verdict``) carries one or more ``Cite``\\ s: the kind of record it judged and
the facts it states about that record, as data -- a LINE_REPLY's result, the state a call went into, a
field of a returned structure, what a party saw, a request that went unanswered. The recorder finds
the cited record in the log (``locate``), marks it ``failed`` (the ladder's red band: the record that
caused the verdict, not the note written afterwards) and the verdict's text is written to contain
``Cite.says()``, the facts rendered the one way the checker renders them too. results.json keeps the
cites as ``tests[].judged`` (docs/results-format.md).

``check_test`` re-derives everything from the raw records of results.json, never from the suite's own
state: each cited record exists, is of the cited kind and says what the facts say; an absence ("no
LINE_REPLY within 5 s", "did not reach CONNECTED", "no LINE_ADDRESSSTATE(FORWARD)") holds over the
whole wait in the log and the wait lasted as long as the text says; the text contains the facts; and
a test that failed or was inconclusive cites at least one record (or the profile claim it rests on).

Kinds and their facts (all plain JSON):

=============  =====================================================================================
reply          ``function``, ``request_id``, ``result`` (LINEERR name, or ``"0"``): a LINE_REPLY
callstate      ``h_call``, ``state`` (LINECALLSTATE names joined by ``/``): a LINE_CALLSTATE
message        ``msg`` (LINE_* name), ``device``, ``param1..3``: any other LINEMESSAGE (LINE_ADDRESSSTATE)
value          ``function``, ``fields`` {name: encoded value}: a synchronous function's returned structure
flag           ``function``, ``field``, ``bit``, ``name``, ``set``: one bit of a returned structure
error          ``function``, ``error``: a synchronous LINEERR (or the exception's type name)
party          ``role``, ``fields`` {PartyView field: value}: what a party was seen to be / be shown
party_timeout  ``role``, ``wanted``, ``timeout``, ``still``: a party that did not reach a state
no_reply       ``function``, ``request_id``, ``timeout``, ``start``: the request whose LINE_REPLY never came
no_state       ``h_call``, ``wanted``, ``mask``, ``still``, ``timeout``, ``start``, ``from_seq``
no_message     ``msg``, ``param``, ``mask``, ``timeout``, ``start``, ``from_seq`` and the trigger
               (``request_id``, or ``role`` and ``action``): the request's return, or the party's
               action, after which an event never came (the judged record; the check holds it to that)
ordering       ``h_call``, ``state``, ``request_id``, ``function``: a call's state before its LINE_REPLY
claim          ``keys``: a verdict on the profile's claims alone (no record to cite)
=============  =====================================================================================
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from conformance._trace import decode, encode
from simulator._constants import LineBusyMode, LineCallState, LineDisconnectMode, LineMsg
from simulator._messages import LineMessage

if TYPE_CHECKING:
    from conformance._recorder import Record

__all__ = ["PARTY_ENDED", "Cite", "CiteKind", "as_cites", "check_cite", "check_results", "check_test", "locate",
           "prose_problems", "reply_result", "state_names"]

CiteKind = Literal["reply", "callstate", "message", "value", "flag", "error", "party", "party_timeout",
                   "no_reply", "no_state", "no_message", "ordering", "claim"]
_EPS: Final = 1e-6


def state_names(mask: int) -> str:
    """``CONNECTED`` / ``IDLE/DISCONNECTED``: LINECALLSTATE bits by name (how verdicts write states)."""
    return "/".join(s.name or "?" for s in LineCallState if s & mask) or f"0x{mask:X}"


def reply_result(msg: LineMessage) -> str:
    """A LINE_REPLY's result as verdicts write it: ``0`` or the LINEERR name."""
    if msg.result == 0:
        return "0"
    err = msg.error
    return err.tapi_name if err is not None else f"0x{msg.param2 & 0xFFFFFFFF:08X}"


# LINEBUSYMODE_TRUNK / UNAVAIL, LINEDISCONNECTMODE_CONGESTION: a trunk shortage (MS docs "LINEBUSYMODE_
# Constants", "LINEDISCONNECTMODE_ Constants"); BUSY / NOANSWER / REJECT: the far party ended the attempt
PARTY_ENDED: Final = "the far party is busy, refused or did not answer"     # how verdicts say it
_TRUNK_BUSY: Final = int(LineBusyMode.TRUNK | LineBusyMode.UNAVAIL)
_TRUNK_DISCONNECTS: Final = int(LineDisconnectMode.CONGESTION)
_PARTY_DISCONNECTS: Final = int(LineDisconnectMode.BUSY | LineDisconnectMode.NOANSWER | LineDisconnectMode.REJECT)


def _trunk_name(mode: int, state: str) -> str:
    if "BUSY" in state.split("/"):
        return f"LINEBUSYMODE_{LineBusyMode(mode & _TRUNK_BUSY).name}"
    return "LINEDISCONNECTMODE_CONGESTION"


def _msg_name(msg: LineMessage) -> str:
    return msg.msg.tapi_name if isinstance(msg.msg, LineMsg) else str(int(msg.msg))


def _field_text(name: str, value: Any) -> str:
    from conformance._recorder import field_text  # the recorder's own rendering (lazy: no cycle)

    return field_text(name, value)


def _party_text(name: str, value: Any) -> str:
    if name in ("presented_number", "redirecting_number", "connected_number"):
        return repr(value)
    if name == "reason":
        return f"0x{int(value):X}"
    if name == "off_hook":
        return "off-hook" if value else "on-hook"
    return str(value)


@dataclass(frozen=True, slots=True)
class Cite:
    """One record a verdict judged, with the facts it states about it (see the module docstring)."""

    kind: CiteKind
    facts: Mapping[str, Any]
    obj: object = field(default=None, compare=False, repr=False)   # the live object judged: found by identity
    seq: int | None = None          # the judged record, once located
    note: int | None = None         # the note carrying the verdict text

    def says(self) -> tuple[str, ...]:
        """What the verdict's text must contain for these facts (rendered as the verdict writes them)."""
        f = self.facts
        k = self.kind
        if k == "reply":
            return (f"{f['function']} (request {f['request_id']})", str(f["result"]))
        if k in ("callstate", "ordering"):
            extra = (f"(request {f['request_id']})",) if k == "ordering" else ()
            blame = {"trunk": (_trunk_name(int(f.get("mode", 0)), str(f["state"])),),
                     "party": (PARTY_ENDED,)}.get(str(f.get("blame", "")), ())
            return (f"0x{int(f['h_call']):08X}", str(f["state"]), *extra, *blame)
        if k == "message":
            return (str(f["msg"]),)
        if k == "value":
            return tuple(f"{name}={_field_text(name, decode(v))}" for name, v in f["fields"].items())
        if k == "flag":
            return (f"{f['name']} is {'set' if f['set'] else 'missing'}",)
        if k == "error":
            return (str(f["function"]), str(f["error"]))
        if k == "party":
            return tuple(_party_text(name, v) for name, v in f["fields"].items())
        if k == "party_timeout":
            return (f"{f['role']} did not become {f['wanted']}", f"within {f['timeout']:g} s", f"still {f['still']}")
        if k == "no_reply":
            return (f"no LINE_REPLY for {f['function']} (request {f['request_id']})", f"{f['timeout']:g} s")
        if k == "no_state":
            return (f"call 0x{int(f['h_call']):08X} did not reach {f['wanted']}", f"within {f['timeout']:g} s",
                    f"still {f['still'] or 'no state yet'}")
        if k == "no_message":
            return (f"no {f['msg']}", f"within {f['timeout']:g} s")
        if k == "claim":
            return tuple(str(key) for key in f["keys"])
        raise ValueError(f"unknown cite kind {k!r}")

    def phrase(self) -> str:
        """The facts as one phrase for a verdict's text (it contains every fragment of ``says``)."""
        if self.kind == "reply":
            return f"{self.facts['function']} (request {self.facts['request_id']}) was answered {self.facts['result']}"
        if self.kind == "error":
            return f"{self.facts['function']} failed {self.facts['error']}"
        return ", ".join(self.says())

    def to_jsonable(self) -> dict[str, Any]:
        return {"seq": self.seq, "note": self.note, "kind": self.kind, "facts": dict(self.facts)}

    @classmethod
    def from_jsonable(cls, data: Mapping[str, Any]) -> Cite:
        seq, note = data.get("seq"), data.get("note")
        return cls(kind=data["kind"], facts=dict(data.get("facts") or {}),
                   seq=None if seq is None else int(seq), note=None if note is None else int(note))

    # --- constructors: the facts taken from the object judged ------------------------------------
    @classmethod
    def reply(cls, msg: LineMessage, function: str) -> Cite:
        return cls("reply", {"function": function, "request_id": int(msg.request_id),
                             "result": reply_result(msg)}, msg)

    @classmethod
    def callstate(cls, msg: LineMessage) -> Cite:
        return cls("callstate", {"h_call": int(msg.device), "state": state_names(int(msg.param1)),
                                 "mode": int(msg.param2)}, msg)

    @classmethod
    def message(cls, msg: LineMessage) -> Cite:
        """Any LINEMESSAGE: a LINE_REPLY or LINE_CALLSTATE gets its own kind (a reply's function unknown)."""
        if msg.msg == LineMsg.CALLSTATE:
            return cls.callstate(msg)
        return cls("message", {"msg": _msg_name(msg), "device": int(msg.device), "param1": int(msg.param1),
                               "param2": int(msg.param2), "param3": int(msg.param3)}, msg)

    @classmethod
    def value(cls, value: object, function: str, *fields: str) -> Cite:
        return cls("value", {"function": function,
                             "fields": {name: encode(getattr(value, name)) for name in fields}}, value)

    @classmethod
    def flag(cls, value: object, function: str, field_name: str, bit: int, name: str) -> Cite:
        return cls("flag", {"function": function, "field": field_name, "bit": int(bit), "name": name,
                            "set": bool(int(getattr(value, field_name)) & int(bit))}, value)

    @classmethod
    def error(cls, exc: BaseException, function: str) -> Cite:
        name = getattr(exc, "name", None) or type(exc).__name__
        return cls("error", {"function": function, "error": str(name)}, exc)

    @classmethod
    def party(cls, view: object, *fields: str) -> Cite:
        return cls("party", {"role": str(getattr(view, "role", "")),
                             "fields": {name: encode(getattr(view, name)) for name in fields}}, view)

    @classmethod
    def claim(cls, *keys: str) -> Cite:
        return cls("claim", {"keys": list(keys)})


# --- finding the record -------------------------------------------------------------------------------


def _is_callstate(r: Record, h_call: int) -> bool:
    return r.kind == "message" and r.message is not None and r.message.msg == LineMsg.CALLSTATE \
        and int(r.message.device) == h_call


def _is_reply(r: Record, request_id: int) -> bool:
    return r.kind == "message" and r.message is not None and r.message.msg == LineMsg.REPLY \
        and int(r.message.param1) == request_id


def _returned(r: Record, request_id: int, function: str) -> bool:
    return r.kind == "return" and r.request_id == request_id and r.function == function


def locate(records: Sequence[Record], cite: Cite) -> Record | None:
    """The record ``cite`` judged: the one holding its object, else found by its facts (latest first)."""
    f = cite.facts
    if cite.obj is not None:
        for r in reversed(records):
            if r.message is cite.obj or r.value is cite.obj:
                return r
    rev = list(reversed(records))
    if cite.kind == "no_reply":
        return next((r for r in rev if _returned(r, int(f["request_id"]), str(f["function"]))), None)
    if cite.kind == "party_timeout":
        return next((r for r in rev if r.kind == "timeout" and r.function == "wait_for"
                     and r.actor == f["role"]), None)
    if cite.kind == "no_state":
        h_call = int(f["h_call"])
        return next((r for r in rev if _is_callstate(r, h_call)), None) or next(
            (r for r in rev if r.kind == "message" and r.message is not None
             and r.message.msg == LineMsg.REPLY and int(r.message.new_call) == h_call), None)
    if cite.kind == "no_message":
        if "request_id" in f:
            return next((r for r in rev if r.kind == "return" and r.request_id == int(f["request_id"])), None)
        return next((r for r in rev if r.kind == "party" and r.actor == f.get("role")
                     and r.function == f.get("action", "call")), None)
    return None


# --- the check ------------------------------------------------------------------------------------------


def _state(msg: LineMessage) -> str:
    return state_names(int(msg.param1))


def _between(records: Sequence[Record], after: int, before: int) -> list[Record]:
    return [r for r in records if after < r.seq < before]


def _value_fields(value: object, fields: Mapping[str, Any]) -> list[str]:
    out = []
    for name, want in fields.items():
        if not dataclasses.is_dataclass(value) or not hasattr(value, name):
            out.append(f"has no field {name}")
        elif encode(getattr(value, name)) != want:
            out.append(f"{name} is {encode(getattr(value, name))!r}, the verdict says {want!r}")
    return out


def _check_record(records: Sequence[Record], rec: Record, cite: Cite, note: Record | None) -> list[str]:
    """Does ``rec`` say what ``cite.facts`` say (and do the absences hold over the wait)?"""
    f, k, msg = cite.facts, cite.kind, rec.message
    end = note.seq if note is not None else len(records) + 1
    end_time = note.time if note is not None else records[-1].time
    if k == "reply":
        rid = int(f["request_id"])
        if not _is_reply(rec, rid) or msg is None:
            return [f"#{rec.seq} is not the LINE_REPLY of request {rid}"]
        problems = [] if reply_result(msg) == f["result"] else [
            f"#{rec.seq} LINE_REPLY result is {reply_result(msg)}, the verdict says {f['result']}"]
        if not any(_returned(r, rid, str(f["function"])) for r in records if r.seq < rec.seq):
            problems.append(f"no {f['function']} returned request {rid} before #{rec.seq}")
        return problems
    if k == "callstate":
        if not _is_callstate(rec, int(f["h_call"])) or msg is None:
            return [f"#{rec.seq} is not a LINE_CALLSTATE of call 0x{int(f['h_call']):08X}"]
        problems = [] if _state(msg) == f["state"] else [
            f"#{rec.seq} reports {_state(msg)}, the verdict says {f['state']}"]
        if "mode" in f and int(msg.param2) != int(f["mode"]):
            problems.append(f"#{rec.seq} has mode 0x{int(msg.param2):X}, the verdict says 0x{int(f['mode']):X}")
        blame = f.get("blame")
        busy = bool(msg.param1 & LineCallState.BUSY)
        if blame == "trunk" and not (msg.param2 & _TRUNK_BUSY if busy else msg.param2 & _TRUNK_DISCONNECTS):
            problems.append(f"#{rec.seq} (mode 0x{int(msg.param2):X}) is no trunk shortage, the verdict blames trunks")
        party = (not msg.param2 & _TRUNK_BUSY) if busy else bool(msg.param2 & _PARTY_DISCONNECTS)
        if blame == "party" and not party:
            problems.append(f"#{rec.seq} (mode 0x{int(msg.param2):X}) does not show the far party ended the call, "
                            f"the verdict says so")
        return problems
    if k == "message":
        got = None if msg is None else {"msg": _msg_name(msg), "device": int(msg.device), "param1": int(msg.param1),
                                        "param2": int(msg.param2), "param3": int(msg.param3)}
        return [] if got == dict(f) else [f"#{rec.seq} is {got}, the verdict says {dict(f)}"]
    if k in ("value", "flag"):
        if rec.kind != "return" or rec.function != f["function"] or rec.value is None:
            return [f"#{rec.seq} is not a recorded {f['function']} return value"]
        if k == "value":
            return [f"#{rec.seq} {f['function']}: {p}" for p in _value_fields(rec.value, f["fields"])]
        is_set = bool(int(getattr(rec.value, str(f["field"]), 0)) & int(f["bit"]))
        return [] if is_set == bool(f["set"]) else [
            f"#{rec.seq} {f['function']}: {f['name']} is {'set' if is_set else 'missing'}, the verdict says "
            f"{'set' if f['set'] else 'missing'}"]
    if k == "error":
        if rec.kind != "error" or rec.function != f["function"]:
            return [f"#{rec.seq} is not an error return of {f['function']}"]
        return [] if rec.result == f["error"] else [f"#{rec.seq} failed {rec.result}, the verdict says {f['error']}"]
    if k == "party":
        if rec.kind != "party" or rec.actor != f["role"] or rec.value is None:
            return [f"#{rec.seq} is not what the {f['role']} party was seen to be"]
        return [f"#{rec.seq} {f['role']}: {p}" for p in _value_fields(rec.value, f["fields"])]
    if k == "party_timeout":
        role = f["role"]
        if rec.kind != "timeout" or rec.function != "wait_for" or rec.actor != role:
            return [f"#{rec.seq} is not a wait for the {role} party that ran out"]
        problems = []
        if dict(rec.args).get("states") != f["wanted"]:
            problems.append(f"#{rec.seq} waited for {dict(rec.args).get('states')}, the verdict says {f['wanted']}")
        seen = next((r for r in _between(records, rec.seq, end) if r.kind == "party" and r.actor == role
                     and r.function == "observe"), None)
        if seen is None:
            problems.append(f"no observation of {role} after #{rec.seq} says it was still {f['still']}")
        elif seen.result != f["still"]:
            problems.append(f"#{seen.seq} observed {role} {seen.result}, the verdict says still {f['still']}")
        return problems
    if k == "no_reply":
        rid = int(f["request_id"])
        if not _returned(rec, rid, str(f["function"])):
            return [f"#{rec.seq} is not {f['function']} returning request {rid}"]
        problems = [f"#{r.seq} is a LINE_REPLY of request {rid}, before the verdict" for r in
                    _between(records, rec.seq, end) if _is_reply(r, rid)]
        if end_time - float(f["start"]) < float(f["timeout"]) - _EPS:
            problems.append(f"the verdict came {end_time - float(f['start']):g} s into a {f['timeout']:g} s wait")
        return problems
    if k == "no_state":
        h_call, mask = int(f["h_call"]), int(f["mask"])
        states = [r for r in records if r.seq < end and _is_callstate(r, h_call)]
        last = _state(states[-1].message) if states and states[-1].message is not None else ""
        problems = [] if last == f["still"] else [
            f"the last LINE_CALLSTATE of call 0x{h_call:08X} says {last or 'none'}, the verdict says still "
            f"{f['still'] or 'no state yet'}"]
        problems += [f"#{r.seq} reports {_state(r.message)} (wanted) before the verdict" for r in states
                     if r.seq > int(f["from_seq"]) and r.message is not None and int(r.message.param1) & mask]
        if end_time - float(f["start"]) < float(f["timeout"]) - _EPS:
            problems.append(f"the verdict came {end_time - float(f['start']):g} s into a {f['timeout']:g} s wait")
        return problems
    if k == "no_message":
        param, mask = str(f["param"]), int(f["mask"])
        # the judged record is what the absence followed (``after``): the request, or the party's action
        if "request_id" in f:
            trigger = [] if rec.kind == "return" and rec.request_id == int(f["request_id"]) else [
                f"#{rec.seq} is not the return of request {f['request_id']}, which the verdict says the "
                f"{f['msg']} should have followed"]
        else:
            action = str(f.get("action", "call"))
            trigger = [] if rec.kind == "party" and rec.actor == f.get("role") and rec.function == action else [
                f"#{rec.seq} is not the {f.get('role')} party's {action}, which the verdict says the {f['msg']} "
                f"should have followed"]
        problems = trigger + [f"#{r.seq} is a {f['msg']} with {param} & 0x{mask:X}, before the verdict"
                    for r in _between(records, int(f["from_seq"]), end) if r.kind == "message"
                    and r.message is not None and _msg_name(r.message) == f["msg"]
                    and int(getattr(r.message, param)) & mask == mask]
        if end_time - float(f["start"]) < float(f["timeout"]) - _EPS:
            problems.append(f"the verdict came {end_time - float(f['start']):g} s into a {f['timeout']:g} s wait")
        return problems
    if k == "ordering":
        h_call, rid = int(f["h_call"]), int(f["request_id"])
        if not _is_reply(rec, rid) or msg is None or int(msg.new_call) != h_call:
            return [f"#{rec.seq} is not the LINE_REPLY of request {rid} creating call 0x{h_call:08X}"]
        first = next((r for r in records if _is_callstate(r, h_call)), None)
        if first is None or first.seq > rec.seq or first.message is None:
            return [f"no LINE_CALLSTATE of call 0x{h_call:08X} before its LINE_REPLY #{rec.seq}"]
        return [] if _state(first.message) == f["state"] else [
            f"#{first.seq}, the first state of call 0x{h_call:08X}, is {_state(first.message)}, "
            f"the verdict says {f['state']}"]
    return [f"unknown cite kind {k!r}"]


def check_cite(records: Sequence[Record], cite: Cite, reason: str) -> list[str]:
    """Problems of one cite against the raw records and the verdict text (empty: they agree)."""
    problems = [f"the verdict text does not say {fragment!r}" for fragment in cite.says() if fragment not in reason]
    if cite.kind == "claim":
        return problems
    by_seq = {r.seq: r for r in records}
    note = by_seq.get(cite.note) if cite.note is not None else None
    if cite.note is not None and (note is None or note.kind != "note"):
        problems.append(f"the verdict note #{cite.note} is not in the log")
    rec = by_seq.get(cite.seq) if cite.seq is not None else None
    if rec is None:
        return [*problems, f"the judged record ({cite.kind}) is not in the log"]
    if not rec.failed:
        problems.append(f"the judged record #{rec.seq} is not marked failed")
    return problems + _check_record(records, rec, cite, note)


_REQUEST: Final = re.compile(r"\(request (\d+)\)")
_LINEERR: Final = re.compile(r"\bLINEERR_[A-Z0-9_]+")
_HANDLE: Final = re.compile(r"\bcall 0x([0-9A-F]{8})\b")


def prose_problems(reason: str, records: Sequence[Record]) -> list[str]:
    """A safety net under the cites for what any verdict text may mention in passing (an inner verdict
    quoted by the outer one, a clean-up problem): every ``(request N)`` was handed out by a request of
    the log, every ``LINEERR_X`` was returned or replied, every ``call 0x...`` is a handle the log knows."""
    problems = []
    issued = {r.request_id for r in records if r.kind == "return" and r.request_id > 0}
    for number in sorted({int(n) for n in _REQUEST.findall(reason)} - issued):
        problems.append(f"the text names request {number}, which no request of the log returned")
    errors = {r.result for r in records if r.kind == "error"} | {
        reply_result(r.message) for r in records
        if r.kind == "message" and r.message is not None and r.message.msg == LineMsg.REPLY}
    for name in sorted(set(_LINEERR.findall(reason)) - errors):
        problems.append(f"the text names {name}, which nothing in the log returned")
    handles = {int(m.device) for r in records if (m := r.message) is not None} | {
        int(m.new_call) for r in records if (m := r.message) is not None} | {
        int(m.param2) for r in records if (m := r.message) is not None and m.msg == LineMsg.APPNEWCALL}
    for handle in sorted({int(h, 16) for h in _HANDLE.findall(reason)} - handles):
        problems.append(f"the text names call 0x{handle:08X}, which no message of the log carries")
    return problems


def check_test(test: Mapping[str, Any]) -> list[str]:
    """Every disagreement between a results.json test's verdict (reason, ``judged``) and its ``records``.

    A fail or inconclusive verdict must cite at least one record (or the claim it rests on); each cite
    must hold (``check_cite``); ``failed_seq`` is the first cited record.
    """
    from conformance._recorder import records_from_jsonable

    outcome = str(test.get("outcome", ""))
    cites = [Cite.from_jsonable(c) for c in test.get("judged") or ()]
    if outcome == "pass" or outcome == "not-applicable":
        return []
    tid, reason = str(test.get("id", "?")), str(test.get("reason", ""))
    records = records_from_jsonable(test.get("records") or [])
    problems: list[str] = prose_problems(reason, records)
    if not cites and outcome in ("fail", "inconclusive") and records:
        problems.append("cites no judged record")
    for cite in cites:
        problems += [f"{cite.kind}: {p}" for p in check_cite(records, cite, reason)]
    cited = {c.seq for c in cites if c.seq is not None}
    last_note = max((c.note for c in cites if c.note is not None), default=None)
    if cited and last_note is not None:
        stray = [r.seq for r in records if r.failed and r.seq not in cited and r.seq < last_note]
        if stray:
            problems.append(f"records {stray} are marked failed but the verdict does not cite them")
    first = next((c.seq for c in cites if c.seq is not None), None)
    if first is not None and test.get("failed_seq") != first:
        problems.append(f"failed_seq is {test.get('failed_seq')}, the first judged record is #{first}")
    return [f"{tid} ({outcome}): {p}" for p in problems]


def check_results(results: Mapping[str, Any]) -> list[str]:
    """``check_test`` over every test of a results.json object."""
    return [p for t in results.get("tests") or () for p in check_test(t)]


def as_cites(cause: object) -> tuple[Cite, ...]:
    """A verdict's ``cause`` (None, a LineMessage, a Cite, or several) as cites."""
    if cause is None:
        return ()
    if isinstance(cause, Cite):
        return (cause,)
    if isinstance(cause, LineMessage):
        return (Cite.message(cause),)
    if isinstance(cause, Iterable):
        return tuple(c for item in cause for c in as_cites(item))
    raise TypeError(f"a verdict cannot cite a {type(cause).__name__}")

