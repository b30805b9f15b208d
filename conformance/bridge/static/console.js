"use strict";
// The live console: one WebSocket; the server pushes diffs ("set"/"del" rows, new ladder entries).
// Everything from the server is put into the page as text (textContent), never as markup.
(function () {
  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get("token");
  const rows = { stations: new Map(), externals: new Map() };
  let ws = null;
  let retry = 500;
  let ladderCap = 500;
  let current = "shared";
  const stats = { updates: 0, lastMs: 0, maxMs: 0 };
  window.consoleStats = stats;

  function cell(tr, i, text, cls) {
    const td = tr.children[i];
    if (td.textContent !== text) td.textContent = text;
    if (cls !== undefined && td.className !== cls) td.className = cls;
  }

  function buttons(td, specs) {
    for (const [act, label] of specs) {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.act = act;
      b.textContent = label;
      td.appendChild(b);
    }
  }

  function newRow(section, key) {
    const tr = document.createElement("tr");
    tr.dataset.number = key;
    const n = section === "stations" ? 8 : 6;
    for (let i = 0; i < n; i++) tr.appendChild(document.createElement("td"));
    if (section === "stations") buttons(tr.children[7], [["lift", "Lift handset"], ["replace", "Replace handset"]]);
    else buttons(tr.children[5], [["answer", "Answer"], ["reject", "Reject"], ["busy", "Busy"], ["hang_up", "Hang up"]]);
    rows[section].set(key, tr);
    $(section).tBodies[0].appendChild(tr);
    return tr;
  }

  function showStation(tr, r) {
    cell(tr, 0, r.number); cell(tr, 1, r.name); cell(tr, 2, r.business);
    cell(tr, 3, r.hook); cell(tr, 4, r.speaker);
    const more = r.count > r.calls.length ? ` (+${r.count - r.calls.length})` : "";
    cell(tr, 5, r.calls.join("; ") + more || "idle");
    cell(tr, 6, r.forwarding.join("; ") || "none");
  }

  function showExternal(tr, r) {
    cell(tr, 0, r.number); cell(tr, 1, r.name);
    cell(tr, 2, r.state + (r.busy ? " (phone busy)" : ""), "state-" + r.state);
    const shown = r.presentation === "withheld" ? "withheld"
      : r.presentation === "name_only" ? `${r.presented_name} (name only, no number)` : r.presented;
    cell(tr, 3, shown); cell(tr, 4, r.connected);
    const busy = tr.querySelector("button[data-act=busy]");
    const label = r.busy ? "Free" : "Busy";
    if (busy.textContent !== label) busy.textContent = label;
  }

  function apply(section, key, r) {
    const tr = rows[section].get(key) || newRow(section, key);
    if (section === "stations") showStation(tr, r); else showExternal(tr, r);
  }

  function dialTargets() {
    const sel = $("dial-to");
    const want = [...rows.stations.values()].map((tr) => tr.children[2].textContent).filter(Boolean);
    const have = [...sel.options].map((o) => o.value);
    if (want.join("\n") === have.join("\n")) return;
    const keep = sel.value;
    sel.replaceChildren(...want.map((n) => new Option(n, n)));
    if (want.includes(keep)) sel.value = keep;
  }

  function ladder(entries) {
    const body = $("ladder").tBodies[0];
    const box = $("right");
    const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const e of entries) {
      const tr = document.createElement("tr");
      tr.className = e.kind;
      const t = new Date(e.t * 1000);
      for (const text of [t.toLocaleTimeString() + "." + String(t.getMilliseconds()).padStart(3, "0"), e.who, "", e.text]) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.appendChild(frag);
    while (body.rows.length > ladderCap) body.deleteRow(0);
    if (atEnd) box.scrollTop = box.scrollHeight;
  }

  function reset() {
    for (const section of Object.keys(rows)) {
      rows[section].clear();
      $(section).tBodies[0].replaceChildren();
    }
    $("ladder").tBodies[0].replaceChildren();
  }

  function update(m) {
    if (m.pbx !== current) { current = m.pbx; reset(); }
    ladderCap = m.ladder_cap; $("cap").textContent = String(ladderCap);
    const sel = $("pbx");
    if ([...sel.options].map((o) => o.value).join("\n") !== m.pbxs.join("\n")) {
      sel.replaceChildren(...m.pbxs.map((n) => new Option(n, n)));
    }
    sel.value = m.pbx;
    for (const section of ["stations", "externals"]) {
      for (const key of (m.del[section] || [])) {
        const tr = rows[section].get(key);
        if (tr) { tr.remove(); rows[section].delete(key); }
      }
      for (const [key, r] of Object.entries(m.set[section] || {})) apply(section, key, r);
    }
    const tg = (m.set.trunks || {}).group;
    if (tg) $("trunks").textContent = `${tg.in_use} of ${tg.total} channels in use (peak ${tg.peak})`;
    const pbx = (m.set.pbx || {}).pbx;
    if (pbx) $("summary").textContent = `profile ${pbx.profile} · ${pbx.live_calls} call legs alive`;
    if (!m.party_control) $("summary").textContent = "no party control on this backend: ladder only";
    dialTargets();
    if (m.ladder.length) ladder(m.ladder);
  }

  function send(obj) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
  }

  function connect() {
    const url = new URL("/console/ws", location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (token) url.searchParams.set("token", token);
    ws = new WebSocket(url);
    ws.onopen = () => { retry = 500; $("status").textContent = "live"; $("status").className = "status live"; };
    ws.onmessage = (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === "update") {
        const t0 = performance.now();
        update(m);
        const ms = performance.now() - t0;   // how long a push keeps the page busy (bench_console.py reads it)
        stats.updates += 1; stats.lastMs = ms; stats.maxMs = Math.max(stats.maxMs, ms);
      }
      else if (m.type === "error") $("error").textContent = m.text;
    };
    ws.onclose = () => {   // the server went away: reconnect with back-off (an event, not a poll)
      $("status").textContent = "disconnected, retrying…"; $("status").className = "status";
      current = null;
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 10000);
    };
  }

  function onButton(ev) {
    const b = ev.target.closest("button[data-act]");
    if (!b) return;
    $("error").textContent = "";
    send({ op: "act", do: b.dataset.act, number: b.closest("tr").dataset.number });
  }
  $("stations").addEventListener("click", onButton);
  $("externals").addEventListener("click", onButton);
  $("dial").addEventListener("submit", (ev) => {
    ev.preventDefault();
    $("error").textContent = "";
    send({ op: "act", do: "call", number: $("dial-from").value.trim(), to: $("dial-to").value });
  });
  $("pbx").addEventListener("change", () => send({ op: "select", pbx: $("pbx").value }));
  connect();
})();
