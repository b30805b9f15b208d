"""``bridge://HOST:PORT`` - the Backend contract over the network bridge (client side).

A synchronous client of ``ro-conformance serve`` on one WebSocket connection. Every method is one
JSON-RPC 2.0 request; a LINEERR comes back as a ``LineError`` with the real code and function, any
transport failure (refused, closed, timed out, garbled) as ``BridgeError`` - never disguised as a LINEERR.
Every wait is bounded: the connect timeout, the per-call timeout, and for waits their own timeout plus
that margin.

Spec: ``bridge://HOST:PORT[?timeout=30&session=fresh|shared]`` (``[::1]:PORT`` for IPv6). The token
comes from ``$RO_CONFORMANCE_TOKEN``, from the file named by ``$RO_CONFORMANCE_TOKEN_FILE`` (first line),
or, least private (it shows in process lists and reports), ``?token=SECRET`` in the spec.

``session=fresh`` (the default of ``from_spec``, i.e. of the suite) asks the server for a PBX of this
connection's own (``session.reset``): every test sees the state a fresh in-process backend has.
``session=shared`` joins the server's shared PBX (other clients' calls are visible through monitor lines).
When the server plays another profile file than the run's ``--profile`` (SHA-256 of the bytes), a
warning says so on stderr, once per process, before anything runs.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from typing import Any
from urllib.parse import parse_qs

from conformance.backend import DEFAULT_API_VERSION, INTERACTIVEVOICE, OWNER_MONITOR, PartyView
from conformance.bridge import protocol as P
from conformance.bridge.transport import SyncWebSocket
from simulator._errors import BridgeError, LineError, TapiError
from simulator._messages import LineMessage
from simulator._partyview import PRESENTATIONS, Presentation
from simulator._profile_model import Profile
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

__all__ = ["BridgeBackend", "BridgeParties", "parse_target"]

TOKEN_ENV = "RO_CONFORMANCE_TOKEN"
TOKEN_FILE_ENV = "RO_CONFORMANCE_TOKEN_FILE"
_warned: set[tuple[str, str, str]] = set()   # (url, served sha, run sha): warn once per process


def read_token_file(path: str) -> str:
    """The first line of ``path``, stripped; ``BridgeError`` naming the file (never the token) if unusable."""
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.readline().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise BridgeError(f"bridge: cannot read the token file {path!r}: {exc}") from None
    if not token:
        raise BridgeError(f"bridge: the token file {path!r} is empty")
    return token


def token_from(options: dict[str, str]) -> str | None:
    """``?token=`` in the spec, else ``$RO_CONFORMANCE_TOKEN``, else ``$RO_CONFORMANCE_TOKEN_FILE``."""
    if options.get("token"):
        return options["token"]
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    path = options.get("token_file") or os.environ.get(TOKEN_FILE_ENV)
    return read_token_file(path) if path else None
_encode_json = json.JSONEncoder(separators=(",", ":")).encode   # built once; compact frames


def parse_target(target: str) -> tuple[str, dict[str, str]]:
    """``"h:p?token=x"`` -> (``"ws://h:p/"``, {"token": "x"}); accepts a ws:// or wss:// URL as is."""
    base, _, query = target.partition("?")
    options = {k: v[-1] for k, v in parse_qs(query).items()}
    if base.startswith(("ws://", "wss://")):
        return base, options
    host, sep, port = base.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise BridgeError(f"bridge: expected HOST:PORT, got {target!r}")
    return f"ws://{host}:{int(port)}/", options


class BridgeParties:
    """Party control over the bridge (``party.*`` methods)."""

    def __init__(self, client: BridgeBackend) -> None:
        self._client = client

    def answer(self, role: str) -> None:
        self._client.call("party.answer", role=role)

    def reject(self, role: str) -> None:
        self._client.call("party.reject", role=role)

    def hang_up(self, role: str) -> None:
        self._client.call("party.hang_up", role=role)

    def go_off_hook(self, role: str) -> None:
        self._client.call("party.go_off_hook", role=role)

    def call(self, role: str, number: str) -> None:
        self._client.call("party.call", role=role, number=number)

    def observe(self, role: str) -> PartyView:
        return _party_view(self._client.call("party.observe", role=role))

    def wait_for(self, role: str, states: frozenset[str], timeout: float) -> PartyView | None:
        result = self._client.call("party.wait_for", wait=timeout, role=role, states=sorted(states),
                                   timeout=timeout)
        return None if result is None else _party_view(result)


