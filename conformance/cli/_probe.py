"""``ro-conformance probe --backend SPEC [--desk EXT] [--active] > draft.yaml``: a live PBX -> draft profile.

Theory of operation. Passive (the default) changes nothing on the PBX: lineInitializeEx, then for every
line device lineNegotiateAPIVersion (up to 3.1: the highest version is itself a fact about the TSP),
LINEDEVCAPS, LINEADDRESSCAPS of address 0, and LINEADDRESSSTATUS through a MONITOR-only lineOpen. The
desk line (``--desk EXT``, else device 0) gives the claims; the other lines are listed in the header
(the party lines a real-PBX run may use). ``--active`` opens the desk line OWNER|MONITOR and tries what
the capabilities only promise: lineForward UNCOND to the PIXIT RO number (reply, LINE_ADDRESSSTATE
FORWARD, lineGetAddressStatus), lineForward NULL (cleared?), the forwarding found before is put back;
then a hands-free lineMakeCall to the RO number, whose first call states tell auto / prompted /
rejected origination; the call is dropped and deallocated. Every wait is bounded by ``--timeout``.

What no capability reveals (presentation to the target per path, completion while ringing, trunk
count, the business number, vendor strings of a native feature) becomes a question in the draft, which
then does not validate until answered (``conformance._draft``). Exit 0: draft written (questions are
listed on stderr); 4: usage, backend or TAPI error.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from conformance._draft import Draft, render
from conformance._registry import open_backend
from conformance.backend import DEFAULT_API_VERSION, HANDS_FREE, INTERACTIVEVOICE, OWNER_MONITOR, Backend
from conformance.report._results import EXIT_USAGE
from simulator._constants import ApiVersion, LineCallPrivilege, LineForwardMode, LineMsg, LineTransferMode
from simulator._constants import LineAddrCapFlags as ACF
from simulator._constants import LineAddressState as AS
from simulator._constants import LineCallFeature as CF
from simulator._constants import LineCallState as S
from simulator._constants import LineFeature as LF
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._structs import LineAddressCaps, LineAddressStatus, LineDevCaps, LineForward

__all__ = ["LineSeen", "Probe", "add_arguments", "probe", "run"]

API_LOW, API_HIGH = int(ApiVersion.V1_3), int(ApiVersion.V3_1)
MONITOR: Final = int(LineCallPrivilege.MONITOR)
# Forwarding modes a profile may claim (UNKNOWN / UNAVAIL are status values, not modes).
_MODES: Final = [m for m in LineForwardMode if m.name not in ("UNKNOWN", "UNAVAIL")]
_SETTLED: Final = int(S.RINGBACK | S.CONNECTED | S.BUSY | S.OFFERING | S.DISCONNECTED | S.IDLE)
# path -> (the call it is, what Remote Office needs there): the forwarded path is judged only against
# the claim (RO-FWD-06), so the question must not ask for the business number there.
_CALLER_ID_PATHS: Final = {
    "direct": ("a call the desk places (lineMakeCall)", "the native route needs business"),
    "blind_transfer": ("the RO leg blind-transferred to the target", "RO needs business"),
    "consult_transfer": ("a consultation transfer to the target", "RO needs business"),
    "forwarded": ("a call forwarded from the business number to the RO phone",
                  "any answer can be Remote Office compatible; usually caller"),
}
_PRESENTED: Final = "business | extension | remote | caller | withheld"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", required=True, metavar="SPEC",
                        help="backend spec: tapi32:, bridge://HOST:PORT, sim:PROFILE, tapi32:emulated:PROFILE")
    parser.add_argument("--desk", default=None, metavar="EXT", help="address (extension) of the desk line "
                        "(default: line device 0)")
    parser.add_argument("--active", action="store_true", help="also try forwarding and a hands-free call "
                        "to the RO number, restoring what was changed (needs --remote-office)")
    parser.add_argument("--remote-office", default=None, metavar="NUMBER", help="PIXIT RO number (national form)")
    parser.add_argument("--target", default=None, metavar="NUMBER", help="PIXIT target number")
    parser.add_argument("--caller", default=None, metavar="NUMBER", help="PIXIT caller number")
    parser.add_argument("--dial-prefix", default=None, metavar="DIGITS", help="trunk prefix (default 0)")
    parser.add_argument("--name", default=None, metavar="SLUG", help="pbx.name of the draft")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="bound of every wait (10 s)")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the draft here instead of stdout")


# --- what the probe reads ------------------------------------------------------------------------------


@dataclass
class LineSeen:
    device_id: int
    api_version: int
    dev_caps: LineDevCaps
    addr_caps: LineAddressCaps
    status: LineAddressStatus | None = None
    status_error: str = ""


@dataclass
class Probe:
    """Everything read and tried; ``draft()`` turns it into claims."""

    spec: str
    lines: list[LineSeen] = field(default_factory=list)
    desk: LineSeen | None = None
    desk_given: bool = False
    ext_version: int | None = None
    ext_error: str = ""
    active: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class _Pump:
    """Bounded waits on one application's messages (every message kept)."""

    def __init__(self, backend: Backend, h_app: int) -> None:
        self.backend, self.h_app = backend, h_app
        self.messages: list[LineMessage] = []

    def until(self, cond: Callable[[], bool], timeout: float) -> bool:
        deadline = self.backend.now() + timeout
        while not cond():
            remaining = deadline - self.backend.now()
            if remaining <= 0:
                return False
            msg = self.backend.line_get_message(self.h_app, remaining)
            if msg is None:
                return cond()
            self.messages.append(msg)
        return True

    def reply(self, req: int, timeout: float) -> LineMessage | None:
        self.until(lambda: self._reply(req) is not None, timeout)
        return self._reply(req)

    def _reply(self, req: int) -> LineMessage | None:
        return next((m for m in self.messages if m.msg == LineMsg.REPLY and m.request_id == req), None)

    def states(self, h_call: int) -> list[int]:
        return [m.param1 for m in self.messages if m.msg == LineMsg.CALLSTATE and m.device == h_call]


