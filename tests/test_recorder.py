"""The recorder logs everything passing through a backend and changes nothing about it."""

from __future__ import annotations

import inspect
import json
import re
from collections import deque
from typing import Any, cast

import pytest

from conformance._recorder import (
    ASYNC_FUNCTIONS,
    TAPI_NAMES,
    Record,
    RecordingBackend,
    raw_log,
    records_from_jsonable,
)
from conformance.backend import Backend, PartyView
from simulator._constants import LineErr, LineMsg
from simulator._errors import LineError
from simulator._messages import LineMessage

H_APP, H_LINE, H_CALL = 0x10, 0x00010001, 0x00020001


class FakeParties:
    def __init__(self) -> None:
        self.actions: list[tuple[str, str]] = []
        self.view: PartyView | None = PartyView(role="target", state="alerting",
                                                presented_number="0711 123")

    def answer(self, role: str) -> None:
        self.actions.append(("answer", role))

    def reject(self, role: str) -> None:
        raise LineError(LineErr.OPERATIONUNAVAIL, "reject")

    def hang_up(self, role: str) -> None:
        self.actions.append(("hang_up", role))

    def go_off_hook(self, role: str) -> None:
        self.actions.append(("go_off_hook", role))

    def call(self, role: str, number: str) -> None:
        self.actions.append(("call", role))

    def observe(self, role: str) -> PartyView:
        return PartyView(role=role, state="connected", connected_number="0711 999")

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        return self.view


class FakeBackend:
    """Just enough of a backend: a clock, a message queue, a few TAPI functions."""

    name = "fake"

    def __init__(self) -> None:
        self.parties = FakeParties()
        self.clock = 0.0
        self.queue: deque[LineMessage] = deque()
        self.next_id = 5
        self.drop_error = LineError(LineErr.INVALCALLSTATE, "lineDrop")

    def info(self) -> dict[str, Any]:
        return {"name": self.name}

    def now(self) -> float:
        return self.clock

    def close(self) -> None:
        pass

    def line_initialize_ex(self, app_name: str, api_version: int = 0x00020002) -> tuple[int, int, int]:
        return H_APP, 3, 0x00020002

    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = 6, media_modes: int = 4) -> int:
        return H_LINE

    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: object = None) -> int:
        rid = self.next_id
        self.next_id += 1
        self.queue.append(LineMessage(device=h_line, msg=LineMsg.REPLY, param1=rid, new_call=H_CALL))
        return rid

    def line_drop(self, h_call: int) -> int:
        raise self.drop_error

    def line_hold(self, h_call: int) -> int:
        raise RuntimeError("adapter exploded")

    def line_dial(self, call: int, number: str, cc: int = 0) -> int:   # names differ from the contract
        return 9

    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None:
        self.clock += 0.25
        if self.queue:
            return self.queue.popleft()
        self.clock += timeout
        return None


@pytest.fixture
def fake() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def rec(fake: FakeBackend) -> RecordingBackend:
    return RecordingBackend(cast(Backend, fake))


def kinds(rec: RecordingBackend) -> list[str]:
    return [r.kind for r in rec.records]


def test_table_covers_every_tapi_method_of_the_contract() -> None:
    methods = {n for n, _ in inspect.getmembers(Backend) if n.startswith("line_")}
    assert methods == set(TAPI_NAMES)
    assert all(hasattr(RecordingBackend, n) for n in methods)
    assert TAPI_NAMES["line_make_call"] == "lineMakeCall"
    assert TAPI_NAMES["line_get_message"] == "lineGetMessage"
    assert TAPI_NAMES["line_negotiate_api_version"] == "lineNegotiateAPIVersion"
    assert set(TAPI_NAMES.values()) >= ASYNC_FUNCTIONS


def test_satisfies_the_backend_protocol(rec: RecordingBackend) -> None:
    assert isinstance(rec, Backend)
    assert rec.name == "fake"
    assert rec.info() == {"name": "fake"}


def test_sync_call_logs_request_and_return(rec: RecordingBackend, fake: FakeBackend) -> None:
    fake.clock = 1.5
    assert rec.line_open(H_APP, 0, 0x00020002) == H_LINE
    request, ret = rec.records
    assert (request.kind, request.function, request.actor, request.seq) == ("request", "lineOpen", "app", 1)
    assert ("h_line_app", "0x00000010") in request.args
    assert ("device_id", "0") in request.args
    assert ("api_version", "0x00020002") in request.args
    assert request.time == 1.5
    assert ret.kind == "return" and ret.seq == 2
    assert ret.result == "hLine=0x00010001"
    assert ret.text == "lineOpen -> hLine=0x00010001"


def test_async_call_and_its_reply_share_the_request_id(rec: RecordingBackend) -> None:
    rid = rec.line_make_call(H_LINE, "001711234567")
    msg = rec.line_get_message(H_APP, 1.0)
    assert msg is not None
    assert kinds(rec) == ["request", "return", "message"]
    request, ret, reply = rec.records
    assert "dest_address='001711234567'" in request.text
    assert ret.request_id == rid == 5 and ret.text == "lineMakeCall -> req 5"
    assert reply.request_id == rid
    assert reply.message is msg
    assert reply.text == msg.describe()
    assert reply.result == "LINE_REPLY"
    assert reply.time == 0.25


