"""C buffers <-> ``simulator._structs`` values, for the Windows adapter and the emulated tapi32.dll.

Output structures (what ``lineGetDevCaps``, ``lineGetAddressCaps``, ``lineGetAddressStatus``,
``lineGetLineDevStatus``, ``lineGetCallInfo`` and ``lineGetCallStatus`` fill) follow docs/tapi.md §6.1:

* ``write_struct`` is the provider side. The fixed part is the one of the negotiated API version; a
  ``dwTotalSize`` below it fails with ``LINEERR_STRUCTURETOOSMALL``. Otherwise the full image is built (so
  ``dwNeededSize`` is always the complete size), and the fixed part plus the variable items that fit are
  copied; an item that does not fit is reported as Size=0/Offset=0, never cut in half.
* ``read_struct`` is the application side: lenient, since TSPs omit NULs and overrun their own sizes.

Input structures (``LINECALLPARAMS``, ``LINEFORWARDLIST``) are built by the application and validated
strictly by the provider: ``parse_*`` raise ``ValueError`` on anything out of bounds, which the emulated
DLL turns into the LINEERR its function documents (INVALCALLPARAMS, INVALPARAM, ...).

Strings are UTF-16LE with a terminating NUL (the ``W`` exports) unless ``encoding`` says otherwise; ``""``
and ``b""`` are "not present" (Size 0). Variable items are DWORD-aligned after the fixed part, in header
field order.
"""

from __future__ import annotations

import ctypes
import datetime as dt
from typing import Any, Final

from conformance.backends.tapi32._buffers import (
    FieldMap,
    Image,
    Reader,
    decode_string,
    encode_string,
    field_map,
    field_offset,
    read_forward_entries,
    write_forward_entries,
)
from conformance.backends.tapi32._structs import (
    FIXED_SIZES,
    LINEADDRESSCAPS,
    LINEADDRESSSTATUS,
    LINECALLINFO,
    LINECALLPARAMS,
    LINECALLSTATUS,
    LINEDEVCAPS,
    LINEDEVSTATUS,
    LINEFORWARDLIST,
    NATIVE_POINTER_SIZE,
    SYSTEMTIME,
    fixed_size,
    layouts,
)
from simulator._constants import (
    ApiVersion,
    LineAddressMode,
    LineBearerMode,
    LineErr,
    LineMediaMode,
    LineMsg,
)
from simulator._messages import LineMessage, signed_long
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
    "STRUCTURETOOSMALL",
    "OutputValue",
    "build_call_params",
    "build_forward_list",
    "message_from_struct",
    "message_to_struct",
    "pack_message",
    "parse_call_params",
    "parse_forward_list",
    "read_struct",
    "unpack_message",
    "write_struct",
]

UTF16: Final = "utf-16-le"

#: What ``write_struct`` returns when ``total_size`` is below the fixed part: the signed ``LONG`` a TAPI
#: function returns (-2147483571), i.e. ``LINEERR_STRUCTURETOOSMALL`` (0x8000004D) read as int32.
STRUCTURETOOSMALL: Final[int] = signed_long(LineErr.STRUCTURETOOSMALL)

OutputValue = LineDevCaps | LineAddressCaps | LineAddressStatus | LineCallInfo | LineCallStatus | LineDevStatus

_OUTPUTS: Final[dict[type[Any], tuple[str, type[ctypes.Structure], FieldMap]]] = {
    LineDevCaps: ("LINEDEVCAPS", LINEDEVCAPS, field_map(LineDevCaps, LINEDEVCAPS)),
    LineAddressCaps: ("LINEADDRESSCAPS", LINEADDRESSCAPS, field_map(LineAddressCaps, LINEADDRESSCAPS)),
    LineAddressStatus: ("LINEADDRESSSTATUS", LINEADDRESSSTATUS,
                        field_map(LineAddressStatus, LINEADDRESSSTATUS, {"forward": "dwForwardSize"})),
    LineCallInfo: ("LINECALLINFO", LINECALLINFO, field_map(LineCallInfo, LINECALLINFO, {"line": "hLine"})),
    LineCallStatus: ("LINECALLSTATUS", LINECALLSTATUS,
                     field_map(LineCallStatus, LINECALLSTATUS, {"state_entry_time": "tStateEntryTime"})),
    LineDevStatus: ("LINEDEVSTATUS", LINEDEVSTATUS, field_map(LineDevStatus, LINEDEVSTATUS)),
}
_CALL_PARAMS_MAP: Final = field_map(LineCallParams, LINECALLPARAMS)