def _read_lines(backend: Backend, h_app: int, devices: int, result: Probe) -> None:
    for device in range(devices):
        try:
            api = backend.line_negotiate_api_version(h_app, device, API_LOW, API_HIGH)
            seen = LineSeen(device, api, backend.line_get_dev_caps(h_app, device, api),
                            backend.line_get_address_caps(h_app, device, 0, api))
        except LineError as exc:
            result.notes.append(f"device {device}: {exc}")
            continue
        try:
            h_line = backend.line_open(h_app, device, api, 0, 0, MONITOR, INTERACTIVEVOICE)
            try:
                seen.status = backend.line_get_address_status(h_line, 0)
            finally:
                backend.line_close(h_line)
        except LineError as exc:
            seen.status_error = str(exc)
        result.lines.append(seen)


def _pick_desk(result: Probe, desk: str | None) -> None:
    if desk is None:
        result.desk = result.lines[0] if result.lines else None
        return
    result.desk_given = True
    result.desk = next((ln for ln in result.lines if ln.addr_caps.address == desk), None)


def probe(backend: Backend, spec: str, desk: str | None = None, *, active: bool = False,
          dial: str = "", timeout: float = 10.0) -> Probe:
    """Read (and with ``active`` try) the PBX behind ``backend``; raises ``TapiError`` for a dead link.

    ``dial`` is what the desk dials to reach the RO number (prefix + number) in the active probe.
    """
    result = Probe(spec)
    h_app, devices, _ = backend.line_initialize_ex("ro-conformance probe", DEFAULT_API_VERSION)
    try:
        _read_lines(backend, h_app, devices, result)
        _pick_desk(result, desk)
        line = result.desk
        if line is None:
            seen = ", ".join(ln.addr_caps.address or ln.dev_caps.line_name for ln in result.lines) or "none"
            raise TapiError(f"no line device has the desk address {desk!r} (--desk); addresses seen: {seen}")
        if line.dev_caps.line_features & LF.DEVSPECIFIC:
            try:
                result.ext_version = backend.line_negotiate_ext_version(h_app, line.device_id, line.api_version,
                                                                        1, 0x7FFFFFFF)
            except LineError as exc:
                result.ext_error = exc.name
        if active:
            _active(backend, h_app, line, dial, timeout, result)
    finally:
        with contextlib.suppress(TapiError):
            backend.line_shutdown(h_app)
    return result


# --- the active probe ----------------------------------------------------------------------------------


