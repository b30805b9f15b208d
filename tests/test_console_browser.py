"""The live console (``serve --console``) in a real browser: Debian's chromium, headless, via Selenium.

One browser session: a Remote Office call placed through the bridge (a ``BridgeBackend`` client makes a
call from the desk to the RO phone) shows up alerting; a click on "Answer" answers the RO phone; the
client gets LINE_CALLSTATE CONNECTED and the page shows the call connected; a call from a hostile
public number placed with the page's form shows the markup as text; the page logs no errors.
Without chromium / chromium-driver the tests are skipped with the reason (``.ci/run`` installs them).
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_tools import headless_chromium, needs_browser

from conformance.backends.bridge import BridgeBackend
from conformance.backends.sim import SimBackend
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread
from simulator._constants import LineCallState, LineMsg

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"
RO = "01711234567"
HOSTILE_NAME = '<img src=x onerror="window.pwned=1"><b>Caller</b>'
HOSTILE_NUMBER = "<i>0401</i>"
V2_2 = 0x00020002
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (dev extra)")
pytestmark = needs_browser


def _profile(tmp: Path) -> Path:
    """The reference PBX, except that the RO phone waits for a person and the caller has a hostile name."""
    text = REFERENCE.read_text()
    text = text.replace('{number: "01711234567", name: Remote office mobile, behaviour: answer, answer_after_rings: 1}',
                        '{number: "01711234567", name: Remote office mobile, behaviour: no_answer}')
    text = text.replace("name: Caller,", f"name: '{HOSTILE_NAME}',")
    assert "no_answer}" in text and HOSTILE_NAME in text
    path = tmp / "console.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    backend = SimBackend(_profile(tmp_path_factory.mktemp("console")), NotifyingWallClock())
    with ServerThread(BridgeServer(backend, mode="wall", console=True)) as st:
        yield st


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium("--window-size=1200,900") as driver:
        yield driver


def _until(what: str, check: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"the console did not show {what} within {timeout} s")


def _row(browser: Any, table: str, number: str) -> list[str] | None:
    cells: list[str] | None = browser.execute_script(
        "const tr = [...document.querySelectorAll(`#${arguments[0]} tbody tr`)]"
        ".find(r => r.dataset.number === arguments[1]);"
        "return tr ? [...tr.children].map(td => td.textContent) : null;", table, number)
    return cells


@pytest.fixture(scope="module")
def page(served: ServerThread, browser: Any) -> Any:
    """The console loaded and live: every test can run alone (xdist may split this module over workers)."""
    browser.get(f"http://{served.url}/console")
    _until("the live socket", lambda: browser.execute_script("return document.getElementById('status').textContent")
           == "live")
    _until("the stations", lambda: _row(browser, "stations", "201"))
    return browser


def test_a_remote_office_call_through_the_bridge_is_shown_answered_by_a_click_and_connects(
        served: ServerThread, page: Any) -> None:
    browser = page
    client = BridgeBackend(f"ws://{served.url}/")
    try:
        app, _, _ = client.line_initialize_ex("console-test", V2_2)
        line = client.line_open(app, 0, V2_2, 0, 0, 2, 4)      # the desk (201), owner
        req = client.line_make_call(line, "0" + RO, 0, None)
        assert req > 0
        ro = _until("the RO phone alerting", lambda: (r := _row(browser, "externals", RO)) and "alerting" in r[2] and r)
        assert ro[3] == "+49891234201", ro                      # what the RO phone is shown: the business number
        desk = _row(browser, "stations", "201")
        assert desk is not None and RO in desk[5], desk
        ladder = browser.execute_script("return document.querySelector('#ladder tbody').textContent")
        assert "line_make_call" in ladder and "LINE_REPLY" in ladder, ladder[-2000:]

        browser.execute_script(
            "[...document.querySelectorAll('#externals tbody tr')].find(r => r.dataset.number === arguments[0])"
            ".querySelector('button[data-act=answer]').click();", RO)
        _until("the RO call connected", lambda: (r := _row(browser, "externals", RO)) and r[2] == "connected")
        connected = False
        deadline = time.monotonic() + 10
        while not connected and time.monotonic() < deadline:
            msg = client.line_get_message(app, 1.0)
            connected = msg is not None and msg.msg == LineMsg.CALLSTATE and msg.param1 == LineCallState.CONNECTED
        assert connected, "the client never got LINE_CALLSTATE CONNECTED after the click"
        _until("the click in the ladder", lambda: "answer at " + RO in browser.execute_script(
            "return document.querySelector('#ladder tbody').textContent"))
        _until("the desk connected", lambda: "CONNECTED" in ((_row(browser, "stations", "201") or [""] * 6)[5]))
        trunks = browser.execute_script("return document.getElementById('trunks').textContent")
        assert trunks.startswith("1 of 4"), trunks
    finally:
        client.close()


def test_hostile_strings_are_text_and_the_page_logs_no_errors(page: Any) -> None:
    browser = page
    caller = _until("the hostile caller", lambda: _row(browser, "externals", "0409876543"))
    assert caller[1] == HOSTILE_NAME
    browser.execute_script("document.getElementById('dial-from').value = arguments[0];"
                           "document.getElementById('dial-to').value = '+49891234202';"
                           "document.querySelector('#dial button').click();", HOSTILE_NUMBER)
    row = _until("the hostile number", lambda: _row(browser, "externals", HOSTILE_NUMBER))
    assert row[0] == HOSTILE_NUMBER
    _until("the colleague ringing", lambda: HOSTILE_NUMBER in ((_row(browser, "stations", "202") or [""] * 6)[5]))
    injected = browser.execute_script("return [document.querySelectorAll('main img, main b, main i').length,"
                                      " window.pwned === undefined]")
    assert injected == [0, True]
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def _get(served: ServerThread, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    conn = http.client.HTTPConnection(served.host, served.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), dict(resp.getheaders())
    finally:
        conn.close()


def test_the_page_needs_the_token_when_the_server_has_one_and_never_echoes_it() -> None:
    secret = "s3cret-console-token"
    with ServerThread(BridgeServer(SimBackend(REFERENCE), console=True, token=secret)) as st:
        assert _get(st, "/console")[0] == 401
        assert _get(st, "/console?token=wrong")[0] == 401
        status, body, headers = _get(st, f"/console?token={secret}")
        assert status == 200 and secret not in body and "Content-Security-Policy" in headers
        assert json.dumps(secret) not in body


def test_the_socket_refuses_a_foreign_origin_and_the_page_is_absent_without_console() -> None:
    with ServerThread(BridgeServer(SimBackend(REFERENCE), console=True)) as st:
        status, _, _ = _get(st, "/console/ws", {"Connection": "Upgrade", "Upgrade": "websocket",
                                                "Sec-WebSocket-Version": "13",
                                                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                                "Origin": "http://evil.example"})
        assert status == 403
    with ServerThread(BridgeServer(SimBackend(REFERENCE))) as st:
        assert _get(st, "/console")[0] != 200
