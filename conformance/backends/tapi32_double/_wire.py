"""TAPI structures in an application's memory <-> the simulator's values, the way tapi32.dll does it.

Output structures (the ``lineGet...`` family, docs/tapi.md §6):

* ``dwTotalSize`` below the fixed part of the negotiated version: LINEERR_STRUCTURETOOSMALL, and
  ``dwNeededSize`` is set when the buffer has room for it;
* the complete structure fits: all of it is written, ``dwUsedSize == dwNeededSize``;
* otherwise only the fixed part is written with every variable item absent (Size/Offset 0),
  ``dwUsedSize`` = the fixed part and ``dwNeededSize`` = what the complete structure needs; the
  application must grow its buffer and ask again.

Strings are UTF-16LE with a terminating NUL at byte offsets from the start of the structure; variable
items follow the fixed part DWORD-aligned. Input structures (LINECALLPARAMS, LINEFORWARDLIST) are read
strictly: an item outside ``[fixed part, dwTotalSize)`` or a string of odd length is the LINEERR the
function documents. A value field maps to the header member of the same name in the header's spelling
(``caller_id_flags`` -> ``dwCallerIDFlags``, ``caller_id`` -> ``dwCallerIDSize``/``dwCallerIDOffset``);
a field with no member fails at import.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any, Final

from conformance.backends.tapi32_double._layout import (
    POINTER_SIZE,
    fixed_part,
    member,
    peek,
    poke,
    read_bytes,
    sizeof,
    write_bytes,
)
from simulator._constants import LineErr
from simulator._errors import LineError
from simulator._messages import LineMessage
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

__all__ = ["initialize_ex_params", "read_call_params", "read_forward_list", "read_utf16", "write_message",
           "write_output", "write_translate_output", "zero_extension_id"]

TRANSLATE_COUNTRY: Final = 49          # the double's "location": Germany, as the shipped profiles' numbers

Output = LineDevCaps | LineAddressCaps | LineAddressStatus | LineCallInfo | LineCallStatus | LineDevStatus


def _header_name(field: str) -> str:
    """``caller_id_name`` -> ``CallerIDName``: the header capitalises words and writes ID, not Id."""
    return "".join("ID" if part == "id" else part.capitalize() for part in field.split("_"))


@dataclasses.dataclass(frozen=True)
class _Plan:
    """How a value class lands in its structure: DWORD members and variable items, by header member."""

    struct: str
    dwords: tuple[tuple[str, str], ...]          # (value field, member)
    items: tuple[tuple[str, str, bool], ...]     # (value field, "dwXxx" stem, is a string)


def _plan(value_class: type[Any], struct: str, skip: tuple[str, ...] = ()) -> _Plan:
    dwords, items = [], []
    for field in dataclasses.fields(value_class):
        if field.name in skip:
            continue
        stem = "dw" + _header_name(field.name)
        if field.type in ("str", "bytes"):
            member(struct, stem + "Size")
            member(struct, stem + "Offset")
            items.append((field.name, stem, field.type == "str"))
        else:
            member(struct, stem)
            dwords.append((field.name, stem))
    return _Plan(struct, tuple(dwords), tuple(items))


_PLANS: Final[dict[type[Any], _Plan]] = {
    LineDevCaps: _plan(LineDevCaps, "LINEDEVCAPS"),
    LineAddressCaps: _plan(LineAddressCaps, "LINEADDRESSCAPS"),
    LineAddressStatus: _plan(LineAddressStatus, "LINEADDRESSSTATUS", ("forward",)),
    LineCallInfo: _plan(LineCallInfo, "LINECALLINFO", ("line",)),
    LineCallStatus: _plan(LineCallStatus, "LINECALLSTATUS", ("state_entry_time",)),
    LineDevStatus: _plan(LineDevStatus, "LINEDEVSTATUS"),
}
_CALL_PARAMS: Final = _plan(LineCallParams, "LINECALLPARAMS")


def _utf16z(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le") if text else b""


def read_utf16(address: int, limit: int = 1 << 16) -> str:
    """A NUL-terminated UTF-16LE string at ``address`` (an LPCWSTR argument), at most ``limit`` units."""
    units = bytearray()
    for index in range(limit):
        unit = read_bytes(address + 2 * index, 2)
        if unit == b"\0\0":
            return units.decode("utf-16-le", errors="strict")
        units += unit
    raise ValueError(f"no NUL within {limit} UTF-16 units")


class _Image:
    """A structure being built: the fixed part, then items appended DWORD-aligned."""

    def __init__(self, struct: str, fixed: int) -> None:
        self.struct = struct
        self.buf = bytearray(fixed)
        self.fixed = fixed
        self.pairs: list[int] = []                  # offsets of the Size members of appended items

    def has(self, name: str) -> bool:
        offset, size = member(self.struct, name)
        return offset + size <= self.fixed

    def put(self, name: str, value: int) -> None:
        offset, size = member(self.struct, name)
        if offset + size <= self.fixed:
            self.buf[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")

    def put_at(self, offset: int, value: int) -> None:
        self.buf[offset:offset + 4] = (value & 0xFFFFFFFF).to_bytes(4, "little")

    def append(self, stem_or_offset: str | int, data: bytes) -> int:
        """Append ``data`` for the Size/Offset pair of member stem ``dwXxx`` (or at a byte offset, for
        LINEFORWARD entries); a pair the version's fixed part lacks, or empty data, stays 0/0."""
        if isinstance(stem_or_offset, str):
            size_at = member(self.struct, stem_or_offset + "Size")[0]
            if size_at + 8 > self.fixed:
                return 0
        else:
            size_at = stem_or_offset
        if not data:
            return 0
        start = (len(self.buf) + 3) & ~3
        self.buf += bytes(start - len(self.buf)) + data
        self.put_at(size_at, len(data))
        self.put_at(size_at + 4, start)
        self.pairs.append(size_at)
        return start