def _active(backend: Backend, h_app: int, line: LineSeen, dial: str, timeout: float, result: Probe) -> None:
    h_line = backend.line_open(h_app, line.device_id, line.api_version, 0, 0, OWNER_MONITOR, INTERACTIVEVOICE)
    pump = _Pump(backend, h_app)
    try:
        backend.line_set_status_messages(h_line, line.dev_caps.line_states, line.addr_caps.address_states)
        if line.addr_caps.forward_modes & LineForwardMode.UNCOND:
            _try_forwarding(backend, pump, h_line, line, dial, timeout, result)
        _try_make_call(backend, pump, h_line, dial, timeout, result)
    finally:
        with contextlib.suppress(TapiError):
            backend.line_close(h_line)


def _forward(backend: Backend, pump: _Pump, h_line: int, entries: tuple[LineForward, ...] | None,
             timeout: float) -> str:
    """"0" when lineForward was accepted, else the LINEERR name (or "no LINE_REPLY")."""
    try:
        req = backend.line_forward(h_line, False, 0, entries, 0)
    except LineError as exc:
        return exc.name
    reply = pump.reply(req, timeout)
    if reply is None:
        return "no LINE_REPLY"
    return "0" if reply.result == 0 else (reply.error.tapi_name if reply.error else f"{reply.result}")


def _forward_event(pump: _Pump, h_line: int, since: int, timeout: float) -> bool:
    def seen() -> bool:
        return any(m.msg == LineMsg.ADDRESSSTATE and m.device == h_line and m.param2 & AS.FORWARD
                   for m in pump.messages[since:])
    return pump.until(seen, timeout)


def _try_forwarding(backend: Backend, pump: _Pump, h_line: int, line: LineSeen, dial: str, timeout: float,
                    result: Probe) -> None:
    before = backend.line_get_address_status(h_line, 0).forward
    if not line.addr_caps.addr_cap_flags & ACF.FWDSTATUSVALID:
        result.notes.append("the forwarding set before the probe cannot be read (LINEADDRCAPFLAGS_FWDSTATUSVALID "
                            "is not set): if the desk was forwarded, set it again - the probe cleared it")
    mark = len(pump.messages)
    entry = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address=dial)
    act = result.active
    act["forward_set"] = _forward(backend, pump, h_line, (entry,), timeout)
    if act["forward_set"] != "0":
        return
    act["forward_event"] = _forward_event(pump, h_line, mark, timeout)
    shown = backend.line_get_address_status(h_line, 0).forward
    act["forward_query"] = any(e.dest_address.endswith(dial.lstrip("0")) for e in shown if e.dest_address)
    act["forward_clear"] = _forward(backend, pump, h_line, None, timeout)
    act["forward_cleared"] = not backend.line_get_address_status(h_line, 0).forward
    if before:
        act["forward_restored"] = _forward(backend, pump, h_line, before, timeout)
        result.notes.append(f"forwarding found before the probe was put back: {act['forward_restored']}")


def _try_make_call(backend: Backend, pump: _Pump, h_line: int, dial: str, timeout: float,
                   result: Probe) -> None:
    act = result.active
    try:
        # the suite's hands-free parameters: a PBX that goes off-hook only when asked is not 'prompted'
        req = backend.line_make_call(h_line, dial, 0, HANDS_FREE)
    except LineError as exc:
        act["make_call"] = exc.name
        return
    reply = pump.reply(req, timeout)
    if reply is None or reply.result != 0:
        act["make_call"] = "no LINE_REPLY" if reply is None else (reply.error.tapi_name if reply.error else "error")
        return
    act["make_call"] = "0"
    h_call = reply.new_call
    # Wait for where the call settles (so DIALTONE / PROCEEDING on the way are seen), or for the prompt.
    pump.until(lambda: any(s & _SETTLED for s in pump.states(h_call)), timeout)
    states = pump.states(h_call)
    act["call_states"] = [S(s).name for s in states if s in S._value2member_map_]
    with contextlib.suppress(TapiError):
        drop = backend.line_drop(h_call)
        pump.reply(drop, timeout)
        pump.until(lambda: bool(pump.states(h_call)) and pump.states(h_call)[-1] == S.IDLE, timeout)
    with contextlib.suppress(TapiError):
        backend.line_deallocate_call(h_call)


# --- probe -> draft ------------------------------------------------------------------------------------


