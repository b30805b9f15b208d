"""The tapi32 ctypes layouts against the real header, and the buffer codec against docs/tapi.md §6.

Layouts: every structure's size, every (nested) field's offset and size, and every FIXED_SIZES boundary
are compiled as ``_Static_assert``s by the mingw-w64 cross compilers, for x86-64 (``layouts(8)``) and for
32-bit x86 (``layouts(4)``), so a wrong field anywhere names itself in the failure.
"""

from __future__ import annotations

import ctypes
import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from header_tools import Arch, static_assert_failures

from conformance.backends.tapi32 import _structs as S
from conformance.backends.tapi32._codec import (
    _OUTPUTS,
    STRUCTURETOOSMALL,
    build_call_params,
    build_forward_list,
    message_from_struct,
    message_to_struct,
    pack_message,
    parse_call_params,
    parse_forward_list,
    read_struct,
    unpack_message,
    write_struct,
)
from simulator._constants import ApiVersion, LineErr, LineMsg
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

VERSIONS = list(ApiVersion)
ARCHES: list[tuple[Arch, int]] = [("x86_64", 8), ("i686", 4)]

# --- layouts against the header ---------------------------------------------------------------------------


def _walk(cls: Any, path: str, base: int) -> Iterator[tuple[str, int, int]]:
    """(C member designator, offset, size) of every member, recursing into structs, unions and arrays."""
    for name, ctype, *_ in cls._fields_:
        field = getattr(cls, name)
        member = f"{path}.{name}" if path else name
        yield member, base + field.offset, field.size
        if issubclass(ctype, ctypes.Array):
            element = ctype._type_
            yield f"{member}[0]", base + field.offset, ctypes.sizeof(element)
            if issubclass(element, ctypes.Structure | ctypes.Union):
                yield from _walk(element, f"{member}[0]", base + field.offset)
        elif issubclass(ctype, ctypes.Structure | ctypes.Union):
            yield from _walk(ctype, member, base + field.offset)


def _layout_asserts(layout: S.Layouts) -> list[str]:
    lines = []
    for name in S.STRUCT_NAMES:
        cls = layout.by_name(name)
        lines.append(f'_Static_assert(sizeof({name}) == {ctypes.sizeof(cls)}, "sizeof({name})");')
        for member, offset, size in _walk(cls, "", 0):
            lines.append(f'_Static_assert(offsetof({name}, {member}) == {offset}, "offsetof({name}, {member})");')
            lines.append(f'_Static_assert(sizeof((({name} *)0)->{member}) == {size}, "sizeof({name}.{member})");')
    return lines


def test_layout_covers_every_struct_and_field() -> None:
    lines = set(_layout_asserts(S.layouts(8)))
    for name in S.STRUCT_NAMES:
        cls = S.layouts(8).by_name(name)
        for field, *_ in cls._fields_:
            offset = getattr(cls, field).offset
            assert f'_Static_assert(offsetof({name}, {field}) == {offset}, "offsetof({name}, {field})");' in lines
    assert any("offsetof(LINECALLINFO, dwCallerIDOffset) == 116" in line for line in lines)
    assert any("offsetof(LINEINITIALIZEEXPARAMS, Handles.hEvent) == 16" in line for line in lines)
    assert any("offsetof(LINEDEVCAPS, ProtocolGuid.Data4[0]) == 280" in line for line in lines)
    assert any("offsetof(LINEDEVSTATUS, dwDevStatusFlags) == 56" in line for line in lines)
    assert any("offsetof(LINEDEVSTATUS, dwAvailableMediaModes) == 76" in line for line in lines)
    assert any("sizeof(LINEDEVSTATUS) == 88" in line for line in lines)


@pytest.mark.parametrize(("arch", "pointer_size"), ARCHES)
def test_layouts_match_header(arch: Arch, pointer_size: int) -> None:
    assert static_assert_failures(arch, _layout_asserts(S.layouts(pointer_size))) == []


