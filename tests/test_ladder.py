"""The ladder SVG: well-formed, one lifeline per actor, pairs replies, flags failures, escapes PBX text."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from conformance._recorder import Kind, Record, records_from_jsonable
from conformance.report._ladder import ROW_H, folded_ranges, render_ladder, render_log_html
from simulator._constants import LineCallState, LineMsg
from simulator._messages import LineMessage

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> O\'Brien & "Co"'


def make(kind: Kind, actor: str = "app", text: str = "", **kw: object) -> dict[str, object]:
    return {"kind": kind, "actor": actor, "text": text, **kw}


def records(*specs: dict[str, object]) -> list[Record]:
    out = []
    for seq, spec in enumerate(specs, start=1):
        fields = {"function": "", **spec}
        out.append(Record(seq=seq, time=seq * 0.5, **fields))  # type: ignore[arg-type]
    return out


def reply(rid: int) -> LineMessage:
    return LineMessage(device=1, msg=LineMsg.REPLY, param1=rid, new_call=0x20001)


def scenario() -> list[Record]:
    callstate = LineMessage(device=0x20001, msg=LineMsg.CALLSTATE, param1=LineCallState.CONNECTED)
    return records(
        make("request", function="lineMakeCall", text="lineMakeCall(h_line=0x00010001, dest='0017')",
             args=(("h_line", "0x00010001"), ("dest", "'0017'"))),
        make("return", function="lineMakeCall", text="lineMakeCall -> req 7", request_id=7),
        make("request", function="lineDrop", text="lineDrop(h_call=0x1)"),
        make("error", function="lineDrop", text="lineDrop failed: LINEERR_INVALCALLSTATE"),
        make("party", "remote_office", "remote_office: answer", function="answer"),
        make("party", "target", f"target: observe -> alerting, presented={EVIL!r}", function="observe"),
        make("message", text=reply(7).describe(), request_id=7, message=reply(7), function="lineGetMessage"),
        make("message", text=callstate.describe(), message=callstate, function="lineGetMessage"),
        make("timeout", "caller", "caller: not connected within 30s", function="wait_for"),
        make("note", "suite", f"called {EVIL}"),
        make("note", "suite", "target saw the wrong number", failed=True),
    )


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def rows(root: ET.Element) -> dict[int, ET.Element]:
    return {int(g.get("data-seq", "0")): g for g in root.iter(f"{SVG}g") if g.get("data-seq")}


def texts(elem: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in elem.iter(f"{SVG}text")]


FIXED_ORDER = ["app", "provider", "desk", "remote_office", "target", "caller", "trunks"]


def test_parses_and_draws_every_lifeline_in_the_fixed_order() -> None:
    root = parse(render_ladder(scenario(), title="RO-OUT-01"))
    assert root.tag == f"{SVG}svg"
    lifelines = [g.get("data-actor") for g in root.iter(f"{SVG}g") if g.get("class") == "lifeline"]
    assert lifelines == FIXED_ORDER
    heads = [texts(g)[0] for g in root.iter(f"{SVG}g") if g.get("class") == "lifeline"]
    assert heads[3] == "RO phone"
    assert len(rows(root)) == len(scenario())


def test_lifelines_stand_in_the_same_place_whichever_actors_occur() -> None:
    def columns(records: list[Any]) -> dict[str, str]:
        root = parse(render_ladder(records))
        return {str(g.get("data-actor")): str(next(g.iter(f"{SVG}line")).get("x1"))
                for g in root.iter(f"{SVG}g") if g.get("class") == "lifeline"}

    assert columns(scenario()[:4]) == columns(scenario())


def colour_of(row: ET.Element) -> str:
    (line,) = [e for e in row.iter(f"{SVG}line")]
    return line.get("stroke", "")


def test_request_and_reply_share_colour_connector_and_id() -> None:
    root = parse(render_ladder(scenario()))
    by_seq = rows(root)
    request, ret, reply_row = by_seq[1], by_seq[2], by_seq[7]
    assert colour_of(request) == colour_of(ret) == colour_of(reply_row) != colour_of(by_seq[3])
    assert "[req 7]" in texts(request)[1]
    assert "req 7" in texts(ret)[1]
    assert "req=7" in texts(reply_row)[1]
    (pair,) = [p for p in root.iter(f"{SVG}path") if p.get("class") == "pair"]
    assert pair.get("stroke") == colour_of(request)


def test_unanswered_request_gets_no_connector() -> None:
    root = parse(render_ladder(scenario()[:2]))
    assert not [p for p in root.iter(f"{SVG}path") if p.get("class") == "pair"]


def test_failed_records_and_failed_seq_are_highlighted() -> None:
    root = parse(render_ladder(scenario(), failed_seq=6))
    by_seq = rows(root)
    failed = {seq for seq, g in by_seq.items() if "failed" in g.get("class", "").split()}
    assert failed == {6, 11}
    assert colour_of(by_seq[6]) == "#d62728"
    assert "#fde2e2" in {r.get("fill") for r in by_seq[11].iter(f"{SVG}rect")}


def test_pbx_strings_are_escaped() -> None:
    svg = render_ladder(scenario(), title=EVIL)
    assert "<script" not in svg
    assert 'alert("x")' not in svg
    root = parse(svg)
    everything = " ".join("".join(e.itertext()) for e in root.iter())
    assert '<script>alert("x")</script>' in everything     # shown as text, intact
    html = render_log_html(scenario())
    assert "<script" not in html and html.startswith('<pre class="tapi-raw-log">')
    assert "&lt;script&gt;alert(&quot;x&quot;)" in html


def test_control_characters_do_not_break_the_xml() -> None:
    recs = records(make("note", "suite", "bell\x07 and nul\x00 from the PBX"))
    parse(render_ladder(recs, title="\x1b[31m"))


def test_output_is_deterministic() -> None:
    first = render_ladder(scenario(), title="t", failed_seq=3)
    assert render_ladder(scenario(), title="t", failed_seq=3) == first
    again = records_from_jsonable(r.to_jsonable() for r in scenario())
    assert render_ladder(again, title="t", failed_seq=3) == first


@pytest.mark.parametrize("count", [0, 600])
def test_long_logs_stay_compact(count: int) -> None:
    specs = [make("request", function="lineDrop", text="lineDrop(h_call=0x1)", args=(("h_call", "0x1"),))
             for _ in range(count)]
    svg = render_ladder(records(*specs))
    root = parse(svg)
    height = float(root.get("height", "0"))
    assert height <= 80 + max(1, count) * ROW_H
    assert len(svg) < 3000 + 500 * count   # the seven lifelines and shared defs, then each row


# ----- the record a verdict judged, whatever its kind -------------------------------------------------

def judged_scenario() -> list[Record]:
    """One record of every kind a verdict can cite (conformance._evidence), then the verdict's note."""
    addr = LineMessage(device=0x10001, msg=LineMsg.ADDRESSSTATE, param1=0, param2=0x1)
    busy = LineMessage(device=0x20001, msg=LineMsg.CALLSTATE, param1=LineCallState.BUSY, param2=0x2)
    return records(
        make("request", function="lineGetAddressStatus", text="lineGetAddressStatus(h_line=0x00010001)"),
        make("return", function="lineGetAddressStatus", text="lineGetAddressStatus -> LineAddressStatus(forward=())"),
        make("request", function="lineSetCallPrivilege", text="lineSetCallPrivilege(h_call=0x20001)"),
        make("error", function="lineSetCallPrivilege", text="lineSetCallPrivilege failed: LINEERR_NOTOWNER",
             result="LINEERR_NOTOWNER"),
        make("message", text=addr.describe(), message=addr, function="lineGetMessage"),
        make("party", "target", "target: observe -> alerting, presented='0711'", function="observe"),
        make("timeout", "remote_office", "remote_office: not connected within 30s", function="wait_for"),
        make("request", function="lineForward", text="lineForward(h_line=0x00010001)"),
        make("return", function="lineForward", text="lineForward -> req 9", request_id=9),
        make("message", text=reply(7).describe(), request_id=7, message=reply(7), function="lineGetMessage"),
        make("message", text=busy.describe(), message=busy, function="lineGetMessage"),
        make("note", "suite", "the verdict"),
    )