def _hex(value: int) -> str:
    return f"0x{value:08X}"


def _mode_names(mask: int) -> list[str]:
    return [m.name or "" for m in _MODES if mask & m]


def _forwarding_claims(d: Draft, line: LineSeen, active: dict[str, Any]) -> None:
    caps, key = line.addr_caps, "capabilities.forwarding"
    fwd_feature = bool(line.dev_caps.line_features & LF.FORWARD) and bool(caps.forward_modes)
    set_result = active.get("forward_set")
    if not fwd_feature or (set_result not in (None, "0")):
        why = (f"lineForward UNCOND was answered {set_result} (active probe)" if fwd_feature
               else f"LINEDEVCAPS.dwLineFeatures {_hex(line.dev_caps.line_features)} lacks LINEFEATURE_FORWARD "
                    f"or LINEADDRESSCAPS.dwForwardModes is 0")
        d.add(key, None, why, "observed" if fwd_feature else "inferred")
        return
    d.add(f"{key}.modes", _mode_names(caps.forward_modes),
          f"LINEADDRESSCAPS.dwForwardModes = {_hex(caps.forward_modes)}", "advertised")
    if "forward_query" in active:
        d.add(f"{key}.query", bool(active["forward_query"]), "lineGetAddressStatus after lineForward UNCOND "
              f"{'listed' if active['forward_query'] else 'did not list'} the RO number (active probe)", "observed")
    else:
        d.add(f"{key}.query", bool(caps.addr_cap_flags & ACF.FWDSTATUSVALID),
              f"LINEADDRCAPFLAGS_FWDSTATUSVALID in dwAddrCapFlags {_hex(caps.addr_cap_flags)}", "advertised")
    if "forward_event" in active:
        d.add(f"{key}.status_events", bool(active["forward_event"]), "LINE_ADDRESSSTATE(FORWARD) "
              f"{'came' if active['forward_event'] else 'did not come'} after lineForward (active probe)", "observed")
    else:
        d.add(f"{key}.status_events", bool(caps.address_states & AS.FORWARD),
              f"LINEADDRESSSTATE_FORWARD in dwAddressStates {_hex(caps.address_states)}", "advertised")
    d.add(f"{key}.max_entries", max(1, caps.max_forward_entries),
          f"LINEADDRESSCAPS.dwMaxForwardEntries = {caps.max_forward_entries}", "advertised")
    if "forward_clear" in active:
        cleared = active["forward_clear"] == "0" and bool(active.get("forward_cleared"))
        d.add(f"{key}.clear", cleared, f"lineForward(NULL) was answered {active['forward_clear']} and "
              f"lineGetAddressStatus then {'listed nothing' if active.get('forward_cleared') else 'still listed'} "
              "(active probe)", "observed")
    else:
        d.ask(f"{key}.clear", "true | false - whether lineForward with a NULL list really cancels forwarding "
              "(no capability tells; probe --active tries it)")
    d.ask(f"{key}.desk_sees_forwarded_call", "nothing | offering_disconnected - what the desk line shows when "
          "a forwarded call arrives (no capability tells)")


def _origination_claim(d: Draft, line: LineSeen, active: dict[str, Any]) -> None:
    key, flags = "capabilities.origination", line.addr_caps.addr_cap_flags
    made = active.get("make_call")
    if made is not None:
        states = active.get("call_states", [])
        if made != "0":
            d.add(key, "reject", f"hands-free lineMakeCall to the RO number was answered {made} (active probe)",
                  "observed")
        elif "OFFERING" in states:
            d.add(key, "prompt_offering", f"lineMakeCall first rang the desk phone: {states} (active probe)",
                  "observed")
        elif any(s in states for s in ("DIALTONE", "DIALING", "PROCEEDING", "RINGBACK", "CONNECTED", "BUSY")):
            d.add(key, "auto", f"lineMakeCall progressed hands-free: {'/'.join(states)} (active probe)", "observed")
        else:
            d.add(key, "prompt_silent", f"lineMakeCall was accepted but nothing progressed: {states} (active probe)",
                  "observed")
        return
    if flags & ACF.ORIGOFFHOOK:
        d.add(key, "auto", f"LINEADDRCAPFLAGS_ORIGOFFHOOK in dwAddrCapFlags {_hex(flags)}", "advertised")
    else:
        d.ask(key, "prompt_offering | prompt_silent | reject - LINEADDRCAPFLAGS_ORIGOFFHOOK is not set, so "
              "lineMakeCall is not advertised hands-free (probe --active tells which)")