@pytest.mark.parametrize(("arch", "pointer_size"), ARCHES)
def test_layout_check_can_fail(arch: Arch, pointer_size: int) -> None:
    """The i686 header must reject the x64 LINEMESSAGE (and vice versa): the check really distinguishes them."""
    other = S.layouts(12 - pointer_size)
    lines = [line for line in _layout_asserts(other) if "LINEMESSAGE, dwParam1)" in line]
    assert static_assert_failures(arch, lines) == ["offsetof(LINEMESSAGE, dwParam1)"]


def _boundary_asserts() -> list[str]:
    lines = []
    for name, sizes in S.FIXED_SIZES.items():
        cls = S.layouts(8).by_name(name)
        starts = {getattr(cls, f).offset: f for f, *_ in cls._fields_}
        for version, size in sizes.items():
            label = f"FIXED_SIZES[{name}][{version:#x}] = {size}"
            if size == ctypes.sizeof(cls):
                lines.append(f'_Static_assert(sizeof({name}) == {size}, "{label}");')
            else:
                assert size in starts, f"{label} is not a field boundary"
                lines.append(f'_Static_assert(offsetof({name}, {starts[size]}) == {size}, "{label}");')
    return lines


@pytest.mark.parametrize(("arch", "pointer_size"), ARCHES)
def test_fixed_sizes_are_header_field_boundaries(arch: Arch, pointer_size: int) -> None:
    assert static_assert_failures(arch, _boundary_asserts()) == []


def test_fixed_sizes_table() -> None:
    """The numbers of docs/tapi.md §6.2, per negotiated version, and that sizes never shrink."""
    expected = {
        "LINEDEVCAPS": (236, 240, 252, 252, 268, 292, 292),
        "LINECALLINFO": (296, 296, 324, 324, 324, 344, 344),
        "LINEADDRESSCAPS": (176, 180, 228, 228, 228, 228, 228),
        "LINECALLSTATUS": (36, 36, 56, 56, 56, 56, 56),
        "LINECALLPARAMS": (112, 112, 176, 176, 176, 180, 180),
        "LINEFORWARD": (24, 24, 24, 24, 24, 24, 32),
        "LINEADDRESSSTATUS": (64,) * 7,
        "LINEDEVSTATUS": (76, 76, 88, 88, 88, 88, 88),
    }
    for name, sizes in expected.items():
        assert tuple(S.FIXED_SIZES[name][v] for v in VERSIONS) == sizes, name
    for name, table in S.FIXED_SIZES.items():
        assert list(table) == [int(v) for v in VERSIONS], name
        assert list(table.values()) == sorted(table.values()), name
    assert S.fixed_size("LINEDEVCAPS", 0x00020003) == 268      # unknown minor -> highest known below
    with pytest.raises(ValueError):
        S.fixed_size("LINEDEVCAPS", 0x00010002)


def test_native_names_are_the_native_layout() -> None:
    native = S.layouts(S.NATIVE_POINTER_SIZE)
    for name in S.STRUCT_NAMES:
        assert getattr(S, name) is native.by_name(name)
        assert getattr(S, name)._pack_ == 1
    assert S.LINEDEVCAPS.MinDialParams.size == ctypes.sizeof(S.LINEDIALPARAMS)
    assert ctypes.sizeof(S.layouts(8).LINEMESSAGE) == 40 and ctypes.sizeof(S.layouts(4).LINEMESSAGE) == 24
    with pytest.raises(ValueError):
        S.layouts(2)


# --- sample values ----------------------------------------------------------------------------------------