def _offset(cls: type[ctypes.Structure], name: str) -> int:
    return field_offset(cls, name)


# --- SYSTEMTIME <-> float (seconds since the epoch, UTC; 0.0 = not set) --------------------------------


def _systemtime(seconds: float) -> ctypes.Structure:
    st = SYSTEMTIME()
    if seconds:
        t = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
        st.wYear, st.wMonth, st.wDay, st.wDayOfWeek = t.year, t.month, t.day, t.isoweekday() % 7
        st.wHour, st.wMinute, st.wSecond, st.wMilliseconds = t.hour, t.minute, t.second, t.microsecond // 1000
    return st


def _seconds(st: Any) -> float:
    if not st.wYear:
        return 0.0
    t = dt.datetime(st.wYear, st.wMonth, st.wDay, st.wHour, st.wMinute, st.wSecond,
                    st.wMilliseconds * 1000, tzinfo=dt.UTC)
    return t.timestamp()


# --- output structures ----------------------------------------------------------------------------------


def _image(value: OutputValue, api_version: int, encoding: str) -> Image:
    """The complete image of ``value`` for ``api_version``: fixed part, then every variable item."""
    name, cls, fmap = _OUTPUTS[type(value)]
    fixed = fixed_size(name, api_version)
    c = cls()
    for attr, c_field in fmap.scalars:
        setattr(c, c_field, getattr(value, attr) & 0xFFFFFFFF)
    if isinstance(value, LineCallInfo):
        c.hLine = value.line
    if isinstance(value, LineCallStatus):
        c.tStateEntryTime = _systemtime(value.state_entry_time)
    image = Image(bytes(c)[:fixed])              # fields a version does not know are simply not there
    pending = [(_offset(cls, size_field), attr, kind) for attr, size_field, kind in fmap.items]
    pending += [(_offset(cls, field), attr, "forward") for attr, field in fmap.special if attr == "forward"]
    for size_pos, attr, kind in sorted(pending):
        if size_pos + 8 > fixed:
            continue                             # the item's Size/Offset pair is newer than this version
        data = getattr(value, attr)
        if kind == "forward":
            _append_forward_array(image, data, api_version, encoding)
        else:
            image.append(encode_string(data, encoding) if kind == "str" else data, size_pos)
    return image


def _append_forward_array(image: Image, entries: tuple[LineForward, ...], api_version: int,
                          encoding: str) -> None:
    stride = fixed_size("LINEFORWARD", api_version)
    count_pos = _offset(LINEADDRESSSTATUS, "dwForwardNumEntries")
    start = image.append(bytes(stride * len(entries)), _offset(LINEADDRESSSTATUS, "dwForwardSize"), count_pos)
    if entries:
        image.put_dword(count_pos, len(entries))
        write_forward_entries(image, start, entries, stride, encoding)


def write_struct(value: OutputValue, buffer: bytearray | memoryview | int, total_size: int, api_version: int,
                 *, encoding: str = UTF16) -> int:
    """Fill a caller's buffer with ``value`` the way a TAPI ``lineGet...`` function does.

    Args:
        value: a ``LineDevCaps``, ``LineAddressCaps``, ``LineAddressStatus``, ``LineCallInfo``,
            ``LineCallStatus`` or ``LineDevStatus``.
        buffer: a writable bytes-like object of at least ``total_size`` bytes, or the address of one (an
            ``LPVOID`` the emulated DLL received).
        total_size: the caller's ``dwTotalSize``.
        api_version: the version negotiated for the device; it picks the fixed part (``FIXED_SIZES``) and
            the fields and items that are filled.
        encoding: ``"utf-16-le"`` for the ``W`` exports; an ANSI code page for the ``A`` ones.

    Returns:
        0 on success, even when truncated (then ``dwNeededSize > dwTotalSize``); ``STRUCTURETOOSMALL``
        (the negative LONG of ``LINEERR_STRUCTURETOOSMALL``) when ``total_size`` is below the fixed part,
        in which case nothing is written.

    Raises:
        ValueError: ``buffer`` is shorter than ``total_size``, or the version is older than 1.3.
        KeyError: ``value`` is not one of the output value classes.
    """
    name = _OUTPUTS[type(value)][0]
    if total_size < fixed_size(name, api_version):
        return STRUCTURETOOSMALL
    if not isinstance(buffer, int) and len(buffer) < total_size:
        raise ValueError(f"buffer of {len(buffer)} bytes is smaller than dwTotalSize {total_size}")
    image = _image(value, api_version, encoding)
    data, used = image.truncated(total_size)
    out = bytearray(data)
    for position, number in ((0, total_size), (4, len(image.buf)), (8, used)):
        out[position:position + 4] = (number & 0xFFFFFFFF).to_bytes(4, "little")
    if isinstance(buffer, int):
        ctypes.memmove(buffer, bytes(out), used)
    else:
        buffer[:used] = out
    return 0