def test_line_error_is_logged_and_reraised_untouched(rec: RecordingBackend, fake: FakeBackend) -> None:
    with pytest.raises(LineError) as info:
        rec.line_drop(H_CALL)
    assert info.value is fake.drop_error
    assert info.value.code == LineErr.INVALCALLSTATE
    assert str(info.traceback[-1].path).endswith("test_recorder.py")   # raised in the fake, not re-made
    request, error = rec.records
    assert request.kind == "request" and error.kind == "error"
    assert error.result == "LINEERR_INVALCALLSTATE"
    assert error.text == "lineDrop failed: LINEERR_INVALCALLSTATE"
    assert not error.failed                            # expected errors are not verdicts


def test_other_errors_are_logged_and_reraised(rec: RecordingBackend) -> None:
    with pytest.raises(RuntimeError, match="adapter exploded"):
        rec.line_hold(H_CALL)
    error = rec.records[-1]
    assert error.kind == "error" and error.result == "RuntimeError"
    assert "adapter exploded" in error.text


def test_a_dead_clock_does_not_mask_the_error(rec: RecordingBackend, fake: FakeBackend) -> None:
    def broken() -> float:
        raise OSError("bridge gone")

    fake.clock = 2.0
    rec.line_initialize_ex("x")
    fake.now = broken  # type: ignore[method-assign]
    with pytest.raises(LineError):
        rec.line_drop(H_CALL)
    assert rec.records[-1].time == 2.0


def test_empty_get_message_logs_a_timeout(rec: RecordingBackend) -> None:
    assert rec.line_get_message(H_APP, 2.0) is None
    (timeout,) = rec.records
    assert timeout.kind == "timeout" and timeout.function == "lineGetMessage"
    assert "2s" in timeout.text


def test_party_actions_are_logged_with_their_role(rec: RecordingBackend, fake: FakeBackend) -> None:
    rec.parties.answer("remote_office")
    rec.parties.call("caller", "0711 555")
    view = rec.parties.observe("target")
    assert fake.parties.actions == [("answer", "remote_office"), ("call", "caller")]
    answer, call, observe = rec.records
    assert (answer.kind, answer.actor, answer.function) == ("party", "remote_office", "answer")
    assert call.text == "caller: call('0711 555')"
    assert observe.result == "connected" and "0711 999" in observe.text
    assert view.state == "connected"


def test_party_wait_for_timeout_names_role_and_states(rec: RecordingBackend, fake: FakeBackend) -> None:
    assert rec.parties.wait_for("target", frozenset({"alerting"}), 5) is not None
    fake.parties.view = None
    assert rec.parties.wait_for("target", frozenset({"connected", "alerting"}), 30) is None
    reached, timeout = rec.records
    assert reached.kind == "party" and "presented='0711 123'" in reached.text
    assert timeout.kind == "timeout" and timeout.actor == "target"
    assert timeout.text == "target: not alerting/connected within 30s"
    assert timeout.args == (("states", "alerting/connected"), ("timeout", "30"))


def test_party_errors_are_reraised(rec: RecordingBackend) -> None:
    with pytest.raises(LineError):
        rec.parties.reject("desk")
    assert rec.records[-1].kind == "error" and rec.records[-1].actor == "desk"


def test_notes_failures_and_raw_log(rec: RecordingBackend) -> None:
    rec.line_make_call(H_LINE, "001711234567")
    rec.note("checking forwarding")
    failure = rec.mark_failure("target saw 0711 999, expected the business number")
    assert failure.failed and failure.kind == "note" and failure.seq == 4
    lines = rec.raw_log().splitlines()
    assert len(lines) == 4
    assert re.fullmatch(r"t=0\.000s  #1 request lineMakeCall\(h_line=0x00010001, "
                        r"dest_address='001711234567', country_code=0, call_params=None\)", lines[0])
    assert lines[1] == "t=0.000s  #2 return lineMakeCall -> req 5"
    assert raw_log(rec.records) == rec.raw_log()


def test_jsonable_round_trip(rec: RecordingBackend) -> None:
    rec.line_make_call(H_LINE, "0")
    rec.line_get_message(H_APP, 1)
    rec.line_get_message(H_APP, 1)
    rec.mark_failure("boom")
    data = json.loads(json.dumps(rec.to_jsonable()))
    assert data[2]["message"]["name"] == "LINE_REPLY"
    back = records_from_jsonable(data)
    assert back == list(rec.records)
    assert all(isinstance(r, Record) for r in back)


def test_arguments_reach_the_backend_in_protocol_order(rec: RecordingBackend) -> None:
    assert rec.line_dial(H_CALL, "123") == 9
    assert rec.records[0].args == (("h_call", "0x00020001"), ("dest_address", "'123'"), ("country_code", "0"))
