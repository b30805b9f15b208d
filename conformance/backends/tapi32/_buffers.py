"""Building and reading TAPI variable-length buffers; the plumbing under ``_codec``.

* ``Image`` grows a structure image: a fixed part, then variable items appended DWORD-aligned, each
  described by an adjacent ``dwXxxSize``/``dwXxxOffset`` pair somewhere earlier in the image.
* ``Reader`` reads size/offset items back, bounded by a limit. ``strict`` readers (input structures an
  application passes in: LINECALLPARAMS, LINEFORWARDLIST) raise ``ValueError`` on an item out of bounds;
  lenient ones (structures a TSP filled) treat it as absent, because real TSPs are sloppy (docs/tapi.md §1).
* ``field_map(value_class, struct_name)`` pairs the fields of a ``simulator._structs`` value with the C
  fields of its structure by name (``caller_id_flags`` <-> ``dwCallerIDFlags``), so no table is typed by hand
  and a value field without a C counterpart fails at import.
"""

from __future__ import annotations

import ctypes
import dataclasses
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from conformance.backends.tapi32._structs import LINEFORWARD, fixed_size
from simulator._constants import ApiVersion

__all__ = ["FieldMap", "Image", "Reader", "decode_string", "encode_string", "field_map", "field_offset"]

_DWORD: Final = struct.Struct("<I")
_PAIR: Final = struct.Struct("<II")


def encode_string(text: str, encoding: str) -> bytes:
    """TAPI string bytes: the text plus its terminating NUL; an empty string is "not present" (b"")."""
    return (text + "\0").encode(encoding) if text else b""


def decode_string(raw: bytes, encoding: str) -> str:
    """Inverse of ``encode_string``; trailing NULs are stripped, not assumed (some TSPs omit them)."""
    if encoding.replace("-", "").replace("_", "").lower().startswith("utf16") and len(raw) % 2:
        raw = raw[:-1]
    return raw.decode(encoding, errors="replace").rstrip("\0")


def field_offset(cls: type[ctypes.Structure], name: str) -> int:
    offset: int = getattr(cls, name).offset
    return offset


class Image:
    """A structure image under construction. Offsets in items are from the start of the image."""

    def __init__(self, fixed: bytes) -> None:
        self.fixed_size = len(fixed)
        self.buf = bytearray(fixed)
        # (start, end, positions of DWORDs to zero if the item is cut off) in ascending start order
        self.items: list[tuple[int, int, tuple[int, ...]]] = []

    def put_dword(self, position: int, value: int) -> None:
        _DWORD.pack_into(self.buf, position, value & 0xFFFFFFFF)

    def append(self, data: bytes, size_pos: int, *also_zero: int) -> int:
        """Append ``data`` and point the Size/Offset pair at ``size_pos`` to it; returns its offset.

        Empty data is "not present": the pair stays 0/0 and nothing is appended.
        """
        if not data:
            return 0
        start = (len(self.buf) + 3) & ~3
        self.buf.extend(bytes(start - len(self.buf)))
        self.buf.extend(data)
        _PAIR.pack_into(self.buf, size_pos, len(data), start)
        self.items.append((start, len(self.buf), (size_pos, size_pos + 4, *also_zero)))
        return start

    def truncated(self, total_size: int) -> tuple[bytes, int]:
        """The bytes a ``total_size`` buffer receives and the used size (docs/tapi.md §6.1).

        Items lie in ascending order, so the ones that fit are a prefix. Every item that does not fit is
        reported as Size=0, Offset=0: the caller never sees half a string.
        """
        used = max((end for _start, end, _zero in self.items if end <= total_size), default=self.fixed_size)
        out = bytearray(self.buf)
        for _start, end, zero in self.items:
            if end > total_size:
                for position in zero:
                    _DWORD.pack_into(out, position, 0)
        return bytes(out[:used]), used


class Reader:
    """Reads DWORDs and size/offset items of one structure image."""

    def __init__(self, raw: bytes, limit: int, *, strict: bool, floor: int = 0) -> None:
        self.raw = raw
        self.limit = min(limit, len(raw))
        self.strict = strict
        self.floor = floor          # items must not start inside the fixed part

    def dword(self, position: int) -> int:
        value: int = _DWORD.unpack_from(self.raw, position)[0]
        return value

    def item(self, size_pos: int, what: str = "item") -> bytes:
        size, offset = _PAIR.unpack_from(self.raw, size_pos)
        if size == 0:
            return b""
        if offset < self.floor or offset + size > self.limit:
            if self.strict:
                raise ValueError(f"{what}: {size} bytes at offset {offset} "
                                 f"outside [{self.floor}, {self.limit})")
            return b""
        return self.raw[offset:offset + size]

    def string(self, size_pos: int, encoding: str, what: str = "string") -> str:
        return decode_string(self.item(size_pos, what), encoding)