def _sample(cls: type[Any], seed: int = 0) -> Any:
    """A value of ``cls`` with every field set to something distinct and non-default."""
    kwargs: dict[str, Any] = {}
    for index, field in enumerate(dataclasses.fields(cls)):
        n = seed * 100 + index + 1
        if field.type == "int":
            kwargs[field.name] = 0x100 * n + 7
        elif field.type == "str":
            kwargs[field.name] = f"{field.name}-ü{n}"          # non-ASCII on purpose
        elif field.type == "bytes":
            kwargs[field.name] = bytes(range(n % 7 + 3))       # odd lengths happen
        elif field.type == "float":
            kwargs[field.name] = 1_700_000_000.25
        elif field.name == "forward":
            kwargs[field.name] = (
                LineForward(forward_mode=0x1, dest_address="0171 555"),
                LineForward(forward_mode=0x20, caller_address="4711", dest_address="+49 89 1", dest_country_code=49),
                LineForward(forward_mode=0x2),                # do-not-disturb: no destination
            )
    return cls(**kwargs)


OUTPUT_CLASSES = [LineDevCaps, LineAddressCaps, LineAddressStatus, LineCallInfo, LineCallStatus, LineDevStatus]


def _known_by(value: Any, api_version: int) -> Any:
    """``value`` with what ``api_version``'s fixed part cannot carry reset to zero/empty."""
    name, cls, fmap = _OUTPUTS[type(value)]
    fixed = S.fixed_size(name, api_version)
    gone: dict[str, Any] = {}
    for attr, c_field in fmap.scalars:
        if getattr(cls, c_field).offset + 4 > fixed:
            gone[attr] = 0
    for attr, size_field, kind in fmap.items:
        if getattr(cls, size_field).offset + 8 > fixed:
            gone[attr] = "" if kind == "str" else b""
    if isinstance(value, LineCallStatus) and S.LINECALLSTATUS.tStateEntryTime.offset >= fixed:
        gone["state_entry_time"] = 0.0
    return dataclasses.replace(value, **gone)


def _dw(buf: bytes | bytearray, offset: int) -> int:
    return int.from_bytes(buf[offset:offset + 4], "little")


# --- write_struct / read_struct ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.tapi_name)
@pytest.mark.parametrize("cls", OUTPUT_CLASSES, ids=lambda c: c.__name__)
def test_write_read_round_trip(cls: type[Any], version: ApiVersion) -> None:
    value = _sample(cls)
    buf = bytearray(4096)
    assert write_struct(value, buf, 4096, version) == 0
    assert _dw(buf, 0) == 4096 and _dw(buf, 4) == _dw(buf, 8)            # everything fitted
    expected = _known_by(value, version)
    assert read_struct(cls, bytes(buf), api_version=version) == expected
    assert read_struct(cls, bytes(buf)) == expected                       # fixed part inferred


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.tapi_name)
@pytest.mark.parametrize("cls", OUTPUT_CLASSES, ids=lambda c: c.__name__)
def test_structure_too_small_below_fixed_part(cls: type[Any], version: ApiVersion) -> None:
    value = _sample(cls)
    fixed = S.fixed_size(_OUTPUTS[cls][0], version)
    buf = bytearray(b"\xAA" * 1024)
    assert write_struct(value, buf, fixed - 1, version) == STRUCTURETOOSMALL
    assert getattr(LineErr, "from_result")(STRUCTURETOOSMALL) is LineErr.STRUCTURETOOSMALL  # noqa: B009
    assert STRUCTURETOOSMALL == -2147483571
    assert buf == b"\xAA" * 1024                                          # nothing written
    assert write_struct(value, buf, fixed, version) == 0
    assert (_dw(buf, 0), _dw(buf, 8)) == (fixed, fixed)
    assert _dw(buf, 4) > fixed                                            # needed: the full image


def _item_pairs(cls: type[ctypes.Structure], fixed: int) -> list[tuple[str, int]]:
    names = {f for f, *_ in cls._fields_}
    return [(f, getattr(cls, f).offset) for f in names
            if f.endswith("Size") and f"{f[:-4]}Offset" in names and getattr(cls, f).offset + 8 <= fixed]