def _infer_fixed(name: str, reader: Reader, item_positions: list[int]) -> int:
    """The fixed part of a filled structure whose version the caller did not say.

    It cannot extend past the first variable item nor past the used bytes; the largest version size that
    fits both is it.
    """
    bound = reader.limit
    for size_pos in item_positions:
        if size_pos + 8 <= reader.limit and reader.dword(size_pos):
            bound = min(bound, reader.dword(size_pos + 4))
    fitting = [size for size in set(FIXED_SIZES[name].values()) if size <= bound]
    return max(fitting) if fitting else min(FIXED_SIZES[name].values())


def read_struct(cls: type[Any], raw: bytes, *, api_version: int | None = None, encoding: str = UTF16) -> Any:
    """Decode a buffer a ``lineGet...`` function filled into the ``cls`` value (inverse of ``write_struct``).

    ``api_version`` (the negotiated one) says where the fixed part ends; without it the end is inferred
    from the first variable item and ``dwUsedSize``. Fields beyond the fixed part read as 0. Items outside
    ``min(len(raw), dwUsedSize)`` read as absent. LINEFORWARD entries use the stride
    ``dwForwardSize // dwForwardNumEntries`` and string offsets from the start of ``raw``.

    Raises:
        ValueError: ``raw`` is shorter than the smallest fixed part of the structure.
        KeyError: ``cls`` is not one of the output value classes.
    """
    name, c_cls, fmap = _OUTPUTS[cls]
    smallest = min(FIXED_SIZES[name].values())
    if len(raw) < smallest:
        raise ValueError(f"{name} needs at least {smallest} bytes, got {len(raw)}")
    used = int.from_bytes(raw[8:12], "little")
    reader = Reader(raw, used if used >= smallest else len(raw), strict=False)
    positions = [_offset(c_cls, f) for _, f, _ in fmap.items] + [_offset(c_cls, f) for _, f in fmap.special]
    fixed = fixed_size(name, api_version) if api_version else _infer_fixed(name, reader, positions)
    fixed = min(fixed, len(raw))
    c = c_cls.from_buffer_copy(raw[:fixed] + bytes(ctypes.sizeof(c_cls) - fixed))
    kwargs: dict[str, Any] = {attr: getattr(c, c_field) for attr, c_field in fmap.scalars}
    for attr, size_field, kind in fmap.items:
        size_pos = _offset(c_cls, size_field)
        data = reader.item(size_pos) if size_pos + 8 <= fixed else b""
        kwargs[attr] = decode_string(data, encoding) if kind == "str" else data
    if cls is LineCallInfo:
        kwargs["line"] = c.hLine
    elif cls is LineCallStatus:
        kwargs["state_entry_time"] = _seconds(c.tStateEntryTime)
    elif cls is LineAddressStatus:
        kwargs["forward"] = _read_status_forwards(reader, c, encoding)
    return cls(**kwargs)