def _transfer_claims(d: Draft, line: LineSeen) -> None:
    caps, key = line.addr_caps, "capabilities.transfer"
    features = f"LINEADDRESSCAPS.dwCallFeatures {_hex(caps.call_features)}"
    d.add(f"{key}.blind", bool(caps.call_features & CF.BLINDTRANSFER), f"LINECALLFEATURE_BLINDTRANSFER in {features}",
          "advertised")
    consult = bool(caps.call_features & CF.SETUPTRANSFER and caps.call_features & CF.COMPLETETRANSF
                   and caps.transfer_modes & LineTransferMode.TRANSFER)
    d.add(f"{key}.consultation", consult, f"LINECALLFEATURE_SETUPTRANSFER + COMPLETETRANSF in {features}, "
          f"LINETRANSFERMODE_TRANSFER in dwTransferModes {_hex(caps.transfer_modes)}", "advertised")
    if consult:
        d.ask(f"{key}.complete_in", "a list of connected, ringback, proceeding, busy - the consultation-call "
              "states in which lineCompleteTransfer is accepted (no capability tells; RO needs ringback)")
    else:
        d.add(f"{key}.complete_in", [], "no consultation transfer", "inferred")


def _native_claims(d: Draft, line: LineSeen, result: Probe) -> None:
    key = "capabilities.native_remote_office"
    if not line.dev_caps.line_features & LF.DEVSPECIFIC:
        d.add(f"{key}.mechanism", "none", f"LINEDEVCAPS.dwLineFeatures {_hex(line.dev_caps.line_features)} lacks "
              "LINEFEATURE_DEVSPECIFIC", "inferred")
        return
    d.add(f"{key}.mechanism", "devspecific", "LINEFEATURE_DEVSPECIFIC is set: the provider has device-specific "
          "functions; change to none if none of them is a one-number feature", "inferred")
    if result.ext_version is not None:
        d.add(f"{key}.ext_version", result.ext_version, "lineNegotiateExtVersion(1..0x7FFFFFFF)", "advertised")
    else:
        d.ask(f"{key}.ext_version", f"the provider extension version (lineNegotiateExtVersion: {result.ext_error})")
    for name, what in (("activate", "request that switches the feature on, {number} = RO number"),
                       ("deactivate", "request that switches it off"),
                       ("event_param1", "LINE_DEVSPECIFIC dwParam1 the PBX sends when it changes (integer)")):
        d.ask(f"{key}.{name}", f"{what} - vendor documentation")


def _header(d: Draft, result: Probe, questions: int) -> None:
    mode = "active (forwarding and a hands-free call were tried and undone)" if result.active else \
        "passive (nothing on the PBX was changed)"
    d.header += [
        f"Draft profile written by 'ro-conformance probe', {mode}, through {result.spec}",
        f"on {datetime.now(UTC).isoformat(timespec='seconds')}.",
        "",
        f"THIS DRAFT DOES NOT VALIDATE until the {questions} QUESTION(s) below are answered: replace each",
        "\"QUESTION: ...\" by your answer, then run 'ro-conformance validate' on the file.",
        "Each claim's comment says where it came from and how sure it is:",
        "  [observed] the active probe saw the PBX do it    [advertised] a capability bit says so",
        "  [inferred] follows from a missing bit, or a default    [given] from the command line",
        "",
        "Line devices seen (device: API version, address, name, provider; address status):",
    ]
    for ln in result.lines:
        status = ln.status_error or (f"{ln.status.num_in_use} in use, forwarding "
                                     f"{[e.dest_address for e in ln.status.forward] or 'none'}" if ln.status else "")
        mark = "  <- desk" if ln is result.desk else ""
        d.header.append(f"  {ln.device_id}: {_hex(ln.api_version)} {ln.addr_caps.address!r} {ln.dev_caps.line_name!r} "
                        f"{ln.dev_caps.provider_info!r}; {status}{mark}")
    d.header += [f"  note: {n}" for n in result.notes]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:40] or "draft"