@pytest.mark.parametrize("version", [ApiVersion.V1_3, ApiVersion.V2_2, ApiVersion.V3_1], ids=lambda v: v.tapi_name)
@pytest.mark.parametrize("cls", OUTPUT_CLASSES, ids=lambda c: c.__name__)
def test_truncation_never_half_an_item(cls: type[Any], version: ApiVersion) -> None:
    """For every dwTotalSize from the fixed part up to past the needed size (docs/tapi.md §6.1 rule 4)."""
    value = _sample(cls, seed=3)
    name, c_cls, _ = _OUTPUTS[cls]
    fixed = S.fixed_size(name, version)
    full = bytearray(4096)
    write_struct(value, full, 4096, version)
    needed = _dw(full, 4)
    complete = read_struct(cls, bytes(full), api_version=version)
    for total in range(fixed, needed + 5):
        buf = bytearray(b"\xAA" * (total + 8))
        assert write_struct(value, buf, total, version) == 0
        used = _dw(buf, 8)
        assert (_dw(buf, 0), _dw(buf, 4)) == (total, needed)
        assert fixed <= used <= min(total, needed)
        assert buf[used:] == b"\xAA" * (len(buf) - used), "wrote past dwUsedSize"
        for pair, pos in _item_pairs(c_cls, fixed):
            size, offset = _dw(buf, pos), _dw(buf, pos + 4)
            if size == 0:
                assert offset == 0, f"{pair}: Size 0 but Offset {offset}"
            else:
                assert fixed <= offset and offset + size <= used, f"{pair} out of bounds at total {total}"
        partial = read_struct(cls, bytes(buf[:used]), api_version=version)
        for field in dataclasses.fields(cls):
            got, want = getattr(partial, field.name), getattr(complete, field.name)
            if field.name == "forward":
                # The entry array fits or is absent; an entry's strings are each whole or absent.
                assert got == () or [(f.forward_mode, f.dest_country_code) for f in got] == [
                    (f.forward_mode, f.dest_country_code) for f in want]
                for got_entry, want_entry in zip(got, want, strict=False):
                    assert got_entry.dest_address in ("", want_entry.dest_address)
                    assert got_entry.caller_address in ("", want_entry.caller_address)
            elif isinstance(want, str | bytes):
                assert got in (want, type(want)()), f"{field.name} cut in half at total {total}"
            else:
                assert got == want
        if total >= needed:
            assert partial == complete and used == needed


def test_write_struct_to_an_address_and_size_checks() -> None:
    value = _sample(LineCallInfo)
    raw = ctypes.create_string_buffer(2048)
    assert write_struct(value, ctypes.addressof(raw), 2048, ApiVersion.V2_2) == 0
    assert read_struct(LineCallInfo, raw.raw, api_version=ApiVersion.V2_2) == _known_by(value, ApiVersion.V2_2)
    with pytest.raises(ValueError, match="smaller than dwTotalSize"):
        write_struct(value, bytearray(100), 400, ApiVersion.V2_2)


def test_strings_are_utf16_with_nul_and_ansi_on_request() -> None:
    buf = bytearray(1024)
    write_struct(LineAddressCaps(address="201"), buf, 1024, ApiVersion.V2_2)
    size, offset = _dw(buf, 16), _dw(buf, 20)
    assert (size, offset) == (8, 228)
    assert buf[offset:offset + size] == "201\0".encode("utf-16-le")
    write_struct(LineAddressCaps(address="201"), buf, 1024, ApiVersion.V2_2, encoding="cp1252")
    assert buf[_dw(buf, 20):_dw(buf, 20) + _dw(buf, 16)] == b"201\0"
    assert read_struct(LineAddressCaps, bytes(buf), encoding="cp1252").address == "201"