def _read_status_forwards(reader: Reader, c: Any, encoding: str) -> tuple[LineForward, ...]:
    count, size, offset = c.dwForwardNumEntries, c.dwForwardSize, c.dwForwardOffset
    if not count or not size or size // count < FIXED_SIZES["LINEFORWARD"][ApiVersion.V1_3]:
        return ()
    if offset + size > reader.limit:
        return ()
    return read_forward_entries(reader, offset, count, size // count, encoding, LineForward)


# --- LINEFORWARDLIST --------------------------------------------------------------------------------------


def build_forward_list(entries: tuple[LineForward, ...] | list[LineForward], api_version: int,
                       *, encoding: str = UTF16) -> bytes:
    """The LINEFORWARDLIST an application passes to ``lineForward``.

    An 8-byte header (``dwTotalSize``, ``dwNumEntries``), the LINEFORWARD entries (24 bytes below 3.1, 32
    at 3.1), then the strings; string offsets count from the start of the list (docs/tapi.md §6.3).
    """
    entries = tuple(entries)
    stride = fixed_size("LINEFORWARD", api_version)
    header = _offset(LINEFORWARDLIST, "ForwardList")
    image = Image(bytes(header + stride * len(entries)))
    image.put_dword(_offset(LINEFORWARDLIST, "dwNumEntries"), len(entries))
    write_forward_entries(image, header, entries, stride, encoding)
    image.put_dword(_offset(LINEFORWARDLIST, "dwTotalSize"), len(image.buf))
    return bytes(image.buf)


def parse_forward_list(raw: bytes, api_version: int, *, encoding: str = UTF16) -> tuple[LineForward, ...]:
    """Decode a LINEFORWARDLIST built for ``api_version`` (inverse of ``build_forward_list``).

    Raises:
        ValueError: ``dwTotalSize`` is below the header or beyond ``raw``, the entries overrun
            ``dwTotalSize``, or a string lies outside the list.
    """
    header = _offset(LINEFORWARDLIST, "ForwardList")
    if len(raw) < header:
        raise ValueError(f"LINEFORWARDLIST needs {header} bytes, got {len(raw)}")
    total = int.from_bytes(raw[0:4], "little")
    count = int.from_bytes(raw[4:8], "little")
    stride = fixed_size("LINEFORWARD", api_version)
    if not header <= total <= len(raw):
        raise ValueError(f"LINEFORWARDLIST dwTotalSize {total} outside [{header}, {len(raw)}]")
    if header + count * stride > total:
        raise ValueError(f"{count} entries of {stride} bytes do not fit in dwTotalSize {total}")
    reader = Reader(raw, total, strict=True, floor=header + count * stride)
    return read_forward_entries(reader, header, count, stride, encoding, LineForward)


# --- LINECALLPARAMS ---------------------------------------------------------------------------------------

# What "0 = default" in LineCallParams becomes on the wire: the defaults TAPI documents for a NULL
# lpCallParams, since a real tapi32.dll rejects a bearer or media mode of 0.
_CALL_PARAM_DEFAULTS: Final = {
    "bearer_mode": int(LineBearerMode.VOICE),
    "media_mode": int(LineMediaMode.INTERACTIVEVOICE),
    "address_mode": int(LineAddressMode.ADDRESSID),
}


def build_call_params(params: LineCallParams, api_version: int, *, encoding: str = UTF16) -> bytes:
    """The LINECALLPARAMS for ``lineMakeCall`` & co: fixed part of ``api_version``, then the strings.

    ``dwTotalSize`` is the fixed part plus the appended data. Zero bearer/media/address modes are written as
    the TAPI defaults (VOICE, INTERACTIVEVOICE, ADDRESSID); every other unused field is 0.

    Raises:
        ValueError: ``target_address`` is set but ``api_version`` is below 2.0, which has no such field.
    """
    fixed = fixed_size("LINECALLPARAMS", api_version)
    c = LINECALLPARAMS()
    for attr, c_field in _CALL_PARAMS_MAP.scalars:
        setattr(c, c_field, (getattr(params, attr) or _CALL_PARAM_DEFAULTS.get(attr, 0)) & 0xFFFFFFFF)
    image = Image(bytes(c)[:fixed])
    for attr, size_field, kind in _CALL_PARAMS_MAP.items:
        data = getattr(params, attr)
        size_pos = _offset(LINECALLPARAMS, size_field)
        if size_pos + 8 > fixed:
            if data:
                raise ValueError(f"LINECALLPARAMS.{size_field[:-4]} needs API 2.0+, not 0x{api_version:08X}")
            continue
        image.append(encode_string(data, encoding) if kind == "str" else data, size_pos)
    image.put_dword(_offset(LINECALLPARAMS, "dwTotalSize"), len(image.buf))
    return bytes(image.buf)


def parse_call_params(raw: bytes, *, api_version: int | None = None, encoding: str = UTF16) -> LineCallParams:
    """Decode a LINECALLPARAMS an application passed in (inverse of ``build_call_params``).

    The values are kept as written (a 0 stays 0). Without ``api_version`` the fixed part is inferred from
    the first string offset, as TAPI itself only knows ``dwTotalSize``.

    Raises:
        ValueError: ``dwTotalSize`` is below the 1.x fixed part or beyond ``raw``, or an item lies outside
            ``[fixed part, dwTotalSize)``.
    """
    smallest = min(FIXED_SIZES["LINECALLPARAMS"].values())
    total = int.from_bytes(raw[0:4], "little") if len(raw) >= 4 else 0
    if not smallest <= total <= len(raw):
        raise ValueError(f"LINECALLPARAMS dwTotalSize {total} outside [{smallest}, {len(raw)}]")
    reader = Reader(raw, total, strict=True, floor=smallest)
    positions = [_offset(LINECALLPARAMS, f) for _, f, _ in _CALL_PARAMS_MAP.items]
    fixed = fixed_size("LINECALLPARAMS", api_version) if api_version else _infer_fixed(
        "LINECALLPARAMS", reader, positions)
    if fixed > total:
        raise ValueError(f"LINECALLPARAMS dwTotalSize {total} is below the fixed part {fixed}")
    reader.floor = fixed
    c = LINECALLPARAMS.from_buffer_copy(raw[:fixed] + bytes(ctypes.sizeof(LINECALLPARAMS) - fixed))
    kwargs: dict[str, Any] = {attr: getattr(c, c_field) for attr, c_field in _CALL_PARAMS_MAP.scalars}
    for attr, size_field, kind in _CALL_PARAMS_MAP.items:
        size_pos = _offset(LINECALLPARAMS, size_field)
        data = reader.item(size_pos, size_field[:-4]) if size_pos + 8 <= fixed else b""
        kwargs[attr] = decode_string(data, encoding) if kind == "str" else data
    return LineCallParams(**kwargs)


# --- LINEMESSAGE ------------------------------------------------------------------------------------------


def message_from_struct(c: Any) -> LineMessage:
    """A ``LineMessage`` from a LINEMESSAGE of either layout (``layouts(4|8).LINEMESSAGE``).

    The three DWORD_PTR params are masked to 32 bits: they carry DWORDs, and a LONG result in a LINE_REPLY
    may arrive sign-extended on x64 (docs/tapi.md §0.5); ``LineMessage.result`` gives it back signed.
    The callback instance keeps its full width. An unknown message id is kept as a plain int.
    """
    try:
        msg: LineMsg = LineMsg(c.dwMessageID)
    except ValueError:
        msg = c.dwMessageID     # PHONE_* or a newer id: LineMessage.describe() copes with a plain int
    return LineMessage(device=c.hDevice, msg=msg, instance=c.dwCallbackInstance,
                       param1=c.dwParam1 & 0xFFFFFFFF, param2=c.dwParam2 & 0xFFFFFFFF,
                       param3=c.dwParam3 & 0xFFFFFFFF)


def message_to_struct(message: LineMessage, pointer_size: int = NATIVE_POINTER_SIZE) -> ctypes.Structure:
    """The LINEMESSAGE ``lineGetMessage`` hands out for ``message`` (params zero-extended DWORDs).

    ``new_call``/``data`` are not part of LINEMESSAGE: the emulated DLL writes them into the buffers the
    application passed with the request, before queuing the LINE_REPLY.
    """
    c = layouts(pointer_size).LINEMESSAGE()
    c.hDevice = message.device & 0xFFFFFFFF
    c.dwMessageID = int(message.msg)
    c.dwCallbackInstance = message.instance & ((1 << (8 * pointer_size)) - 1)
    c.dwParam1 = message.param1 & 0xFFFFFFFF
    c.dwParam2 = message.param2 & 0xFFFFFFFF
    c.dwParam3 = message.param3 & 0xFFFFFFFF
    return c


def pack_message(message: LineMessage, pointer_size: int = NATIVE_POINTER_SIZE) -> bytes:
    """LINEMESSAGE bytes: 40 on x64, 24 on x86."""
    return bytes(message_to_struct(message, pointer_size))


def unpack_message(raw: bytes, pointer_size: int = NATIVE_POINTER_SIZE) -> LineMessage:
    """Inverse of ``pack_message``. Raises ``ValueError`` if ``raw`` is shorter than a LINEMESSAGE."""
    return message_from_struct(layouts(pointer_size).LINEMESSAGE.from_buffer_copy(raw))