JUDGED = {2: "value", 4: "error", 5: "message", 6: "party", 7: "party_timeout", 9: "no_reply", 10: "reply",
          11: "callstate"}


@pytest.mark.parametrize(("seq", "kind"), sorted(JUDGED.items()))
def test_every_kind_of_judged_record_is_highlighted(seq: int, kind: str) -> None:
    """A synchronous return value, a sync LINEERR, a LINE_ADDRESSSTATE, a party observation, a party wait
    that ran out, the request whose reply never came, a LINE_REPLY, a LINE_CALLSTATE: the row the verdict
    cites gets the red band, class ``judged``, its kind and a tooltip saying so; no other row does."""
    root = parse(render_ladder(judged_scenario(), failed_seq=seq, judged={seq: kind}))
    by_seq = rows(root)
    marked = {s for s, g in by_seq.items() if "judged" in g.get("class", "").split()}
    assert marked == {seq}
    row = by_seq[seq]
    assert row.get("data-judged") == kind and "failed" in row.get("class", "").split()
    assert "#fde2e2" in {r.get("fill") for r in row.iter(f"{SVG}rect")}          # the red band
    (title,) = [t for t in row.iter(f"{SVG}title")]
    assert (title.text or "").startswith(f"judged by the verdict ({kind}): t=")
    assert "judged" not in by_seq[12].get("class", "")                            # not the note written after


def test_judged_kinds_reads_results_json() -> None:
    from conformance.report._ladder import judged_kinds

    cites: list[dict[str, Any]] = [{"seq": 9, "kind": "no_reply"}, {"seq": 9, "kind": "flag"},
                                   {"seq": None, "kind": "claim"}, {"seq": 4, "kind": "error"}]
    assert judged_kinds(cites) == {9: "no_reply flag", 4: "error"}


def test_a_judged_record_in_the_set_up_is_not_folded_away() -> None:
    """RO-CAPS-01 judges LINEADDRESSCAPS read during the set-up: the set-up is drawn in full then."""
    recs = records(make("request", function="lineGetAddressCaps", text="lineGetAddressCaps(device_id=0)"),
                   make("return", function="lineGetAddressCaps", text="lineGetAddressCaps -> LineAddressCaps()"),
                   make("note", "suite", "step: test"), make("note", "suite", "the verdict"))
    assert [start for start, _, _ in folded_ranges(recs)] == [0]
    assert folded_ranges(recs, judged={2: "flag"}) == []
    root = parse(render_ladder(recs, failed_seq=2, judged={2: "flag"}))
    assert rows(root)[2].get("data-judged") == "flag"