def write_forward_entries(image: Image, start: int, entries: tuple[Any, ...], stride: int,
                          encoding: str) -> None:
    """Fill LINEFORWARD entries placed at ``start``; their strings are appended to ``image``.

    Offsets count from the start of ``image`` (the containing structure or the LINEFORWARDLIST), §6.3.
    """
    for index, entry in enumerate(entries):
        base = start + index * stride
        image.put_dword(base + field_offset(LINEFORWARD, "dwForwardMode"), entry.forward_mode)
        image.put_dword(base + field_offset(LINEFORWARD, "dwDestCountryCode"), entry.dest_country_code)
        caller = image.append(encode_string(entry.caller_address, encoding),
                              base + field_offset(LINEFORWARD, "dwCallerAddressSize"))
        dest = image.append(encode_string(entry.dest_address, encoding),
                            base + field_offset(LINEFORWARD, "dwDestAddressSize"))
        if stride >= fixed_size("LINEFORWARD", ApiVersion.V3_1):
            # 3.1 entries carry address types; a present address is LINEADDRESSTYPE_PHONENUMBER (1).
            image.put_dword(base + field_offset(LINEFORWARD, "dwCallerAddressType"), 1 if caller else 0)
            image.put_dword(base + field_offset(LINEFORWARD, "dwDestAddressType"), 1 if dest else 0)


def read_forward_entries(reader: Reader, start: int, count: int, stride: int, encoding: str,
                         forward_class: type[Any]) -> tuple[Any, ...]:
    entries = []
    for index in range(count):
        base = start + index * stride
        entries.append(forward_class(
            forward_mode=reader.dword(base + field_offset(LINEFORWARD, "dwForwardMode")),
            caller_address=reader.string(base + field_offset(LINEFORWARD, "dwCallerAddressSize"), encoding,
                                         f"ForwardList[{index}].CallerAddress"),
            dest_country_code=reader.dword(base + field_offset(LINEFORWARD, "dwDestCountryCode")),
            dest_address=reader.string(base + field_offset(LINEFORWARD, "dwDestAddressSize"), encoding,
                                       f"ForwardList[{index}].DestAddress"),
        ))
    return tuple(entries)


# --- value field <-> C field ---------------------------------------------------------------------------


def _key(name: str) -> str:
    return name.replace("_", "").lower()


@dataclass(frozen=True, slots=True)
class FieldMap:
    """How one value class maps onto one structure: scalar DWORDs and variable items, in C order."""

    scalars: tuple[tuple[str, str], ...]        # (value attribute, C DWORD field)
    items: tuple[tuple[str, str, str], ...]     # (value attribute, "dwXxxSize" field, "str" or "bytes")
    special: tuple[tuple[str, str], ...]        # (value attribute, C field) handled by the codec itself


def field_map(value_class: type[Any], struct_class: type[ctypes.Structure],
              special: Mapping[str, str] | None = None) -> FieldMap:
    """Pair every field of ``value_class`` with a field of ``struct_class``; ``KeyError`` if one has none.

    ``str``/``bytes`` fields become variable items (``caller_id`` -> ``dwCallerIDSize``/``Offset``), ``int``
    fields DWORDs (``num_rings_no_answer`` -> ``dwNumRingsNoAnswer``); ``special`` ones are left to the codec.
    """
    special = dict(special or {})
    c_fields = [name for name, *_ in struct_class._fields_]
    scalars, items = [], []
    for field in dataclasses.fields(value_class):
        if field.name in special:
            continue
        key = _key(field.name)
        if field.type in ("str", "bytes"):
            size_field = next((c for c in c_fields if c.startswith("dw") and c.endswith("Size")
                               and _key(c[2:-4]) == key and f"dw{c[2:-4]}Offset" in c_fields), None)
            if size_field is None:
                raise KeyError(f"{value_class.__name__}.{field.name}: no Size/Offset in {struct_class}")
            items.append((field.name, size_field, str(field.type)))
        else:
            scalar = next((c for c in c_fields if c.startswith("dw") and _key(c[2:]) == key), None)
            if scalar is None:
                raise KeyError(f"{value_class.__name__}.{field.name}: no DWORD in {struct_class.__name__}")
            scalars.append((field.name, scalar))
    items.sort(key=lambda item: c_fields.index(item[1]))
    return FieldMap(tuple(scalars), tuple(items), tuple(special.items()))
