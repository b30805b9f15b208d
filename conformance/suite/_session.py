"""The desk line under test and the bounded waits every conformance test is made of.

``open_desk_line`` (``_desk``) does the TAPI start-up of docs/tapi.md §2.8 for the PIXIT's desk extension;
``LineSession`` pumps ``lineGetMessage`` and keeps what it saw (replies by request id, call states by
handle) so that a test can say "wait for the reply of this request" or "wait until this call rings
back" without losing messages that arrive in another order (§3: reply and state events of an existing
call come in either order). Every wait is bounded by a PIXIT timer and, when it runs out, raises the
exception of the verdict it means (``_suite_errors``), naming the step, what it waited for and how long.
Pre/post conditions (``precondition`` / ``postcondition``) keep tests independent on a real PBX.

A desk line that is not in service is the installation, not a Remote Office claim either: when a desk
request is refused LINEERR_INVALLINESTATE (up front or in its LINE_REPLY), ``not_in_service`` reads
lineGetLineDevStatus and, when dwDevStatusFlags lacks CONNECTED or INSERVICE, ends the test as an error
naming the flags (never a fail); a line TAPI reports in service keeps the refusal the PBX's to answer for.

A dead link is never the PBX's failure to honour a claim: once the desk line is gone (LINE_CLOSE,
LINE_LINEDEVSTATE REINIT / OUTOFSERVICE / REMOVED, or an up-front LINEERR_INVALLINEHANDLE /
INVALAPPHANDLE / REINIT on a line the suite never closed) ``link_down`` says what died and when; every
wait then ends at once, and every verdict the test reaches afterwards becomes an error naming both.
The clean-up after a dead link is best-effort and never raises anything but ``HarnessError``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

from conformance._evidence import PARTY_ENDED, Cite, as_cites
from conformance._evidence import state_names as state_names
from conformance.backend import TAPI_NAMES, Backend, PartyView
from conformance.suite._desk import API_HIGH, API_LOW, DeskLine, open_desk_line
from conformance.suite._errors import HarnessError, HarnessTimeout, Inconclusive, NotHonoured, PreconditionError
from conformance.suite._restore import restorable_forwards
from simulator._constants import (
    LineBusyMode,
    LineCallState,
    LineDevState,
    LineDevStatusFlags,
    LineDisconnectMode,
    LineErr,
    LineMsg,
)
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage
from simulator._profile_model import Profile
from simulator._structs import LineForward

__all__ = ["API_HIGH", "API_LOW", "DeskLine", "LineSession", "OnTimeout", "Want", "open_desk_line", "state_names"]

PARTY_ROLES = ("remote_office", "target", "caller")
OnTimeout = Literal["fail", "inconclusive", "error"]
_VERDICT: dict[str, type[Exception]] = {"fail": NotHonoured, "inconclusive": Inconclusive, "error": HarnessTimeout}
_ENDED = int(LineCallState.IDLE | LineCallState.DISCONNECTED)
# The requests whose successful LINE_REPLY hands the application a new call handle (docs/tapi.md §3)
_CREATES_CALL = frozenset({"lineMakeCall", "lineSetupTransfer"})
_BUSY = int(LineCallState.BUSY)
# The far party, not the PBX, ended the attempt: the PIXIT party is busy, refused or never answered.
# The PBX cannot be judged on what it would have done next (inconclusive, never fail).
_PARTY_DISCONNECTS = int(LineDisconnectMode.BUSY | LineDisconnectMode.NOANSWER | LineDisconnectMode.REJECT)
# The PBX ran out of channels: BUSY with LINEBUSYMODE_TRUNK / UNAVAIL (MS docs "LINEBUSYMODE_ Constants":
# "the busy signal indicates that a trunk or circuit is busy" / "cannot be determined") or
# DISCONNECTED with LINEDISCONNECTMODE_CONGESTION. The trunks clause (RO-TRUNK-01) owns that; any other
# requirement cannot be judged on it, and it is never "the far party is busy".
_TRUNK_BUSY = int(LineBusyMode.TRUNK | LineBusyMode.UNAVAIL)
_TRUNK_DISCONNECTS = int(LineDisconnectMode.CONGESTION)
TRUNK_REQUIREMENT = "RO-TRUNK-01"
# Requests that may need a new external channel (LINEERR_RESOURCEUNAVAIL = the PBX had none). Not
# lineSetupTransfer: it takes no destination (MS docs "lineSetupTransfer"), the consultation call gets the
# PBX's own dial tone, and only the lineDial that follows may seize a trunk.
_NEEDS_A_CHANNEL = frozenset({"lineMakeCall", "lineDial", "lineBlindTransfer", "lineCompleteTransfer",
                              "lineRedirect"})
# A party in one of these states holds an external leg (a trunk channel) of the running test.
_LEG_UP = frozenset({"alerting", "calling", "connected"})
# Up-front / reply errors that mean the line or the application is gone, not that a claim failed.
DEAD_LINK_ERRORS = frozenset({int(LineErr.INVALLINEHANDLE), int(LineErr.INVALAPPHANDLE), int(LineErr.REINIT)})
_DEAD_DEVSTATES = ((LineDevState.REINIT, "the provider asked every application to re-initialise "
                    "(LINE_LINEDEVSTATE REINIT)"),
                   (LineDevState.OUTOFSERVICE, "the desk line went out of service (LINE_LINEDEVSTATE OUTOFSERVICE)"),
                   (LineDevState.REMOVED, "the desk line device was removed (LINE_LINEDEVSTATE REMOVED)"))
# A line TAPI can operate (CONNECTED) and that is in service (INSERVICE): MS docs "LINEDEVSTATUSFLAGS_ Constants".
# Without both, a LINEERR_INVALLINESTATE is the line's state, not a refusal of the request itself.
_LINE_USABLE = ((LineDevStatusFlags.CONNECTED, "LINEDEVSTATUSFLAGS_CONNECTED"),
                (LineDevStatusFlags.INSERVICE, "LINEDEVSTATUSFLAGS_INSERVICE"))


class Want(NamedTuple):
    """A message ``wait_message`` waits for, as data: ``msg`` with every bit of ``mask`` in ``param``."""

    msg: LineMsg
    param: str = "param1"
    mask: int = 0

    def __call__(self, m: LineMessage) -> bool:
        return m.msg == self.msg and int(getattr(m, self.param)) & self.mask == self.mask


class LineSession:
    """Bounded waits and evidence-friendly requests on one desk line (see the module docstring)."""

    def __init__(self, backend: Backend, profile: Profile, line: DeskLine) -> None:
        self.backend = backend
        self.profile = profile
        self.pixit = profile.pixit
        self.line = line
        self.messages: list[LineMessage] = []
        self.replies: dict[int, LineMessage] = {}
        self.history: dict[int, list[int]] = {}     # hCall -> LINECALLSTATE values seen, in order
        self.current_step = "set-up"
        self.forward_before: tuple[LineForward, ...] = ()
        self.rings_before = 0      # LINEADDRESSSTATUS.dwNumRingsNoAnswer before the test, restored with the list
        self.forward_touched = False
        self.native_touched = False
        self.requirement = ""                        # the requirement id of the running test, if any
        self.link_down = ""                          # what killed the link, and when ("" = alive)
        self.link_reported = False                   # a verdict already carried ``link_down``
        self.awaiting: dict[int, str] = {}           # request id -> function, no LINE_REPLY yet
        self.announced: set[int] = set()             # hCalls introduced by LINE_APPNEWCALL
        # TAPI ordering (MS docs "LINE_REPLY", "lineMakeCall": the new hCall is valid only once the
        # LINE_REPLY arrived): a LINE_CALLSTATE of a call the app creates must not come before that reply.
        self.ordering_violations: list[str] = []
        self.ordering_cites: list[Cite] = []        # the same, as evidence a verdict can cite
        self._marks: dict[int, int] = {}             # mark() -> seq of the log record at that point
        self.last_attempt: Cite | None = None        # how the PBX answered the last ``attempt`` (evidence)

    def reopen(self, ext_version: int) -> DeskLine:
        """Close the desk line and open it again (same application) with a provider extension version."""
        self.step(f"reopen the desk line with extension version 0x{ext_version:08X}")
        self.backend.line_close(self.line.h_line)
        self.line = open_desk_line(self.backend, self.profile, ext_version, reuse=self.line)
        # What the PBX reports as the line opens (a LINE_DEVSPECIFIC with its current state) is taken in now,
        # before any mark: it must never pass for the answer to a request made afterwards.
        self.drain()
        return self.line

    def owns(self, requirement: str) -> bool:
        """Does the running test judge the steps ``requirement`` owns? Its own test does, and so do the
        end-to-end scenarios, which own every step they take (and outside a requirement test, any)."""
        return self.requirement in ("", requirement) or self.requirement.startswith("RO-E2E")

    # ----- evidence ---------------------------------------------------------------------------
    def step(self, name: str) -> None:
        """Name what the test does next; the name goes into the log and every timeout message."""
        self.current_step = name
        self._note(f"step: {name}")

    def _note(self, text: str) -> None:
        """A line in the run's log, where the backend keeps one (the recording wrapper); else nowhere."""
        note = getattr(self.backend, "note", None)
        if note is not None:
            note(text)

    def verdict(self, kind: OnTimeout, text: str,
                cause: LineMessage | Cite | Sequence[Cite] | None = None) -> Exception:
        """The exception for verdict ``kind``; the log marks the failing step: the records ``cause`` cites
        (``conformance._evidence.Cite``: the message, returned value, party view or unanswered request
        judged) where there are any, else a note with ``text``. The exception carries the located cites
        (``cites``) into results.json (``tests[].judged``).

        After a dead link nothing is judged: the verdict is an error that says what died first.
        """
        cites = as_cites(cause)
        if self.check_link():
            kind, text, cites = "error", self._with_link(text), ()
        judge = getattr(self.backend, "judge", None)
        if judge is not None:
            cites = judge(text, cites)
        else:
            self._note(text)
        exc = _VERDICT[kind](text)
        exc.cites = tuple(cites)        # type: ignore[attr-defined]
        return exc

    def position(self) -> tuple[int, float]:
        """(seq of the latest log record, backend time): where a wait starts, for an absence a verdict cites."""
        return int(getattr(self.backend, "last_seq", 0)), float(self.backend.now())

    # ----- the link ---------------------------------------------------------------------------
    def link_died(self, what: str) -> None:
        """Record the first sign that the desk line / application is gone."""
        if not self.link_down:
            self.link_down = f"{what} at t={self.backend.now():.3f} s, during step {self.current_step!r}"
            self._note(f"link down: {self.link_down}")

    def check_link(self) -> str:
        """Take in what is already queued (never waits, never raises) and return ``link_down``."""
        if not self.link_down:
            with contextlib.suppress(TapiError):
                self.drain()
        return self.link_down

    def _with_link(self, text: str) -> str:
        self.link_reported = True
        return text if self.link_down in text else f"{self.link_down}; afterwards {text}"

    def _link_lost(self, step: str, what: str) -> HarnessError:
        return self.verdict("error", f"{step}: gave up waiting for {what}")     # type: ignore[return-value]

    def _watch(self, msg: LineMessage) -> None:
        if msg.msg == LineMsg.CLOSE and msg.device == self.line.h_line:
            self.link_died("the provider closed the desk line (LINE_CLOSE)")
        elif msg.msg == LineMsg.LINEDEVSTATE:
            for bit, what in _DEAD_DEVSTATES:
                if msg.param1 & bit and (bit == LineDevState.REINIT or msg.device == self.line.h_line):
                    self.link_died(what)
                    return
        elif msg.msg == LineMsg.REPLY and msg.result in DEAD_LINK_ERRORS and msg.request_id in self.awaiting:
            name = msg.error.tapi_name if msg.error is not None else f"0x{msg.param2:08X}"
            self.link_died(f"{self.awaiting[msg.request_id]} (request {msg.request_id}) was answered {name}")

    # ----- messages ---------------------------------------------------------------------------
    def _absorb(self, msg: LineMessage) -> None:
        self.messages.append(msg)
        self._watch(msg)
        if msg.msg == LineMsg.REPLY:
            self.replies[msg.request_id] = msg
            function = self.awaiting.pop(msg.request_id, "?")
            if msg.result == 0 and not msg.new_call and function in _CREATES_CALL:
                # lphCall / lphConsultCall is filled when the reply is 0 (MS docs "lineMakeCall"): without it
                # the application can never act on the call the PBX made
                self.ordering_cites.append(Cite.reply(msg, function))
                self._ordering(f"the LINE_REPLY 0 of {function} (request {msg.request_id}) carries no handle "
                               f"of the new call")
            if msg.new_call and msg.result == 0:
                early = self.history.setdefault(msg.new_call, [])
                if early and msg.new_call not in self.announced:
                    self.ordering_cites.append(Cite("ordering", {
                        "h_call": int(msg.new_call), "state": state_names(early[0]),
                        "request_id": int(msg.request_id), "function": function}, msg))
                    self._ordering(f"LINE_CALLSTATE {state_names(early[0])} of the new call 0x{msg.new_call:08X} "
                                   f"came before the LINE_REPLY of {function} (request {msg.request_id}) that "
                                   f"created it")
        elif msg.msg == LineMsg.CALLSTATE:
            self.history.setdefault(msg.device, []).append(msg.param1)
        elif msg.msg == LineMsg.APPNEWCALL:
            self.history.setdefault(msg.param2, [])
            self.announced.add(msg.param2)

    def _ordering(self, text: str) -> None:
        """Record a TAPI ordering violation (RO-TAPI-01 judges them; here they are evidence only)."""
        self.ordering_violations.append(text)
        self._note(f"TAPI ordering: {text}")

    def pump(self, timeout: float) -> LineMessage | None:
        msg = self.backend.line_get_message(self.line.h_line_app, timeout)
        if msg is not None:
            self._absorb(msg)
        return msg

    def _wait(self, cond: Callable[[], bool], timeout: float, step: str, what: str) -> bool:
        """Pump until ``cond()`` or ``timeout``; a dead link ends the wait at once (``HarnessError``)."""
        deadline = self.backend.now() + timeout
        while not cond():
            if self.link_down:
                raise self._link_lost(step, what)
            remaining = deadline - self.backend.now()
            if remaining <= 0:
                # what is already queued arrived within the bound: take it in before giving up, so that a
                # verdict's "did not reach X (still Y)" is never followed in the log by X from that queue
                self.drain()
                return cond()
            if self.pump(remaining) is None:
                return cond()
        return True

    def settle(self, seconds: float) -> None:
        """Take in whatever arrives during ``seconds`` (lets the PBX finish what it started)."""
        deadline = self.backend.now() + seconds
        while (remaining := deadline - self.backend.now()) > 0 and self.pump(remaining) is not None:
            if self.link_down:
                raise self._link_lost(self.current_step, f"{seconds:g} s of messages")

    def drain(self) -> None:
        """Take in the messages already queued, without waiting."""
        while self.pump(0.0) is not None:
            pass

    def mark(self) -> int:
        """A position in the message list, for ``wait_message(since=...)``."""
        self._marks[len(self.messages)] = self.position()[0]
        return len(self.messages)

    # ----- requests ---------------------------------------------------------------------------
    def request(self, step: str, method: str, *args: Any) -> int:
        """Call an async function the PBX claims to support; an up-front LINEERR means it did not."""
        self.step(step)
        if method == "line_forward":
            self.forward_touched = True
        if method == "line_dev_specific":
            self.native_touched = True
        try:
            req = int(getattr(self.backend, method)(*args))
        except LineError as exc:
            if exc.code in DEAD_LINK_ERRORS:     # on the suite's own, never closed, line and app
                self.check_link()                # a LINE_CLOSE already queued is the first sign: name it
                self.link_died(f"{TAPI_NAMES[method]} was refused {exc.name}")
            cite = Cite.error(exc, TAPI_NAMES[method])
            if exc.code == LineErr.INVALLINESTATE:
                self.not_in_service(f"{step}: {exc}", cite)
            raise self._refusal(TAPI_NAMES[method], exc.code, f"{step}: {exc}", cite) from exc
        self.awaiting[req] = TAPI_NAMES[method]
        return req

    def wait_reply(self, req: int, function: str, step: str | None = None, *, expect_ok: bool = True
                   ) -> LineMessage:
        """The LINE_REPLY of ``req``; lost = error (harness cannot go on), an error result = fail."""
        step = step or self.current_step
        timeout = self.pixit.reply_timeout
        what = f"the LINE_REPLY of {function} (request {req})"
        _, start = self.position()
        if not self._wait(lambda: req in self.replies, timeout, step, what):
            raise self.verdict("error", f"{step}: no LINE_REPLY for {function} (request {req}) within "
                                        f"{timeout:g} s (pixit.reply_timeout)",
                               cause=Cite("no_reply", {"function": function, "request_id": req,
                                                       "timeout": timeout, "start": start}))
        reply = self.replies[req]
        if expect_ok and reply.result != 0:
            err = reply.error
            name = err.tapi_name if err is not None else f"0x{reply.param2:08X}"
            text = f"{step}: {function} (request {req}) was answered {name}"
            if err == LineErr.INVALLINESTATE:
                self.not_in_service(text, Cite.reply(reply, function))
            raise self._refusal(function, err, text, Cite.reply(reply, function))
        return reply

    def _refusal(self, function: str, code: int | None, text: str, cite: Cite) -> Exception:
        """The verdict on ``function`` refused ``code`` (``text`` says so, ``cite`` is the refusal), whether
        up front (a negative return, ``request``) or in its LINE_REPLY (``wait_reply``): one judgement for
        both, as a TSP may refuse either way (MS docs "lineMakeCall": "a negative error number if an error
        occurs"; the simulator's trunk_exhaustion: refused / reply_error).

        LINEERR_RESOURCEUNAVAIL to a request that needs a new channel while another leg of the test is up
        is a trunk shortage: inconclusive here, the trunks clause's to judge (its own test fails on it).
        With no other leg up it is no shortage of a second channel: a fail, with a note saying so."""
        resource = code == LineErr.RESOURCEUNAVAIL
        if self.short_of_trunks(function, LineErr.RESOURCEUNAVAIL.tapi_name if resource else ""):
            return self.verdict("inconclusive", f"{text} - no free resource (trunk channel?); cannot be "
                                                f"judged here, the trunks clause ({TRUNK_REQUIREMENT}) owns it",
                                cause=cite)
        if resource and function in _NEEDS_A_CHANNEL and self._legs_up() == 0:
            text += f" - {self._first_leg_note()}"
        return self.verdict("fail", text, cause=cite)

    def short_of_trunks(self, function: str, error: str) -> bool:
        """Is ``error`` (a LINEERR name) the answer to ``function`` (up front or in its reply) the trunk
        shortage that ``_refusal`` and test_caps leave to the trunks clause: LINEERR_RESOURCEUNAVAIL to a
        request that needs a new external channel while the test holds another (or cannot tell), outside
        RO-TRUNK-01's own test."""
        return (error == LineErr.RESOURCEUNAVAIL.tapi_name and function in _NEEDS_A_CHANNEL
                and not self.owns(TRUNK_REQUIREMENT) and self._legs_up() != 0)

    def _legs_up(self) -> int | None:
        """External legs (trunk channels) the test holds now: PIXIT parties alerting, calling or talking;
        None when some party cannot be observed (then nobody can tell)."""
        states = [self.backend.parties.observe(role).state for role in PARTY_ROLES]
        return None if "unknown" in states else sum(state in _LEG_UP for state in states)

    def _first_leg_note(self) -> str:
        return (f"no other external call was up, so this is no shortage of the second trunk channel "
                f"{TRUNK_REQUIREMENT} judges (trunks.channels = {self.profile.trunks} claimed)")

    def attempt(self, step: str, method: str, *args: Any) -> LineMessage | None:
        """Try a request whose acceptance is itself what is judged: its accepted LINE_REPLY, or None when
        the PBX refused it (up front or in the reply; the log shows which). A lost reply is an error and
        a dead link ends the test as everywhere."""
        self.step(step)
        function = TAPI_NAMES[method]
        self.last_attempt = None
        try:
            req = int(getattr(self.backend, method)(*args))
        except LineError as exc:
            if exc.code in DEAD_LINK_ERRORS:
                self.check_link()
                self.link_died(f"{function} was refused {exc.name}")
                raise self.verdict("error", f"{step}: {exc}", cause=Cite.error(exc, function)) from exc
            self.last_attempt = Cite.error(exc, function)
            if exc.code == LineErr.INVALLINESTATE:
                self.not_in_service(f"{step}: {exc}", self.last_attempt)
            return None
        self.awaiting[req] = function
        reply = self.wait_reply(req, function, step, expect_ok=False)
        self.last_attempt = Cite.reply(reply, function)
        if reply.error == LineErr.INVALLINESTATE:
            self.not_in_service(f"{step}: {function} (request {req}) was answered "
                                f"{LineErr.INVALLINESTATE.tapi_name}", self.last_attempt)
        return reply if reply.result == 0 else None

    def not_in_service(self, text: str, refusal: Cite) -> None:
        """After a desk request was refused LINEERR_INVALLINESTATE (``refusal``, described by ``text``): raise
        the error verdict when lineGetLineDevStatus says the desk line is not connected or not in service.

        Such a line is the installation's problem (a port out of service, an unplugged set), not the PBX
        failing a Remote Office claim: nothing can be judged on it, so the test ends in an error that names
        dwDevStatusFlags and cites both the refusal and the LINEDEVSTATUS read. Returns (and the caller
        judges the refusal as usual) when the line reports both flags, when the link is already known to be
        down (``verdict`` names that instead), or when LINEDEVSTATUS cannot be read.
        """
        if self.check_link():
            return
        try:
            status = self.backend.line_get_line_dev_status(self.line.h_line)
        except TapiError:
            return                    # the line state is unknown: the refusal stands as it is
        flags = int(status.dev_status_flags)
        missing = [name for bit, name in _LINE_USABLE if not flags & bit]
        if not missing:
            return
        cite = Cite.value(status, "lineGetLineDevStatus", "dev_status_flags")
        what = "not in service" if not flags & LineDevStatusFlags.INSERVICE else "not connected to TAPI"
        raise self.verdict("error", f"{text}; the desk line is {what}: lineGetLineDevStatus "
                                    f"dwDevStatusFlags=0x{flags:08X} ({cite.says()[0]}), no {', no '.join(missing)}"
                                    f" - the installation, not a Remote Office claim: put the desk line back in "
                                    f"service and run again", cause=[refusal, cite])

    def do(self, step: str, method: str, *args: Any) -> LineMessage:
        """``request`` + ``wait_reply``: the accepted LINE_REPLY (``new_call`` holds a new handle)."""
        return self.wait_reply(self.request(step, method, *args), TAPI_NAMES[method], step)

    # ----- call states -----------------------------------------------------------------------
    def state_of(self, h_call: int) -> int:
        seen = self.history.get(h_call)
        return seen[-1] if seen else 0

    def wait_state(self, h_call: int, states: int, step: str | None = None, *, timeout: float | None = None,
                   on_timeout: OnTimeout | Literal["continue"] = "fail", since: int | None = None) -> int:
        """Wait until ``h_call`` is (or passes through) one of ``states``; returns that state.

        The current state counts, unless ``since`` (a length of ``history[h_call]``) says to consider only
        the states reported after that point (e.g. after a lineDrop). A call that ends (IDLE /
        DISCONNECTED) or goes BUSY without reaching a wanted state ends the wait at once with the same
        verdict as a timeout.

        ``on_timeout="continue"`` is for states a PBX may never report (docs/tapi.md §5.2, §13): a timeout
        returns 0 and notes in the log that none was reported, so the caller goes on without them; a call
        that ends meanwhile is still judged, as with "fail".
        """
        step = step or self.current_step
        timeout = self.pixit.state_timeout if timeout is None else timeout
        seen = self.history.setdefault(h_call, [])
        start = max(len(seen) - 1, 0) if since is None else since
        found: list[int] = []
        # DISCONNECTED is on the way to IDLE: it ends the wait only when IDLE is not what we want.
        ended = (0 if states & LineCallState.IDLE else _ENDED) | (0 if states & _BUSY else _BUSY)

        def cond() -> bool:
            for state in seen[start:]:
                if state & states:
                    found.append(state)
                    return True
                if state & ended:
                    found.append(state)
                    return True
            return False
        want = state_names(states)
        from_seq, begun = self.position()
        reached = self._wait(cond, timeout, step, f"call 0x{h_call:08X} to reach {want}")
        if reached and found[0] & states:
            return found[0]
        if reached:
            kind, why, blame = self._why_ended(h_call, found[0], "fail" if on_timeout == "continue" else on_timeout)
            msg = self.state_message(h_call, found[0])
            cite = None
            if msg is not None:
                cite = Cite.callstate(msg)
                cite = Cite("callstate", {**cite.facts, "blame": blame}, msg) if blame else cite
            raise self.verdict(kind, f"{step}: call 0x{h_call:08X} went {state_names(found[0])} instead of reaching "
                                     f"{want}{why}", cause=cite)
        still = state_names(self.state_of(h_call)) if self.state_of(h_call) else ""
        if on_timeout == "continue":
            self._note(f"{step}: call 0x{h_call:08X} reported none of {want} within {timeout:g} s (still "
                       f"{still or 'no state yet'}); going on without it (docs/tapi.md §5.2: such states may be "
                       f"skipped)")
            return 0
        raise self.verdict(on_timeout, f"{step}: call 0x{h_call:08X} did not reach {want} within {timeout:g} s "
                                       f"(still {still or 'no state yet'})",
                           cause=Cite("no_state", {"h_call": h_call, "wanted": want, "mask": int(states),
                                                   "still": still, "timeout": timeout, "start": begun,
                                                   "from_seq": from_seq}))

    def state_message(self, h_call: int, state: int) -> LineMessage | None:
        """The latest LINE_CALLSTATE that put ``h_call`` into ``state`` (the evidence of a verdict)."""
        return next((m for m in reversed(self.messages)
                     if m.msg == LineMsg.CALLSTATE and m.device == h_call and m.param1 == state), None)

    def _why_ended(self, h_call: int, state: int, on_timeout: OnTimeout) -> tuple[OnTimeout, str, str]:
        """(verdict, note, whom the note blames: "trunk", "party" or "") for a call that went ``state`` (BUSY /
        DISCONNECTED) instead of progressing.

        The far party busy, refusing or not answering: inconclusive (the PIXIT party must play along).
        A trunk shortage (LINEBUSYMODE_TRUNK / UNAVAIL, LINEDISCONNECTMODE_CONGESTION) is the PBX's fault
        and belongs to the trunks clause: a fail in RO-TRUNK-01, inconclusive anywhere else.
        """
        msg = self.state_message(h_call, state)
        mode = msg.param2 if msg is not None else 0
        busy = bool(state & _BUSY)
        if (busy and mode & _TRUNK_BUSY) or (not busy and state & LineCallState.DISCONNECTED
                                              and mode & _TRUNK_DISCONNECTS):
            name = (f"LINEBUSYMODE_{LineBusyMode(mode & _TRUNK_BUSY).name}" if busy
                    else "LINEDISCONNECTMODE_CONGESTION")
            if self.owns(TRUNK_REQUIREMENT):
                return ("fail", f" - {name}: the PBX has no free trunk channel (trunks.channels = "
                                f"{self.profile.trunks})", "trunk")
            if self._legs_up() == 0:     # the test's only external call: not the two-leg case the trunks clause judges
                return "fail", f" - {name}: {self._first_leg_note()}", "trunk"
            return "inconclusive", (f" - {name}: the PBX ran out of trunk channels; cannot be judged here, "
                                    f"the trunks clause ({TRUNK_REQUIREMENT}) owns it"), "trunk"
        if busy or (state & LineCallState.DISCONNECTED and mode & _PARTY_DISCONNECTS):
            return "inconclusive", (f" - {PARTY_ENDED}; the PIXIT party must be free and answer for this "
                                    f"requirement to be judged"), "party"
        return on_timeout, "", ""

    def wait_message(self, pred: Callable[[LineMessage], bool] | Want, what: str, step: str | None = None, *,
                     since: int = 0, timeout: float | None = None, on_timeout: OnTimeout = "fail",
                     after: Mapping[str, Any] | None = None) -> LineMessage:
        """The first message from ``since`` on that satisfies ``pred``.

        With ``pred`` a ``Want`` (message, parameter, bits) a timeout verdict cites the absence so the
        evidence check can prove it, and marks what it followed: ``after`` = ``{"request_id": N}`` (the
        request whose event never came) or ``{"role": R}`` (the party whose call never showed).
        """
        step = step or self.current_step
        timeout = self.pixit.state_timeout if timeout is None else timeout
        hit: list[LineMessage] = []
        from_seq = self._marks.get(since, 0)
        _, start = self.position()

        def cond() -> bool:
            hit.extend(m for m in self.messages[since:] if pred(m))
            return bool(hit)
        if not self._wait(cond, timeout, step, what):
            cites: list[Cite] = []
            seen = ""
            if isinstance(pred, Want):
                cites.append(Cite("no_message", {"msg": pred.msg.tapi_name, "param": pred.param, "mask": pred.mask,
                                                 "timeout": timeout, "start": start, "from_seq": from_seq,
                                                 **(after or {})}))
                # a message of the kind waited for, without the bits: the closest the PBX came (evidence)
                near = [m for m in self.messages[since:] if m.msg == pred.msg]
                if near:
                    cites.append(Cite.message(near[-1]))
                    seen = f" (only {near[-1].describe()})"
            raise self.verdict(on_timeout, f"{step}: no {what} within {timeout:g} s{seen}", cause=cites)
        return hit[0]

    def new_calls(self, since: int) -> list[int]:
        """Handles the app learnt of (APPNEWCALL / first CALLSTATE) from message index ``since`` on."""
        out: list[int] = []
        for m in self.messages[since:]:
            h = m.param2 if m.msg == LineMsg.APPNEWCALL else m.device if m.msg == LineMsg.CALLSTATE else 0
            if h and h not in out:
                out.append(h)
        return out

    # ----- handles ----------------------------------------------------------------------------
    def _introduced(self, h_call: int) -> tuple[int, LineMessage | None]:
        """(index, message) by which the app learnt ``h_call``: its LINE_APPNEWCALL, the LINE_REPLY that
        created it, or its first LINE_CALLSTATE; (len(messages), None) if none of them was seen."""
        for i, m in enumerate(self.messages):
            if (m.msg == LineMsg.APPNEWCALL and m.param2 == h_call) or (m.msg == LineMsg.CALLSTATE and
                                                                         m.device == h_call) \
                    or (m.msg == LineMsg.REPLY and m.new_call == h_call and m.result == 0):
                return i, m
        return len(self.messages), None

    def _gone(self, h_call: int) -> int:
        """Index of the LINE_CALLSTATE IDLE of ``h_call`` (its call is over), else len(messages)."""
        return next((i for i, m in enumerate(self.messages) if m.msg == LineMsg.CALLSTATE and m.device == h_call
                     and m.param1 & LineCallState.IDLE), len(self.messages))

    def calls_under_two_handles(self, handles: list[int]) -> list[tuple[str, LineMessage | None]]:
        """Pairs of ``handles`` this application held at the same time that are one call: the same line,
        address and non-zero ``LINECALLINFO.dwCallID`` (docs/tapi.md §7.1: one handle per call per
        application; the provider's call ID is the same for every handle of one call). Returns the
        violation texts with the message that announced the second handle (the evidence).

        ``dwCallID`` 0 means the provider assigns no IDs (allowed): nothing is judged on it. A handle that
        cannot be queried (already deallocated, a refused lineGetCallInfo) is left out, as is a pair whose
        lifetimes do not overlap (a provider may reuse an ID once a call is IDLE).
        """
        first: dict[tuple[int, int, int], int] = {}
        found: list[tuple[str, LineMessage | None]] = []
        for h_call in sorted(handles, key=lambda h: self._introduced(h)[0]):
            try:
                info = self.backend.line_get_call_info(h_call)
            except (LineError, TapiError):
                continue
            if not info.call_id:
                continue
            key = (info.line, info.address_id, info.call_id)
            other = first.get(key)
            if other is None or self._gone(other) < self._introduced(h_call)[0]:
                first[key] = h_call
                continue
            _, cause = self._introduced(h_call)
            how = (f"LINE_APPNEWCALL (privilege 0x{cause.param3:X})" if cause is not None and
                   cause.msg == LineMsg.APPNEWCALL else "a new handle")
            found.append((f"one call reported under two handles: {how} gave 0x{h_call:08X} for the call the "
                          f"application already held as 0x{other:08X} (both LINECALLINFO dwCallID "
                          f"0x{info.call_id:X} on the desk line, address {info.address_id})", cause))
        return found

    # ----- parties ----------------------------------------------------------------------------
    def observed(self, role: str, what: str) -> PartyView:
        """``observe(role)``, or ``Inconclusive`` naming ``what`` when the backend cannot see that party.

        Every check on a party's state goes through here, so an unobservable party is handled the same
        way everywhere: never a pass, never a fail.
        """
        view = self.backend.parties.observe(role)
        if view.state == "unknown":
            raise self.verdict("inconclusive", f"{what}: the {role} party is not observable on this backend "
                                               f"(pixit.party_lines.{role}): its state is unknown, so this cannot "
                                               f"be judged",
                               cause=Cite("party", {"role": role, "fields": {"state": "unknown"}}, view))
        return view

    def party_wait(self, role: str, states: frozenset[str], step: str | None = None, *,
                   timeout: float | None = None, on_timeout: OnTimeout = "fail") -> PartyView:
        step = step or self.current_step
        timeout = self.pixit.state_timeout if timeout is None else timeout
        view = self.backend.parties.wait_for(role, states, timeout)
        if view is None:
            now = self.backend.parties.observe(role).state
            # "unknown": nothing lets us see that party (no party line, nobody at the operator prompt):
            # we cannot blame the PBX for what we could not observe.
            # "busy": the PIXIT party is in use elsewhere - the PBX cannot be judged on reaching it.
            verdict = "inconclusive" if now in ("unknown", "busy") else on_timeout
            note = {"unknown": ", not observable", "busy": ", the party is busy elsewhere"}.get(now, "")
            wanted = "/".join(sorted(states))
            raise self.verdict(verdict, f"{step}: {role} did not become {wanted} within "
                                        f"{timeout:g} s (still {now}{note})",
                               cause=Cite("party_timeout", {"role": role, "wanted": wanted, "timeout": timeout,
                                                            "still": now}))
        return view

    # ----- pre / post conditions --------------------------------------------------------------
    def precondition(self) -> None:
        """No call on the desk address; remember forwarding to put it back afterwards."""
        self.step("pre-condition: desk line idle")
        status = self.backend.line_get_address_status(self.line.h_line, 0)
        busy = status.num_active_calls + status.num_on_hold_calls + status.num_on_hold_pend_calls
        if busy:
            raise PreconditionError(f"pre-condition: the desk line has {busy} call(s) before the test "
                                    f"(lineGetAddressStatus); clear them and run again")
        self.forward_before = status.forward
        self.rings_before = status.num_rings_no_answer
        self.step("test")

    def postcondition(self) -> None:
        """Drop what the test left, restore forwarding, wait (bounded) until the parties are idle.

        Requests still unanswered get one more ``pixit.reply_timeout`` first, so a call a late reply
        creates is dropped too. After a dead link only a best-effort clean-up is tried (``_salvage``).
        """
        self.step("clean up")
        problems: list[str] = []
        self.check_link()
        cites: list[Cite] = []
        if self.awaiting and not self.link_down:
            _, start = self.position()
            with contextlib.suppress(HarnessError):
                self._wait(lambda: not self.awaiting, self.pixit.reply_timeout, "clean up", "late LINE_REPLYs")
            if self.awaiting and not self.link_down:      # recorded: a request the PBX never answered
                timeout = self.pixit.reply_timeout
                text = "; ".join(f"no LINE_REPLY for {fn} (request {req}) even {timeout:g} s into the clean-up "
                                 f"(pixit.reply_timeout)" for req, fn in sorted(self.awaiting.items()))
                cites += [Cite("no_reply", {"function": fn, "request_id": req, "timeout": timeout, "start": start})
                          for req, fn in sorted(self.awaiting.items())]
                self._note(f"clean up: {text}")
                problems.append(text)
        for action in (self._drop_leftovers, self._restore_forwarding, self._free_parties, self._check_idle):
            if self.link_down:
                break
            try:
                action()
            except (TapiError, HarnessError, NotHonoured, Inconclusive) as exc:
                problems.append(str(exc).removeprefix("post-condition: "))
                cites += getattr(exc, "cites", ())
        if self.link_down:
            self._salvage()
            if not self.link_reported:
                problems.insert(0, self._with_link("clean-up skipped"))
            if self.forward_touched or self.native_touched:
                problems.append("forwarding / native Remote Office could not be restored: check the desk phone")
        if problems:
            raise self.verdict("error", "post-condition: " + "; ".join(problems), cause=cites)

    def _salvage(self) -> None:
        """The link died: free what can be freed without waiting on it (every error is expected here)."""
        for h_call in list(self.history):
            with contextlib.suppress(TapiError):
                self.backend.line_drop(h_call)
            with contextlib.suppress(TapiError):
                self.backend.line_deallocate_call(h_call)
        for role in PARTY_ROLES:
            with contextlib.suppress(TapiError):
                if self.backend.parties.observe(role).state != "idle":
                    self.backend.parties.hang_up(role)

    def _drop_leftovers(self) -> None:
        self.release(list(self.history))

    def release(self, handles: list[int]) -> None:
        """Drop each of ``handles`` that is not IDLE (as owner; a monitor's NOTOWNER is expected), wait for
        IDLE, deallocate it and forget it (docs/tapi.md §13: every handle is deallocated after IDLE)."""
        for h_call in handles:
            try:
                state = self.backend.line_get_call_status(h_call).call_state
            except LineError:
                self.history.pop(h_call, None)
                continue    # already deallocated
            if state != LineCallState.IDLE:
                try:
                    self.drain()
                    before = len(self.history.setdefault(h_call, []))
                    req = self.backend.line_drop(h_call)
                    self.wait_reply(req, "lineDrop", expect_ok=False)
                    # only what the call does after the drop: a BUSY or DISCONNECTED from the test is history
                    self.wait_state(h_call, int(LineCallState.IDLE), on_timeout="error", since=before)
                except LineError as exc:
                    if exc.code not in (LineErr.INVALCALLSTATE, LineErr.NOTOWNER):
                        raise
            try:
                self.backend.line_deallocate_call(h_call)
            except LineError as exc:
                if exc.code != LineErr.INVALCALLHANDLE:
                    raise
            self.history.pop(h_call, None)

    def _restore_forwarding(self) -> None:
        if self.native_touched and self.line.ext_version:
            deactivate = self.profile.capabilities.native_remote_office.deactivate.encode("ascii")
            self.do("post-condition: native Remote Office off", "line_dev_specific", self.line.h_line, 0, 0,
                    deactivate)
        if self.forward_touched:
            fwd = self.profile.capabilities.forwarding
            if not self.forward_before and not (fwd and fwd.clear):
                self.step("post-condition: forwarding left set - the profile declares it cannot be cancelled "
                          "(capabilities.forwarding.clear = false); cancel it at the desk phone")
                return
            entries, dropped = restorable_forwards(self.forward_before, self.line.addr_caps.forward_modes)
            # the desk's own no-answer ring count goes back with its entries: 0 would be clamped to the
            # switch's minimum and shorten a NOANSW forwarding of the user's (docs/tapi.md §4, lineForwardW)
            self.do("post-condition: restore forwarding", "line_forward", self.line.h_line, False, 0,
                    entries or None, self.rings_before)
            if dropped:
                raise PreconditionError("; ".join(dropped))

    def _free_parties(self) -> None:
        parties = self.backend.parties
        for role in PARTY_ROLES:
            if parties.observe(role).state != "idle":
                parties.hang_up(role)
        for role in PARTY_ROLES:
            if parties.wait_for(role, frozenset({"idle"}), self.pixit.state_timeout) is None:
                raise HarnessTimeout(f"{role} still {parties.observe(role).state}, not idle, "
                                     f"{self.pixit.state_timeout:g} s after hanging up")

    def _check_idle(self) -> None:
        self.drain()
        status = self.backend.line_get_address_status(self.line.h_line, 0)
        if status.num_active_calls + status.num_on_hold_calls + status.num_on_hold_pend_calls:
            raise PreconditionError("calls left on the desk line after clean-up (lineGetAddressStatus)")