def test_read_struct_is_lenient_with_sloppy_providers() -> None:
    buf = bytearray(1024)
    write_struct(LineCallInfo(caller_id="123", called_id="456"), buf, 1024, ApiVersion.V2_0)
    caller = S.LINECALLINFO.dwCallerIDSize.offset
    called = S.LINECALLINFO.dwCalledIDSize.offset
    buf[caller:caller + 4] = (6).to_bytes(4, "little")          # no NUL counted
    buf[called + 4:called + 8] = (5000).to_bytes(4, "little")   # offset beyond the buffer
    info = read_struct(LineCallInfo, bytes(buf), api_version=ApiVersion.V2_0)
    assert (info.caller_id, info.called_id) == ("123", "")
    with pytest.raises(ValueError):
        read_struct(LineCallInfo, bytes(100))


def test_address_status_forward_entries_and_stride() -> None:
    value = _sample(LineAddressStatus)
    for version, stride in ((ApiVersion.V2_2, 24), (ApiVersion.V3_1, 32)):
        buf = bytearray(1024)
        write_struct(value, buf, 1024, version)
        count, size, offset = _dw(buf, 36), _dw(buf, 40), _dw(buf, 44)
        assert (count, size, offset) == (3, 3 * stride, 64)
        dest_size, dest_offset = _dw(buf, offset + 16), _dw(buf, offset + 20)  # relative to LINEADDRESSSTATUS
        assert buf[dest_offset:dest_offset + dest_size].decode("utf-16-le") == "0171 555\0"
        # The reader derives the stride from the sizes, whatever version it is told.
        assert read_struct(LineAddressStatus, bytes(buf), api_version=ApiVersion.V2_0).forward == value.forward


# --- LINEFORWARDLIST --------------------------------------------------------------------------------------


def test_forward_list_matches_reference_example() -> None:
    """docs/tapi.md §6.3: one UNCOND entry, W variant, API 2.x."""
    dest = "0171234\0".encode("utf-16-le")
    raw = build_forward_list([LineForward(forward_mode=1, dest_address="0171234")], ApiVersion.V2_2)
    assert raw == (b"".join(n.to_bytes(4, "little") for n in (8 + 24 + len(dest), 1, 1, 0, 0, 0, len(dest), 32))
                   + dest)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.tapi_name)
def test_forward_list_round_trip(version: ApiVersion) -> None:
    entries = _sample(LineAddressStatus).forward
    raw = build_forward_list(entries, version)
    stride = 32 if version >= ApiVersion.V3_1 else 24
    assert _dw(raw, 0) == len(raw) and _dw(raw, 4) == 3
    first_string = _dw(raw, 8 + 20)
    assert first_string == 8 + 3 * stride                        # offsets from the LINEFORWARDLIST start
    assert parse_forward_list(raw, version) == entries
    if version >= ApiVersion.V3_1:
        assert (_dw(raw, 8 + 24), _dw(raw, 8 + 28)) == (0, 1)    # LINEADDRESSTYPE_PHONENUMBER for the dest
    assert parse_forward_list(build_forward_list((), version), version) == ()


def test_parse_forward_list_rejects_bad_input() -> None:
    raw = bytearray(build_forward_list(_sample(LineAddressStatus).forward, ApiVersion.V2_2))
    with pytest.raises(ValueError, match="dwTotalSize"):
        parse_forward_list(bytes(raw[:-2]), ApiVersion.V2_2)    # dwTotalSize beyond the buffer
    dnd = build_forward_list([LineForward(forward_mode=2)] * 3, ApiVersion.V2_2)
    with pytest.raises(ValueError, match="do not fit"):
        parse_forward_list(dnd, ApiVersion.V3_1)                 # 32-byte entries overrun a 2.x list
    bad = bytearray(raw)
    bad[8 + 20:8 + 24] = (len(raw) - 2).to_bytes(4, "little")   # dest string overruns dwTotalSize
    with pytest.raises(ValueError, match="DestAddress"):
        parse_forward_list(bytes(bad), ApiVersion.V2_2)
    with pytest.raises(ValueError):
        parse_forward_list(b"\0" * 4, ApiVersion.V2_2)