def _systemtime(seconds: float) -> list[int]:
    if not seconds:
        return [0] * 8
    t = dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    return [t.year, t.month, t.isoweekday() % 7, t.day, t.hour, t.minute, t.second, t.microsecond // 1000]


def _forwards(image: _Image, entries: tuple[LineForward, ...], api_version: int) -> None:
    """LINEADDRESSSTATUS' forward array: LINEFORWARD entries, then their strings (offsets from the start)."""
    if not entries or not image.has("dwForwardOffset"):
        return
    stride = fixed_part("LINEFORWARD", api_version)
    start = (len(image.buf) + 3) & ~3
    image.buf += bytes(start - len(image.buf) + stride * len(entries))
    image.put("dwForwardNumEntries", len(entries))
    image.put("dwForwardSize", stride * len(entries))
    image.put("dwForwardOffset", start)
    image.pairs.append(member("LINEADDRESSSTATUS", "dwForwardSize")[0])
    _fill_forward_entries(image, start, entries, stride)


def _fill_forward_entries(image: _Image, start: int, entries: tuple[LineForward, ...], stride: int) -> None:
    for index, entry in enumerate(entries):
        base = start + index * stride
        image.put_at(base + member("LINEFORWARD", "dwForwardMode")[0], entry.forward_mode)
        image.put_at(base + member("LINEFORWARD", "dwDestCountryCode")[0], entry.dest_country_code)
        for text, stem in ((entry.caller_address, "dwCallerAddress"), (entry.dest_address, "dwDestAddress")):
            image.append(base + member("LINEFORWARD", stem + "Size")[0], _utf16z(text))
            type_at = member("LINEFORWARD", stem + "Type")[0]
            if type_at + 4 <= stride and text:
                image.put_at(base + type_at, 1)      # LINEADDRESSTYPE_PHONENUMBER (3.1 entries)


def _image(value: Output, api_version: int) -> _Image:
    plan = _PLANS[type(value)]
    image = _Image(plan.struct, fixed_part(plan.struct, api_version))
    for field, name in plan.dwords:
        image.put(name, getattr(value, field))
    if isinstance(value, LineCallInfo):
        image.put("hLine", value.line)
    if isinstance(value, LineCallStatus) and image.has("tStateEntryTime"):
        offset = member("LINECALLSTATUS", "tStateEntryTime")[0]
        for index, word in enumerate(_systemtime(value.state_entry_time)):
            image.buf[offset + 2 * index:offset + 2 * index + 2] = word.to_bytes(2, "little")
    # Items in header order, which is the order tapisrv lays them out in.
    ordered = sorted(plan.items, key=lambda item: member(plan.struct, item[1] + "Size")[0])
    forward_at = member("LINEADDRESSSTATUS", "dwForwardSize")[0] if isinstance(value, LineAddressStatus) else -1
    done_forward = False
    for field, stem, is_text in ordered:
        if 0 <= forward_at < member(plan.struct, stem + "Size")[0] and not done_forward:
            _forwards(image, value.forward, api_version)  # type: ignore[union-attr]
            done_forward = True
        data = getattr(value, field)
        image.append(stem, _utf16z(data) if is_text else bytes(data))
    if forward_at >= 0 and not done_forward:
        _forwards(image, value.forward, api_version)  # type: ignore[union-attr]
    return image


def write_output(value: Output, address: int, api_version: int, function: str) -> None:
    """Fill the application's structure at ``address`` with ``value`` (see the module docstring).

    Raises ``LineError`` STRUCTURETOOSMALL below the fixed part (after setting dwNeededSize if it fits).
    """
    image = _image(value, api_version)
    struct = image.struct
    total = peek(address)
    needed = len(image.buf)
    if total < image.fixed:
        if total >= 8:
            poke(address + member(struct, "dwNeededSize")[0], needed)
        raise LineError(LineErr.STRUCTURETOOSMALL, function,
                        f"{struct} dwTotalSize {total} < {image.fixed}, the fixed part of 0x{api_version:08X}")
    if needed <= total:
        data = bytes(image.buf)
    else:                                   # fixed part only, every item absent
        fixed = bytearray(image.buf[:image.fixed])
        for size_at in image.pairs:
            if size_at + 8 <= image.fixed:          # pairs inside LINEFORWARD entries go with the entries
                fixed[size_at:size_at + 8] = bytes(8)
        if struct == "LINEADDRESSSTATUS":
            num_at = member(struct, "dwForwardNumEntries")[0]
            fixed[num_at:num_at + 4] = bytes(4)
        data = bytes(fixed)
    write_bytes(address + 4, data[4:])      # dwTotalSize is the caller's
    poke(address + member(struct, "dwNeededSize")[0], needed)
    poke(address + member(struct, "dwUsedSize")[0], len(data))


# --- input structures -----------------------------------------------------------------------------------


class _Input:
    """An input structure's bytes, with strict item reads."""

    def __init__(self, struct: str, raw: bytes, fixed: int, error: int, function: str) -> None:
        self.struct, self.raw, self.fixed, self.error, self.function = struct, raw, fixed, error, function

    def dword(self, offset: int) -> int:
        return int.from_bytes(self.raw[offset:offset + 4], "little")

    def item(self, size_at: int, what: str) -> bytes:
        size, offset = self.dword(size_at), self.dword(size_at + 4)
        if size == 0:
            return b""
        if offset < self.fixed or offset + size > len(self.raw):
            raise LineError(self.error, self.function, f"{self.struct}.{what}: {size} bytes at offset {offset} "
                            f"outside [{self.fixed}, {len(self.raw)})")
        return self.raw[offset:offset + size]

    def text(self, size_at: int, what: str) -> str:
        data = self.item(size_at, what)
        if len(data) % 2:
            raise LineError(self.error, self.function, f"{self.struct}.{what}: {len(data)} bytes is not UTF-16")
        try:
            return data.decode("utf-16-le").rstrip("\0")
        except UnicodeDecodeError as exc:
            raise LineError(self.error, self.function, f"{self.struct}.{what}: {exc}") from exc


def _input(struct: str, address: int, fixed: int, error: int, function: str) -> _Input:
    total = peek(address)
    if total < fixed:
        raise LineError(LineErr.STRUCTURETOOSMALL, function, f"{struct} dwTotalSize {total} < {fixed}")
    return _Input(struct, read_bytes(address, total), fixed, error, function)


def read_call_params(address: int, api_version: int, function: str) -> LineCallParams:
    """The LINECALLPARAMS at ``address`` for a line of ``api_version``; INVALCALLPARAMS if malformed."""
    data = _input("LINECALLPARAMS", address, fixed_part("LINECALLPARAMS", api_version),
                  LineErr.INVALCALLPARAMS, function)
    values: dict[str, Any] = {}
    for field, name in _CALL_PARAMS.dwords:
        values[field] = data.dword(member("LINECALLPARAMS", name)[0])
    for field, stem, is_text in _CALL_PARAMS.items:
        size_at = member("LINECALLPARAMS", stem + "Size")[0]
        if size_at + 8 > data.fixed:
            continue
        values[field] = data.text(size_at, stem[2:]) if is_text else data.item(size_at, stem[2:])
    return LineCallParams(**values)


def read_forward_list(address: int, api_version: int, function: str) -> tuple[LineForward, ...]:
    """The LINEFORWARDLIST at ``address``; INVALPARAM when its entries or strings overrun it."""
    header = fixed_part("LINEFORWARDLIST", api_version)
    stride = fixed_part("LINEFORWARD", api_version)
    data = _input("LINEFORWARDLIST", address, header, LineErr.INVALPARAM, function)
    count = data.dword(member("LINEFORWARDLIST", "dwNumEntries")[0])
    if header + count * stride > len(data.raw):
        raise LineError(LineErr.INVALPARAM, function,
                        f"LINEFORWARDLIST: {count} entries of {stride} bytes overrun dwTotalSize {len(data.raw)}")
    data.fixed = header + count * stride
    entries = []
    for index in range(count):
        base = header + index * stride

        def at(name: str, base: int = base) -> int:
            return base + member("LINEFORWARD", name)[0]

        entries.append(LineForward(
            forward_mode=data.dword(at("dwForwardMode")),
            caller_address=data.text(at("dwCallerAddressSize"), f"ForwardList[{index}].CallerAddress"),
            dest_country_code=data.dword(at("dwDestCountryCode")),
            dest_address=data.text(at("dwDestAddressSize"), f"ForwardList[{index}].DestAddress")))
    return tuple(entries)


# --- LINEMESSAGE and LINEINITIALIZEEXPARAMS ---------------------------------------------------------------


def write_message(address: int, message: LineMessage) -> None:
    """The LINEMESSAGE ``lineGetMessage`` returns: DWORD_PTR params zero-extended (docs/tapi.md §0.5)."""
    image = bytearray(sizeof("LINEMESSAGE"))
    fields = (("hDevice", message.device), ("dwMessageID", int(message.msg)),
              ("dwCallbackInstance", message.instance), ("dwParam1", message.param1),
              ("dwParam2", message.param2), ("dwParam3", message.param3))
    for name, value in fields:
        offset, size = member("LINEMESSAGE", name)
        bits = 32 if name.startswith("dwParam") or size == 4 else 8 * size
        image[offset:offset + size] = (value & ((1 << bits) - 1)).to_bytes(size, "little")
    write_bytes(address, bytes(image))


def initialize_ex_params(address: int, event: int, function: str) -> int:
    """Check a LINEINITIALIZEEXPARAMS, hand out ``event`` as its hEvent; returns dwOptions."""
    size = sizeof("LINEINITIALIZEEXPARAMS")
    total = peek(address)
    if total < size:
        raise LineError(LineErr.STRUCTURETOOSMALL, function, f"LINEINITIALIZEEXPARAMS dwTotalSize {total} < {size}")
    options = peek(address + member("LINEINITIALIZEEXPARAMS", "dwOptions")[0])
    poke(address + member("LINEINITIALIZEEXPARAMS", "dwNeededSize")[0], size)
    poke(address + member("LINEINITIALIZEEXPARAMS", "dwUsedSize")[0], size)
    poke(address + member("LINEINITIALIZEEXPARAMS", "Handles")[0], event, POINTER_SIZE)
    return options


def write_translate_output(address: int, dialable: str, displayable: str, function: str) -> None:
    """Fill a LINETRANSLATEOUTPUT (no version-dependent part): both strings, or none if they do not fit."""
    size = sizeof("LINETRANSLATEOUTPUT")
    total = peek(address)
    if total < size:
        raise LineError(LineErr.STRUCTURETOOSMALL, function, f"LINETRANSLATEOUTPUT dwTotalSize {total} < {size}")
    image = _Image("LINETRANSLATEOUTPUT", size)
    image.append("dwDialableString", _utf16z(dialable))
    image.append("dwDisplayableString", _utf16z(displayable))
    image.put("dwCurrentCountry", TRANSLATE_COUNTRY)
    image.put("dwDestCountry", TRANSLATE_COUNTRY)
    needed = len(image.buf)
    data = bytes(image.buf)
    if needed > total:                                   # fixed part only, the strings absent
        fixed = bytearray(image.buf[:size])
        for size_at in image.pairs:
            fixed[size_at:size_at + 8] = bytes(8)
        data = bytes(fixed)
    write_bytes(address + 4, data[4:])
    poke(address + member("LINETRANSLATEOUTPUT", "dwNeededSize")[0], needed)
    poke(address + member("LINETRANSLATEOUTPUT", "dwUsedSize")[0], len(data))


def zero_extension_id(address: int) -> None:
    write_bytes(address, bytes(sizeof("LINEEXTENSIONID")))

