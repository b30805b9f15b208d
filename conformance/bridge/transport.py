"""A blocking WebSocket client on the ``websockets`` Sans-I/O protocol, without a background thread.

``websockets.sync.client`` reads on a helper thread and hands every message over through a lock; for
one-request-one-reply traffic that thread switch is most of the round-trip time. Here the caller's
thread does the socket I/O itself (TCP_NODELAY, a deadline on every read) and the library does all the
framing, masking, handshake checks, ping/pong and close logic. Every failure is a ``BridgeError``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus, InvalidURI
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from simulator._errors import BridgeError

__all__ = ["SyncWebSocket"]


class SyncWebSocket:
    """One client connection; ``send`` a text message, ``recv`` the next one with a timeout."""

    def __init__(self, url: str, *, headers: dict[str, str] | None = None, open_timeout: float = 10.0,
                 max_size: int | None = 1 << 22) -> None:
        try:
            uri = parse_uri(url)
        except InvalidURI as exc:
            raise BridgeError(f"bridge: bad URL {url!r}: {exc}") from None
        self.url = url
        deadline = time.monotonic() + open_timeout
        try:
            sock = socket.create_connection((uri.host, uri.port), timeout=open_timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if uri.secure:
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=uri.host)
        except OSError as exc:
            raise BridgeError(f"bridge: cannot connect to {url}: {exc}") from None
        self._sock = sock
        self._protocol = ClientProtocol(uri, max_size=max_size)
        self._frames: list[Frame] = []
        request = self._protocol.connect()
        for name, value in (headers or {}).items():
            request.headers[name] = value
        self._protocol.send_request(request)
        self._flush()
        self._handshake(deadline)

    def _handshake(self, deadline: float) -> None:
        while True:
            for event in self._protocol.events_received():
                if isinstance(event, Response):
                    exc = self._protocol.handshake_exc
                    if exc is None:
                        return
                    self._sock.close()
                    if isinstance(exc, InvalidStatus):
                        code = exc.response.status_code
                        why = "missing or wrong token" if code == 401 else f"HTTP {code}"
                        raise BridgeError(f"bridge: {self.url} refused the connection ({why})") from None
                    raise BridgeError(f"bridge: handshake with {self.url} failed: {exc}") from None
            self._read(deadline, "the handshake")

    def send(self, text: str) -> None:
        if self._protocol.state is not State.OPEN:
            raise BridgeError(f"bridge: connection to {self.url} is closed")
        self._protocol.send_text(text.encode("utf-8"))
        self._flush()

    def recv(self, timeout: float) -> str:
        """The next complete text (or binary) message; ``BridgeError`` on timeout or close."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        while True:
            while self._frames:
                frame = self._frames.pop(0)
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT):
                    parts.append(bytes(frame.data))
                    if frame.fin:
                        return b"".join(parts).decode("utf-8", "replace")
                elif frame.opcode is Opcode.CLOSE:
                    raise self._closed()
            if self._protocol.state is State.CLOSED:
                raise self._closed()
            self._read(deadline, "a reply")
            self._frames.extend(e for e in self._protocol.events_received() if isinstance(e, Frame))

    def close(self) -> None:
        if self._protocol.state is State.OPEN:
            try:
                self._protocol.send_close()
                self._flush()
            except (OSError, BridgeError):
                pass
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()

    # ----- plumbing ------------------------------------------------------------------------------------
    def _read(self, deadline: float, what: str) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BridgeError(f"bridge: timed out waiting for {what} from {self.url}")
        try:
            self._sock.settimeout(remaining)
            data = self._sock.recv(65536)
        except TimeoutError:
            raise BridgeError(f"bridge: timed out waiting for {what} from {self.url}") from None
        except OSError as exc:
            raise BridgeError(f"bridge: connection to {self.url} failed: {exc}") from None
        if data:
            self._protocol.receive_data(data)
        else:
            self._protocol.receive_eof()
        self._flush()   # pongs, close replies

    def _flush(self) -> None:
        """Send what the protocol produced, in one syscall (frame header and payload in one segment)."""
        chunks = self._protocol.data_to_send()
        try:
            data = b"".join(chunks)
            if data:
                self._sock.sendall(data)
            if chunks and not chunks[-1]:   # an empty chunk: half-close (after a close handshake)
                self._sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            raise BridgeError(f"bridge: connection to {self.url} failed: {exc}") from None

    def _closed(self) -> BridgeError:
        # close_exc is only defined once the protocol is CLOSED; a CLOSE frame may arrive before that
        rcvd = self._protocol.close_rcvd
        why = self._protocol.close_exc if self._protocol.state is State.CLOSED else (rcvd or "closing")
        return BridgeError(f"bridge: connection to {self.url} closed: {why}")