# --- LINECALLPARAMS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: v.tapi_name)
def test_call_params_round_trip(version: ApiVersion) -> None:
    params = _sample(LineCallParams)
    if version < ApiVersion.V2_0:
        with pytest.raises(ValueError, match="TargetAddress"):
            build_call_params(params, version)
        params = dataclasses.replace(params, target_address="")
    raw = build_call_params(params, version)
    fixed = S.FIXED_SIZES["LINECALLPARAMS"][version]
    assert _dw(raw, 0) == len(raw) > fixed
    assert parse_call_params(raw) == params
    assert parse_call_params(raw, api_version=version) == params
    assert len(build_call_params(LineCallParams(bearer_mode=1, media_mode=4, address_mode=1), version)) == fixed


def test_call_params_defaults_and_layout() -> None:
    raw = build_call_params(LineCallParams(orig_address="100", call_param_flags=0x8), ApiVersion.V2_2)
    c = S.LINECALLPARAMS.from_buffer_copy(raw[:ctypes.sizeof(S.LINECALLPARAMS)].ljust(180, b"\0"))
    # VOICE, INTERACTIVEVOICE, ADDRESSID stand in for the zeros; the flags are kept.
    assert (c.dwBearerMode, c.dwMediaMode, c.dwAddressMode, c.dwCallParamFlags) == (0x1, 0x4, 0x1, 0x8)
    assert (c.dwOrigAddressSize, c.dwOrigAddressOffset) == (8, 176)
    assert raw[176:184] == "100\0".encode("utf-16-le")


def test_parse_call_params_rejects_bad_input() -> None:
    raw = bytearray(build_call_params(LineCallParams(comment="hello", bearer_mode=1), ApiVersion.V2_0))
    with pytest.raises(ValueError, match="dwTotalSize"):
        parse_call_params(bytes(raw[:100]))
    bad = bytearray(raw)
    bad[76:80] = (len(raw) - 4).to_bytes(4, "little")           # dwCommentOffset: string overruns
    with pytest.raises(ValueError, match="Comment"):
        parse_call_params(bytes(bad), api_version=ApiVersion.V2_0)
    bad[76:80] = (20).to_bytes(4, "little")                     # inside the fixed part
    with pytest.raises(ValueError):
        parse_call_params(bytes(bad), api_version=ApiVersion.V2_0)


# --- LINEMESSAGE ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pointer_size", [4, 8])
def test_message_round_trip(pointer_size: int) -> None:
    message = LineMessage(device=0x10001, msg=LineMsg.CALLSTATE, instance=0xCAFE, param1=0x100, param2=2, param3=4)
    raw = pack_message(message, pointer_size)
    assert len(raw) == {4: 24, 8: 40}[pointer_size]
    assert unpack_message(raw, pointer_size) == message
    assert message_from_struct(message_to_struct(message, pointer_size)) == message


def test_line_reply_result_sign_extended_on_x64() -> None:
    c = S.layouts(8).LINEMESSAGE(hDevice=0, dwMessageID=int(LineMsg.REPLY), dwParam1=7,
                                 dwParam2=0xFFFFFFFF8000001C)
    message = message_from_struct(c)
    assert (message.request_id, message.param2, message.result) == (7, 0x8000001C, -2147483620)
    assert message.error is LineErr.INVALCALLSTATE
    negative = LineMessage(device=0, msg=LineMsg.REPLY, param1=7, param2=-2147483620)
    assert unpack_message(pack_message(negative, 4), 4).error is LineErr.INVALCALLSTATE
    assert message_to_struct(negative, 8).dwParam2 == 0x8000001C


def test_message_unknown_id_and_wide_params() -> None:
    c = S.layouts(8).LINEMESSAGE(hDevice=1, dwMessageID=14, dwParam1=(1 << 40) | 5)
    message = message_from_struct(c)
    assert int(message.msg) == 14 and message.param1 == 5
    assert "MSG 14" in message.describe()
