"""LINEMESSAGE as a value: what ``lineGetMessage`` hands an application.

The raw form is kept (device, message id, callback instance, three params) because it is what the
Windows DLL, the bridge and the recorder all carry one-to-one. ``param2`` of a LINE_REPLY holds the
result as the 32-bit DWORD TAPI writes (``0x8000001C``); ``result`` decodes it to the signed LONG.

Out-values that TAPI writes into the caller's buffers when the reply is generated (``*lphCall`` of
lineMakeCall / lineSetupTransfer / lineForward, the ``lpParams`` of lineDevSpecific) travel with the
reply as ``new_call`` and ``data``: that is exactly what an application can read once LINE_REPLY arrives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator._constants import LineCallState, LineErr, LineMsg

__all__ = ["LineMessage", "signed_long"]


def signed_long(value: int) -> int:
    """Reinterpret a DWORD (or a sign-extended DWORD_PTR) as the signed 32-bit LONG it carries."""
    value &= 0xFFFFFFFF
    return value - 0x1_0000_0000 if value & 0x80000000 else value


@dataclass(frozen=True, slots=True, kw_only=True)
class LineMessage:
    """One LINEMESSAGE. ``time`` is the (virtual) time it was queued; it is not part of TAPI."""

    device: int
    msg: LineMsg
    instance: int = 0
    param1: int = 0
    param2: int = 0
    param3: int = 0
    new_call: int = 0
    data: bytes = b""
    time: float = field(default=0.0, compare=False)

    @property
    def request_id(self) -> int:
        """For LINE_REPLY: the request id (dwParam1)."""
        return self.param1

    @property
    def result(self) -> int:
        """For LINE_REPLY: 0 on success or the negative LINEERR LONG."""
        return signed_long(self.param2)

    @property
    def error(self) -> LineErr | None:
        """For LINE_REPLY: the LINEERR member, or None on success."""
        return LineErr.from_result(self.param2)  # type: ignore[attr-defined, no-any-return]

    def describe(self) -> str:
        """A one-line human reading, used in logs and reports."""
        name = self.msg.tapi_name if isinstance(self.msg, LineMsg) else f"MSG {self.msg}"
        if self.msg == LineMsg.REPLY:
            err = self.error
            outcome = "0" if self.result == 0 else (err.tapi_name if err else f"0x{self.param2 & 0xFFFFFFFF:08X}")
            extra = f" hCall=0x{self.new_call:08X}" if self.new_call else ""
            return f"{name}(req={self.param1}, {outcome}){extra}"
        if self.msg == LineMsg.CALLSTATE:
            try:
                state = LineCallState(self.param1).tapi_name
            except ValueError:
                state = f"0x{self.param1:08X}"
            return f"{name}(hCall=0x{self.device:08X}, {state}, mode=0x{self.param2:X}, priv=0x{self.param3:X})"
        return (f"{name}(hDevice=0x{self.device:08X}, p1=0x{self.param1:X}, p2=0x{self.param2:X}, "
                f"p3=0x{self.param3:X})")