def draft_of(result: Probe, *, name: str | None = None, pixit: dict[str, str | None] | None = None) -> Draft:
    """The claims ``result`` supports (see ``conformance._draft`` for confidence levels)."""
    line = result.desk
    assert line is not None
    d, dev, pixit = Draft(), line.dev_caps, pixit or {}
    d.add("schema", 1, "profile format", "inferred")
    d.add("pbx.name", name or _slug(dev.switch_info or dev.provider_info),
          "--name" if name else "LINEDEVCAPS dwSwitchInfo, as a slug", "given" if name else "inferred")
    d.add("pbx.vendor", dev.provider_info, "LINEDEVCAPS dwProviderInfo", "advertised")
    d.add("pbx.description", f"Probed from {result.spec}: {dev.switch_info}", "probe", "inferred")
    d.add("pbx.source", "ro-conformance probe" + (" --active" if result.active else ""), "probe", "inferred")
    d.add("stations", [{"extension": line.addr_caps.address, "business_number": None, "name": dev.line_name,
                        "ask": "the business number (+E.164) shown outside for this station"}],
          "the desk line: LINEADDRESSCAPS dwAddress, LINEDEVCAPS dwLineName", "advertised")
    d.ask("stations[0].business_number", "the business number (+E.164) shown outside for the desk station")
    d.ask("trunks.channels", "how many external calls at once (trunk channels; integer >= 1; RO needs 2)")
    d.add("pixit.desk", line.addr_caps.address, "--desk" if result.desk_given else "LINEADDRESSCAPS dwAddress "
          "of device 0 (no --desk given)", "given" if result.desk_given else "inferred")
    for role, what in (("remote_office", "the Remote Office phone"), ("target", "the party the RO user calls"),
                       ("caller", "an external party that calls the business number")):
        if pixit.get(role):
            d.add(f"pixit.{role}", pixit[role], f"--{role.replace('_', '-')}", "given")
        else:
            d.ask(f"pixit.{role}", f"number of {what} (national form, digits only)")
    prefix = pixit.get("dial_prefix")
    d.add("pixit.dial_prefix", prefix or "0", "--dial-prefix" if prefix else "default; TAPI cannot tell the "
          "trunk prefix", "given" if prefix else "inferred")
    _forwarding_claims(d, line, result.active)
    _origination_claim(d, line, result.active)
    _transfer_claims(d, line)
    _native_claims(d, line, result)
    for path, (what, need) in _CALLER_ID_PATHS.items():
        d.ask(f"capabilities.caller_id.{path}", f"{_PRESENTED} - what the far party is shown on {what} "
              f"(no capability tells; {need})")
    d.add("simulation.api_version", line.api_version, f"lineNegotiateAPIVersion({_hex(API_LOW)}..{_hex(API_HIGH)})",
          "observed")
    states = result.active.get("call_states")
    if states is not None and result.active.get("make_call") == "0" and "OFFERING" not in states:
        d.add("simulation.dialtone_state", "DIALTONE" in states, f"call states seen: {'/'.join(states)}", "observed")
        d.add("simulation.proceeding_state", "PROCEEDING" in states, f"call states seen: {'/'.join(states)}",
              "observed")
    _header(d, result, len(d.questions()))
    return d


# --- the command ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if args.active and not args.remote_office:
        print("ro-conformance probe: --active needs --remote-office NUMBER (the call and the forwarding go there)",
              file=sys.stderr)
        return EXIT_USAGE
    prefix = args.dial_prefix if args.dial_prefix is not None else "0"
    try:
        backend = open_backend(args.backend, None)
    except TapiError as exc:
        print(f"ro-conformance probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        result = probe(backend, args.backend, args.desk, active=args.active,
                       dial=prefix + (args.remote_office or ""), timeout=args.timeout)
    except TapiError as exc:
        print(f"ro-conformance probe: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        with contextlib.suppress(TapiError):
            backend.close()
    draft = draft_of(result, name=args.name, pixit={"remote_office": args.remote_office, "target": args.target,
                                                    "caller": args.caller, "dial_prefix": args.dial_prefix})
    text = render(draft)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    questions = draft.questions()
    print(f"ro-conformance probe: draft written; {len(questions)} question(s) to answer before it validates:",
          file=sys.stderr)
    for q in questions:
        print(f"  {q.key}: {q.source}", file=sys.stderr)
    return 0