def _presentation(value: Any) -> Presentation:
    if value not in PRESENTATIONS:
        raise ValueError(f"presentation {value!r}")
    return value  # type: ignore[no-any-return]


def _party_view(obj: Any) -> PartyView:
    try:
        return PartyView(role=str(obj["role"]), state=obj["state"],
                         presented_number=str(obj.get("presented_number", "")),
                         reason=int(obj.get("reason", 0)),
                         redirecting_number=str(obj.get("redirecting_number", "")),
                         connected_number=str(obj.get("connected_number", "")),
                         off_hook=bool(obj.get("off_hook", False)),
                         presentation=_presentation(obj.get("presentation", "unknown")),
                         presented_name=str(obj.get("presented_name", "")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BridgeError(f"bridge: malformed PartyView {obj!r:.200}") from exc


class BridgeBackend:
    """The client of ``ro-conformance serve``; implements ``conformance.backend.Backend``."""

    name = "bridge"

    def __init__(self, url: str, *, token: str | None = None, connect_timeout: float = 10.0,
                 call_timeout: float = 30.0, max_frame: int = 1 << 22, session: str = "shared") -> None:
        if session not in ("shared", "fresh"):
            raise BridgeError(f"bridge: session must be 'fresh' or 'shared', got {session!r}")
        self.url = url
        self.call_timeout = call_timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        headers = {"Authorization": f"Bearer {token}"} if token else None
        self._ws = SyncWebSocket(url, headers=headers, open_timeout=connect_timeout, max_size=max_frame)
        self.parties = BridgeParties(self)
        self.session = session
        if session == "fresh":
            try:
                self.call("session.reset")
            except BaseException:
                self._ws.close()
                raise

    @classmethod
    def from_spec(cls, target: str, profile: Profile | None) -> BridgeBackend:
        """``HOST:PORT[?timeout=S&session=fresh|shared&token=T]``; the server plays its own profile."""
        url, options = parse_target(target)
        try:
            timeout = float(options.get("timeout", 30.0))
        except ValueError:
            raise BridgeError(f"bridge: timeout must be a number of seconds, got {options['timeout']!r}") from None
        backend = cls(url, token=token_from(options), call_timeout=timeout,
                      session=options.get("session", "fresh"))
        if profile is not None and profile.path:
            try:
                backend.check_profile(profile)
            except BaseException:
                backend.close()
                raise
        return backend

    def check_profile(self, profile: Profile) -> bool:
        """False (and a warning on stderr, once per process) when the server plays another profile file."""
        served = self.call("info")
        served_sha = str(served.get("profile_sha256", "")) if isinstance(served, dict) else ""
        run_sha = P.file_sha256(profile.path)
        if not served_sha or not run_sha or served_sha == run_sha:
            return True
        key = (self.url, served_sha, run_sha)
        if key not in _warned:
            _warned.add(key)
            print(f"ro-conformance: warning: the bridge {self.url} serves profile "
                  f"{served.get('profile', '?')!r} (sha256 {served_sha[:12]}...), not the run's --profile "
                  f"{profile.path} (sha256 {run_sha[:12]}...): the PBX under test plays the served profile "
                  f"while the verdict judges the claims of {profile.path}", file=sys.stderr, flush=True)
        return False

    # ----- the one primitive -------------------------------------------------------------------------
    def call(self, method: str, wait: float = 0.0, **params: Any) -> Any:
        """One request -> its result; ``wait`` is how long the server may legitimately take on top."""
        with self._lock:
            return self._call_locked(method, wait, params)

    def _call_locked(self, method: str, wait: float, params: dict[str, Any]) -> Any:
        req_id = next(self._ids)
        frame = _encode_json({"jsonrpc": "2.0", "id": req_id, "method": method,
                              "params": {k: P.encode(v) for k, v in params.items()}})
        deadline = time.monotonic() + wait + self.call_timeout
        self._ws.send(frame)
        while True:
            raw = self._ws.recv(max(0.0, deadline - time.monotonic()))
            try:
                reply = json.loads(raw)
            except ValueError as exc:
                raise BridgeError(f"bridge: {method}: the server sent malformed JSON: {exc}") from None
            if not isinstance(reply, dict):
                raise BridgeError(f"bridge: {method}: the server sent a non-object reply")
            if reply.get("id") == req_id:
                break
            if reply.get("id") is None and "error" in reply:   # the server could not read our frame
                raise self._error(method, reply["error"])
            # else: a late reply to an earlier request that timed out here - skip it
        if "error" in reply:
            raise self._error(method, reply["error"])
        return reply.get("result")

    @staticmethod
    def _error(method: str, err: Any) -> TapiError:
        if not isinstance(err, dict):
            return BridgeError(f"bridge: {method}: malformed error {err!r:.200}")
        code, message, data = err.get("code"), str(err.get("message", "")), err.get("data")
        if code == P.LINE_ERROR and isinstance(data, dict) and isinstance(data.get("lineerr"), int):
            return LineError(data["lineerr"], data.get("function"), str(data.get("detail") or ""))
        if code == P.TAPI_ERROR:
            return TapiError(message)
        return BridgeError(f"bridge: {method}: server error {code}: {message}")

    def _struct(self, cls: type[Any], method: str, **params: Any) -> Any:
        result = self.call(method, **params)
        try:
            return P.decode_struct(cls, result)
        except (ValueError, TypeError) as exc:
            raise BridgeError(f"bridge: {method}: malformed result: {exc}") from None

    # ----- Backend: housekeeping ---------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        remote = self.call("info")
        return {**(remote if isinstance(remote, dict) else {}), "backend": "bridge", "url": self.url,
                "served_backend": remote.get("backend") if isinstance(remote, dict) else None}

    def now(self) -> float:
        return float(self.call("now"))

    def close(self) -> None:
        """Close the connection; the server then shuts down this connection's applications."""
        self._ws.close()

    # ----- initialization, devices, lines ------------------------------------------------------------
    def line_initialize_ex(self, app_name: str, api_version: int = DEFAULT_API_VERSION) -> tuple[int, int, int]:
        r = self.call("line_initialize_ex", app_name=app_name, api_version=api_version)
        try:
            return int(r["h_line_app"]), int(r["num_devs"]), int(r["api_version"])
        except (KeyError, TypeError, ValueError) as exc:
            raise BridgeError(f"bridge: line_initialize_ex: malformed result {r!r:.200}") from exc

    def line_shutdown(self, h_line_app: int) -> None:
        self.call("line_shutdown", h_line_app=h_line_app)

    def line_negotiate_api_version(self, h_line_app: int, device_id: int, low: int, high: int) -> int:
        return int(self.call("line_negotiate_api_version", h_line_app=h_line_app, device_id=device_id,
                             low=low, high=high))

    def line_negotiate_ext_version(self, h_line_app: int, device_id: int, api_version: int,
                                   low: int, high: int) -> int:
        return int(self.call("line_negotiate_ext_version", h_line_app=h_line_app, device_id=device_id,
                             api_version=api_version, low=low, high=high))

    def line_get_dev_caps(self, h_line_app: int, device_id: int, api_version: int,
                          ext_version: int = 0) -> LineDevCaps:
        return self._struct(LineDevCaps, "line_get_dev_caps", h_line_app=h_line_app,  # type: ignore[no-any-return]
                            device_id=device_id, api_version=api_version, ext_version=ext_version)

    def line_get_address_caps(self, h_line_app: int, device_id: int, address_id: int, api_version: int,
                              ext_version: int = 0) -> LineAddressCaps:
        return self._struct(LineAddressCaps, "line_get_address_caps",  # type: ignore[no-any-return]
                            h_line_app=h_line_app, device_id=device_id, address_id=address_id,
                            api_version=api_version, ext_version=ext_version)

    def line_open(self, h_line_app: int, device_id: int, api_version: int, ext_version: int = 0,
                  callback_instance: int = 0, privileges: int = OWNER_MONITOR,
                  media_modes: int = INTERACTIVEVOICE) -> int:
        return int(self.call("line_open", h_line_app=h_line_app, device_id=device_id, api_version=api_version,
                             ext_version=ext_version, callback_instance=callback_instance,
                             privileges=privileges, media_modes=media_modes))

    def line_close(self, h_line: int) -> None:
        self.call("line_close", h_line=h_line)

    def line_set_status_messages(self, h_line: int, line_states: int, address_states: int) -> None:
        self.call("line_set_status_messages", h_line=h_line, line_states=line_states,
                  address_states=address_states)

    def line_get_message(self, h_line_app: int, timeout: float) -> LineMessage | None:
        result = self.call("line_get_message", wait=timeout, h_line_app=h_line_app, timeout=timeout)
        if result is None:
            return None
        try:
            return P.decode_message(result)
        except (KeyError, TypeError, ValueError) as exc:
            raise BridgeError(f"bridge: line_get_message: malformed message {result!r:.200}") from exc

    # ----- queries -----------------------------------------------------------------------------------
    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        return self._struct(LineAddressStatus, "line_get_address_status",  # type: ignore[no-any-return]
                            h_line=h_line, address_id=address_id)

    def line_get_line_dev_status(self, h_line: int) -> LineDevStatus:
        return self._struct(LineDevStatus, "line_get_line_dev_status", h_line=h_line)  # type: ignore[no-any-return]

    def line_get_call_info(self, h_call: int) -> LineCallInfo:
        return self._struct(LineCallInfo, "line_get_call_info", h_call=h_call)  # type: ignore[no-any-return]

    def line_get_call_status(self, h_call: int) -> LineCallStatus:
        return self._struct(LineCallStatus, "line_get_call_status", h_call=h_call)  # type: ignore[no-any-return]

    def line_deallocate_call(self, h_call: int) -> None:
        self.call("line_deallocate_call", h_call=h_call)

    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        self.call("line_set_call_privilege", h_call=h_call, privilege=privilege)

    # ----- call control (async: request id) ----------------------------------------------------------
    def _req(self, method: str, **params: Any) -> int:
        result = self.call(method, **params)
        if isinstance(result, bool) or not isinstance(result, int):
            raise BridgeError(f"bridge: {method}: expected a request id, got {result!r:.100}")
        return result

    def line_make_call(self, h_line: int, dest_address: str | None, country_code: int = 0,
                       call_params: LineCallParams | None = None) -> int:
        return self._req("line_make_call", h_line=h_line, dest_address=dest_address, country_code=country_code,
                         call_params=call_params)

    def line_dial(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._req("line_dial", h_call=h_call, dest_address=dest_address, country_code=country_code)

    def line_answer(self, h_call: int) -> int:
        return self._req("line_answer", h_call=h_call)

    def line_drop(self, h_call: int) -> int:
        return self._req("line_drop", h_call=h_call)

    def line_hold(self, h_call: int) -> int:
        return self._req("line_hold", h_call=h_call)

    def line_unhold(self, h_call: int) -> int:
        return self._req("line_unhold", h_call=h_call)

    def line_swap_hold(self, h_active_call: int, h_held_call: int) -> int:
        return self._req("line_swap_hold", h_active_call=h_active_call, h_held_call=h_held_call)

    def line_blind_transfer(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._req("line_blind_transfer", h_call=h_call, dest_address=dest_address,
                         country_code=country_code)

    def line_setup_transfer(self, h_call: int, call_params: LineCallParams | None = None) -> int:
        return self._req("line_setup_transfer", h_call=h_call, call_params=call_params)

    def line_complete_transfer(self, h_call: int, h_consult_call: int, transfer_mode: int) -> int:
        return self._req("line_complete_transfer", h_call=h_call, h_consult_call=h_consult_call,
                         transfer_mode=transfer_mode)

    def line_redirect(self, h_call: int, dest_address: str, country_code: int = 0) -> int:
        return self._req("line_redirect", h_call=h_call, dest_address=dest_address, country_code=country_code)

    def line_forward(self, h_line: int, all_addresses: bool, address_id: int,
                     forward_list: tuple[LineForward, ...] | None, num_rings_no_answer: int = 0) -> int:
        return self._req("line_forward", h_line=h_line, all_addresses=all_addresses, address_id=address_id,
                         forward_list=forward_list, num_rings_no_answer=num_rings_no_answer)

    def line_dev_specific(self, h_line: int, address_id: int, h_call: int, params: bytes) -> int:
        return self._req("line_dev_specific", h_line=h_line, address_id=address_id, h_call=h_call,
                         params=params)
