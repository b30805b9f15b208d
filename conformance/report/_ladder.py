"""Draw a recorder log as a ladder (sequence) diagram: one standalone SVG string, no script, no CSS.

One row per record, 18 px high, virtual time on the left. Lifelines, left to right, the same in every
diagram so that ladders compare at a glance: app, provider, desk phone, RO phone, target, caller, trunks,
then any other role by name.

Set-up (everything before the suite's ``step: test`` note: lineInitializeEx, lineOpen, the pre-condition)
and clean-up (from ``step: clean up`` on: the harness putting the PBX back) are not the test. Each is
folded into one grey row that counts its calls and error returns -- results.json (and the raw log of a
test that did not pass) has them line by line -- so a passing test's clean-up errors (a lineDrop on a
call the PBX already dropped) do not look like findings, and the fifteen ladders of a report stay
small. A range holding a failed record is drawn in full (in grey for clean-up); a failed record stays
red wherever it is.

* request: app -> provider, solid; return / error: provider -> app, dashed (an error in orange).
* message: provider -> app, labelled with ``LineMessage.describe()``.
* party: the role's action goes role -> provider; what it observes comes back provider -> role.
* timeout, note: a box across the diagram.

An async request, its return (``-> req N``) and the LINE_REPLY with that id share one colour and a
thin connector left of the app lifeline. Failed records and ``failed_seq`` get a red band. The records a
verdict cites (``judged``: results.json ``tests[].judged``, any kind -- a LINE_REPLY or LINE_CALLSTATE, a
returned structure or a synchronous LINEERR, a LINE_ADDRESSSTATE, what a party saw, the request whose
reply or event never came) are marked ``judged`` with the kind (``data-judged``) and a tooltip naming it.

Every string that came from a record is XML-escaped: a PBX chooses caller names, and a report must
survive ``<script>``. The output depends on nothing but the records (no ids, no clock, no hashing), so
the same records always give the same bytes. A row whose label had to be cut to fit between its
lifelines carries its full text in a ``<title>`` (a browser tooltip); the raw log has every line in full.

Size matters (a report holds fifteen ladders): arrowheads are two shared markers, the time is written
only when it moves, and repeated styling sits in one ``<style>`` per diagram.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from conformance._recorder import Record, raw_log

__all__ = ["folded_ranges", "judged_kinds", "render_ladder", "render_log_html"]

ROW_H: Final = 18
_CHAR_W: Final = 6.6          # advance of an 11 px monospace glyph, to cut labels to their span
_TIME_W: Final = 66           # time column
_LEFT: Final = _TIME_W + 34   # x of the first lifeline; the gap holds the request/reply connectors
_GAP_TAPI: Final = 440        # app <-> provider carries most of the text
_GAP: Final = 160
_HEAD_H: Final = 30
_RIGHT: Final = 40

ACTORS: Final = ("app", "provider", "desk", "remote_office", "target", "caller", "trunks")
LABELS: Final = {"desk": "desk phone", "remote_office": "RO phone", "trunk": "trunks"}
_ALIASES: Final = {"trunk": "trunks"}
_TAPI_KINDS: Final = frozenset({"request", "return", "error", "message"})
_OBSERVE: Final = frozenset({"observe", "wait_for"})

# Pair colours; red is kept for failures, orange for errors.
_PALETTE: Final = ("#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f00", "#5b6770")
_INK: Final = "#222"
_ERR: Final = "#c2410c"
_FAIL: Final = "#d62728"
_XML_BAD: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _esc(text: str) -> str:
    """Escape for XML text and attributes; drop characters XML 1.0 cannot carry at all."""
    return html.escape(_XML_BAD.sub("\ufffd", text), quote=True)


def _cut(text: str, width: float) -> str:
    limit = max(4, int(width / _CHAR_W))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- layout -----------------------------------------------------------------------------------

def _actor(record: Record) -> str:
    return _ALIASES.get(record.actor, record.actor)


def _involved(record: Record) -> tuple[str, ...]:
    if record.kind == "note":
        return ()
    if record.actor == "app" and (record.kind in _TAPI_KINDS or record.kind == "timeout"):
        return ("app", "provider")
    return ("provider", _actor(record))


def _actors(records: Sequence[Record]) -> list[str]:
    used = {a for r in records for a in _involved(r)}
    return [*ACTORS, *sorted(used.difference(ACTORS))]


CLEANUP_NOTE: Final = "step: clean up"
_CLEANUP_INK: Final = "#5f6670"      # 5.9:1 on the band below: readable, clearly not a finding
_CLEANUP_BAND: Final = "#f3f4f6"


TEST_NOTE: Final = "step: test"


def _cleanup_start(records: Sequence[Record]) -> int:
    """Index of the first clean-up row (``len(records)`` when there is none)."""
    return next((i for i, r in enumerate(records) if r.kind == "note" and r.text == CLEANUP_NOTE), len(records))


@dataclass(frozen=True, slots=True)
class _Fold:
    start: int      # first record index folded
    end: int        # one past the last
    text: str


def _fold_text(what: str, recs: Sequence[Record]) -> str:
    calls = sum(1 for r in recs if r.kind == "request")
    errors = sum(1 for r in recs if r.kind == "error")
    parties = sum(1 for r in recs if r.kind == "party")
    parts = [f"{calls} TAPI call{'s' * (calls != 1)}"]
    if errors:
        parts.append(f"{errors} returned an error")
    if parties:
        parts.append(f"{parties} party step{'s' * (parties != 1)}")
    return f"{what}: {', '.join(parts)} -- every line in results.json"


def _folds(records: Sequence[Record], failed_seq: int | None, judged: Mapping[int, str] | None = None
           ) -> list[_Fold]:
    """The set-up and clean-up ranges to draw as one row each (none that holds a failed or judged record)."""
    judged = judged or {}

    def clean(a: int, b: int) -> bool:
        return b - a > 1 and not any(r.failed or r.seq == failed_seq or r.seq in judged for r in records[a:b])

    out = []
    test = next((i for i, r in enumerate(records) if r.kind == "note" and r.text == TEST_NOTE), None)
    if test is not None and clean(0, test):
        out.append(_Fold(0, test, _fold_text("set-up (not part of the verdict)", records[:test])))
    start = _cleanup_start(records)
    end = next((i for i in range(start, len(records))
                if records[i].failed or records[i].seq == failed_seq or records[i].seq in judged), len(records))
    if start < len(records) and clean(start, end):
        out.append(_Fold(start, end, _fold_text("clean-up (not part of the verdict)", records[start:end])))
    return out


def _fold_row(fold: _Fold, row: int, width: int) -> str:
    y = _HEAD_H + row * ROW_H
    x0 = _LEFT - 24
    w = width - x0 - 8
    return (f'<g class="row fold"><rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="{_CLEANUP_BAND}"/>'
            f'<rect x="{x0}" y="{y + 2}" width="{w}" height="{ROW_H - 4}" rx="3" fill="#e5e7eb" stroke="#9aa1a9"/>'
            + _text(x0 + 6, y + 13, _cut(fold.text, w - 12), "#374151") + "</g>")


def _columns(actors: Sequence[str]) -> dict[str, int]:
    xs: dict[str, int] = {}
    x = _LEFT
    for i, actor in enumerate(actors):
        if i:
            x += _GAP_TAPI if actors[i - 1] == "app" else _GAP
        xs[actor] = x
    return xs


@dataclass(frozen=True, slots=True)
class _Pairs:
    colour: dict[int, str]                      # seq -> colour of a paired record
    ids: dict[int, int]                         # seq of a paired request -> its request id
    links: list[tuple[int, int, str]]           # (first row, reply row, colour)


def _pairs(records: Sequence[Record]) -> _Pairs:
    """Match each async return (request id) to its request row before it and its LINE_REPLY after it."""
    colour: dict[int, str] = {}
    ids: dict[int, int] = {}
    links: list[tuple[int, int, str]] = []
    last_request: dict[str, int] = {}
    open_ids: dict[int, tuple[int, str]] = {}     # request id -> (row of request, colour)
    count = 0
    for row, rec in enumerate(records):
        if rec.kind == "request":
            last_request[rec.function] = row
        elif rec.kind == "return" and rec.request_id > 0:
            c = _PALETTE[count % len(_PALETTE)]
            count += 1
            start = last_request.get(rec.function, row)
            colour[records[start].seq] = colour[rec.seq] = c
            ids[records[start].seq] = rec.request_id
            open_ids[rec.request_id] = (start, c)
        elif rec.kind == "message" and rec.request_id > 0 and rec.request_id in open_ids:
            start, c = open_ids.pop(rec.request_id)
            colour[rec.seq] = c
            links.append((start, row, c))
    return _Pairs(colour, ids, links)


# --- drawing ----------------------------------------------------------------------------------

def _text(x: float, y: float, body: str, fill: str, extra: str = "") -> str:
    return f'<text x="{x:g}" y="{y:g}" fill="{fill}"{extra}>{_esc(body)}</text>'


def _arrow(x1: int, x2: int, y: int, colour: str, dashed: bool) -> str:
    dash = ' class="d"' if dashed else ""
    paint = "" if colour == _INK else f' stroke="{colour}" color="{colour}"'    # ink: from _STYLE
    return f'<line x1="{x1}" y1="{y}" x2="{x2}" y2="{y}"{paint}{dash}/>'


# One arrowhead marker, coloured like its line (context-stroke is not universal; currentColor is).
_DEFS: Final = ('<defs><marker id="h" viewBox="0 0 7 6" refX="7" refY="3" markerWidth="7" markerHeight="6" '
                'orient="auto-start-reverse" markerUnits="userSpaceOnUse"><path d="M0,0 L7,3 L0,6 z" '
                'fill="currentColor"/></marker></defs>')
# (CSS beats presentation attributes: the ink rule must not match the lines that carry their own colour)
_STYLE: Final = (f"<style>.row line{{marker-end:url(#h)}}.row line:not([stroke]){{stroke:{_INK};color:{_INK}}}"
                 ".row line.d{stroke-dasharray:5 3}.tm{fill:#595959;text-anchor:end}</style>")


def _ends(rec: Record, xs: dict[str, int]) -> tuple[int, int]:
    """(from x, to x) for an arrow row."""
    if rec.kind == "request":
        return xs["app"], xs["provider"]
    if rec.actor == "app":
        return xs["provider"], xs["app"]
    role = xs[_actor(rec)]
    observed = rec.kind == "party" and rec.function in _OBSERVE
    return (xs["provider"], role) if observed else (role, xs["provider"])


def _label(rec: Record, pairs: _Pairs) -> str:
    """The arrow's text, made shorter than the record's (the tooltip keeps the full one)."""
    if rec.kind == "request" and rec.args:
        shown = ", ".join(f"{k}={v}" for k, v in rec.args if v not in ("None", "0", "b''", "''"))
        rid = pairs.ids.get(rec.seq)
        return f"{rec.function}({shown})" + (f" [req {rid}]" if rid else "")
    return rec.text.replace("LINECALLSTATE_", "") if rec.kind == "message" else rec.text


def _arrow_row(rec: Record, y: int, xs: dict[str, int], pairs: _Pairs, colour: str) -> tuple[str, bool]:
    """(SVG of the row, whether its label was cut)."""
    x1, x2 = _ends(rec, xs)
    dashed = rec.kind in ("return", "error")
    left = min(x1, x2)
    full = _label(rec, pairs)
    shown = _cut(full, abs(x2 - x1) - 16)
    label = (f'<text x="{left + 8}" y="{y + 10}">{_esc(shown)}</text>' if colour == _INK
             else _text(left + 8, y + 10, shown, colour))
    return label + _arrow(x1, x2, y + 14, colour, dashed), shown != " ".join(full.split())


def _box_row(rec: Record, y: int, width: int, failed: bool, cleanup: bool = False) -> str:
    """A note or timeout box across the diagram (its text cut to the box; the raw log has it whole)."""
    if failed:
        fill, stroke, ink = "#fde2e2", _FAIL, "#8b1414"
    elif cleanup and rec.text == CLEANUP_NOTE:
        fill, stroke, ink = "#e5e7eb", "#9aa1a9", "#374151"
        rec_text = "clean-up: the harness puts the PBX back (not part of the verdict)"
        x0 = _LEFT - 24
        w = width - x0 - 8
        return (f'<rect x="{x0}" y="{y + 2}" width="{w}" height="{ROW_H - 4}" rx="3" fill="{fill}" '
                f'stroke="{stroke}"/>' + _text(x0 + 6, y + 13, _cut(rec_text, w - 12), ink))
    elif rec.kind == "timeout":
        fill, stroke, ink = "#fff4d6", "#d08a00", "#6b4500"
    else:
        fill, stroke, ink = "#f1f3f5", "#9aa1a9", "#333"
    x0 = _LEFT - 24
    w = width - x0 - 8
    return (f'<rect x="{x0}" y="{y + 2}" width="{w}" height="{ROW_H - 4}" rx="3" fill="{fill}" '
            f'stroke="{stroke}"/>' + _text(x0 + 6, y + 13, _cut(rec.text, w - 12), ink))


def _row(rec: Record, row: int, xs: dict[str, int], pairs: _Pairs, width: int, failed: bool,
         cleanup: bool = False, show_time: bool = True, judged: str = "") -> str:
    y = _HEAD_H + row * ROW_H
    failed = failed or bool(judged)
    css = (f"row {rec.kind}" + (" failed" if failed else "") + (" judged" if judged else "")
           + (" cleanup" if cleanup else ""))
    parts = []
    if failed:
        parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="#fde2e2"/>')
    elif cleanup:
        parts.append(f'<rect x="0" y="{y}" width="{width}" height="{ROW_H}" fill="{_CLEANUP_BAND}"/>')
    if failed:
        parts.append(_text(_TIME_W - 6, y + 13, f"{rec.time:.3f}s", _FAIL, ' text-anchor="end"'))
    elif show_time:
        parts.append(f'<text x="{_TIME_W - 6}" y="{y + 13}" class="tm">{rec.time:.3f}s</text>')
    cut = True
    if rec.kind in ("note", "timeout") or not _involved(rec):
        parts.append(_box_row(rec, y, width, failed, cleanup))
    else:
        colour = (_FAIL if failed else _CLEANUP_INK if cleanup else _ERR if rec.kind == "error"
                  else pairs.colour.get(rec.seq, _INK))
        drawn, cut = _arrow_row(rec, y, xs, pairs, colour)
        parts.append(drawn)
    # the full line as a tooltip only where it matters: the raw log below has every line in full
    why = f"judged by the verdict ({judged}): " if judged else ""
    title = (f"<title>{_esc(why + rec.log_line())}</title>" if failed or (cut and rec.kind in ("error", "message"))
             else "")
    mark = f' data-judged="{_esc(judged)}"' if judged else ""
    return f'<g class="{css}" data-seq="{rec.seq}"{mark}>{title}{"".join(parts)}</g>'


def _lifelines(xs: dict[str, int], bottom: int) -> list[str]:
    out = []
    for actor, x in xs.items():
        name = _esc(LABELS.get(actor, actor))
        w = max(60, int(len(LABELS.get(actor, actor)) * _CHAR_W) + 16)
        out.append(f'<g class="lifeline" data-actor="{_esc(actor)}">'
                   f'<line x1="{x}" y1="{_HEAD_H - 4}" x2="{x}" y2="{bottom}" stroke="#b8bec5"/>'
                   f'<rect x="{x - w // 2}" y="4" width="{w}" height="20" rx="4" fill="#e9eef5" '
                   f'stroke="#7b8794"/><text x="{x}" y="18" text-anchor="middle" fill="{_INK}" '
                   f'font-weight="bold">{name}</text></g>')
    return out


def _links(pairs: _Pairs, row_of: Sequence[int]) -> list[str]:
    out = []
    for first, last, colour in pairs.links:
        start, end = row_of[first], row_of[last]
        if start == end:
            continue      # both ends inside one folded range
        lane = _LEFT - 8 - (start % 4) * 4
        y1, y2 = _HEAD_H + start * ROW_H + 9, _HEAD_H + end * ROW_H + 9
        out.append(f'<path class="pair" d="M{lane + 8},{y1} H{lane} V{y2} H{lane + 8}" fill="none" '
                   f'stroke="{colour}" stroke-width="1.2"/>')
    return out


def judged_kinds(judged: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """results.json ``tests[].judged`` as {seq: cite kind(s)} for ``render_ladder`` (cites without a record
    -- a verdict on the profile's claims -- have none)."""
    out: dict[int, str] = {}
    for cite in judged:
        seq = cite.get("seq")
        if seq is not None:
            kind = str(cite.get("kind", ""))
            out[int(seq)] = kind if int(seq) not in out else f"{out[int(seq)]} {kind}"
    return out


def render_ladder(records: Iterable[Record], *, title: str = "", failed_seq: int | None = None,
                  judged: Mapping[int, str] | None = None) -> str:
    """The ladder diagram of ``records`` as a standalone SVG document (a string, inline-able in HTML).

    ``failed_seq`` marks the record a verdict blames, in addition to records already ``failed``;
    ``judged`` ({seq: cite kind}) marks every record the verdict cites (see the module docstring).
    """
    recs = list(records)
    judged = dict(judged or {})
    xs = _columns(_actors(recs))
    width = max([*xs.values(), _LEFT + _GAP_TAPI]) + _RIGHT + (_GAP if len(xs) > 2 else 0)
    folds = {f.start: f for f in _folds(recs, failed_seq, judged)}
    folded_ends = {f.end - 1 for f in folds.values()}
    row_of: list[int] = []        # record index -> drawn row
    drawn: list[str] = []
    cleanup = _cleanup_start(recs)
    pairs = _pairs(recs)
    i = 0
    while i < len(recs):
        fold = folds.get(i)
        if fold is not None:
            drawn.append(_fold_row(fold, len(drawn), width))
            row_of += [len(drawn) - 1] * (fold.end - fold.start)
            i = fold.end
            continue
        r = recs[i]
        row_of.append(len(drawn))
        after_fold = i > 0 and (i - 1) in folded_ends
        drawn.append(_row(r, len(drawn), xs, pairs, width, r.failed or r.seq == failed_seq, i >= cleanup,
                          show_time=i == 0 or after_fold or r.time != recs[i - 1].time, judged=judged.get(r.seq, "")))
        i += 1
    top = 22 if title else 0
    height = top + _HEAD_H + max(1, len(drawn)) * ROW_H + 8
    body = [*_lifelines(xs, _HEAD_H + len(drawn) * ROW_H + 4), *_links(pairs, row_of), *drawn]
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" class="tapi-ladder" width="{width}" '
            f'height="{height}" viewBox="0 0 {width} {height}" font-family="monospace" font-size="11" '
            f'role="img"><title>{_esc(title or "TAPI ladder")}</title>{_DEFS}{_STYLE}'
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>')
    caption = _text(8, 16, title, _INK, ' font-weight="bold" font-size="13"') if title else ""
    inner = "".join(body)
    return f'{head}{caption}<g transform="translate(0,{top})">{inner}</g></svg>'


def folded_ranges(records: Sequence[Record], failed_seq: int | None = None,
                  judged: Mapping[int, str] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, summary) of the set-up and clean-up ranges a ladder folds into one row each."""
    return [(f.start, f.end, f.text) for f in _folds(records, failed_seq, judged)]


def render_log_html(records: Iterable[Record], *, fold: bool = False, failed_seq: int | None = None) -> str:
    """The raw log as an escaped ``<pre>`` block; ``fold`` writes set-up and clean-up as one line each
    (for a passing test: results.json keeps every line)."""
    recs = list(records)
    if not fold:
        return f'<pre class="tapi-raw-log">{_esc(raw_log(recs))}</pre>'
    starts = {start: (end, text) for start, end, text in folded_ranges(recs, failed_seq)}
    lines, i = [], 0
    while i < len(recs):
        if i in starts:
            end, text = starts[i]
            lines.append(f"... {text}")
            i = end
        else:
            lines.append(recs[i].log_line())
            i += 1
    return f'<pre class="tapi-raw-log">{_esc(chr(10).join(lines))}</pre>'
