"""A simulator behind a bridge server thread, and a raw JSON-RPC WebSocket client for it (the bridge tests)."""

from __future__ import annotations

import inspect
import json
import time
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from conformance.backends.sim import SimBackend
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"
# websockets >= 14 keeps the old client behind ``legacy``; older versions have no such parameter
_LEGACY: dict[str, Any] = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


def sim_server(mode: str = "wall", **kw: Any) -> ServerThread:
    """``BridgeServer(**kw)`` over reference.yaml on a wall (notifying) or virtual clock, started."""
    backend = SimBackend(REFERENCE, NotifyingWallClock() if mode == "wall" else None)
    return ServerThread(BridgeServer(backend, mode=mode, **kw)).start()  # type: ignore[arg-type]


class RawClient:
    """``call`` waits (10 s at most) for its reply, ``send`` just sends (parked waits)."""

    def __init__(self, st: ServerThread) -> None:
        self.ws: ClientConnection = connect(f"ws://{st.url}/", open_timeout=5, max_size=None, **_LEGACY)
        self.ids = iter(range(1, 1 << 30))

    def _recv(self, timeout: float) -> dict[str, Any]:
        return dict(json.loads(self.ws.recv(timeout=timeout)))

    def send(self, method: str, **params: Any) -> int:
        rid = next(self.ids)
        self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}))
        return rid

    def reply(self, method: str, **params: Any) -> dict[str, Any]:
        rid = self.send(method, **params)
        deadline = time.monotonic() + 10
        while True:
            got = self._recv(max(0.01, deadline - time.monotonic()))
            if got.get("id") == rid:
                return got

    def call(self, method: str, **params: Any) -> Any:
        got = self.reply(method, **params)
        assert "error" not in got, got
        return got["result"]

    def error(self, method: str, **params: Any) -> dict[str, Any]:
        got = self.reply(method, **params)
        assert "error" in got, got
        return dict(got["error"])
