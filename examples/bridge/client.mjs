// A bridge client in JavaScript: drive the simulated PBX (or any served backend) over JSON-RPC 2.0.
//
//   ro-conformance serve                      # in one terminal (simulator on 127.0.0.1:7755)
//   node --experimental-websocket examples/bridge/client.mjs [ws://127.0.0.1:7755/] [NUMBER]
//
// Node 20 needs --experimental-websocket for its global WebSocket (Node >= 22 has it by default).
// With a token: ws://host:7755/?token=SECRET (the browser WebSocket API cannot set headers).
// It initializes TAPI, opens the desk line (device 0), calls NUMBER (default: the Remote Office mobile
// of the reference profile), prints every message until the call is connected, then hangs up.

const url = process.argv[2] ?? "ws://127.0.0.1:7755/";
const number = process.argv[3] ?? "001711234567";
const LINECALLSTATE_CONNECTED = 0x100;
const LINECALLSTATE_IDLE = 0x1;

const ws = new WebSocket(url);
const pending = new Map();              // request id -> {resolve, reject}
let nextId = 1;

ws.onmessage = (event) => {
  const reply = JSON.parse(event.data);
  const waiter = pending.get(reply.id);
  if (!waiter) return;
  pending.delete(reply.id);
  if (reply.error) {
    const e = new Error(reply.error.message);
    e.rpc = reply.error;                // e.rpc.data.name is e.g. "LINEERR_INVALCALLHANDLE"
    waiter.reject(e);
  } else {
    waiter.resolve(reply.result);
  }
};

function call(method, params = {}) {
  const id = nextId++;
  ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function show(m) {
  const hex = (v) => "0x" + v.toString(16).toUpperCase().padStart(8, "0");
  console.log(`${m.time.toFixed(2).padStart(6)}s ${m.msg_name} device=${hex(m.device)} ` +
              `p1=${hex(m.param1)} p2=${hex(m.param2)} p3=${hex(m.param3)}` +
              (m.new_call ? ` new_call=${hex(m.new_call)}` : ""));
}

async function main() {
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error(`cannot connect to ${url}`)); });
  const info = await call("info");
  console.log(`connected to ${info.backend} (${info.profile ?? "?"}), devices ${JSON.stringify(info.devices ?? [])}`);

  const { h_line_app: app } = await call("line_initialize_ex", { app_name: "node-example", api_version: 0x00020002 });
  const version = await call("line_negotiate_api_version", { h_line_app: app, device_id: 0, low: 0x00010004, high: 0x00020002 });
  const line = await call("line_open", { h_line_app: app, device_id: 0, api_version: version });
  const req = await call("line_make_call", { h_line: line, dest_address: number });
  console.log(`lineMakeCall(${number}) -> request ${req}`);

  let hCall = 0;
  for (;;) {
    const m = await call("line_get_message", { h_line_app: app, timeout: 30 });
    if (m === null) throw new Error("no message within 30 s");
    show(m);
    if (m.msg_name === "LINE_REPLY" && m.param1 === req) {
      if (m.param2 !== 0) throw new Error(`lineMakeCall failed: 0x${m.param2.toString(16)}`);
      hCall = m.new_call;
    }
    if (m.msg_name === "LINE_CALLSTATE" && m.device === hCall && m.param1 === LINECALLSTATE_CONNECTED) break;
  }
  console.log("remote office sees:", JSON.stringify(await call("party.observe", { role: "remote_office" })));

  await call("line_drop", { h_call: hCall });
  for (;;) {
    const m = await call("line_get_message", { h_line_app: app, timeout: 10 });
    if (m === null) break;
    show(m);
    if (m.msg_name === "LINE_CALLSTATE" && m.param1 === LINECALLSTATE_IDLE) break;
  }
  await call("line_deallocate_call", { h_call: hCall });
  try {
    await call("line_deallocate_call", { h_call: hCall });       // again: a real LINEERR comes back
  } catch (e) {
    console.log(`second lineDeallocateCall: ${e.rpc.data.name} (code ${e.rpc.code})`);
  }
  await call("line_shutdown", { h_line_app: app });
  ws.close();
}

main().catch((e) => { console.error(`error: ${e.message}`); ws.close(); process.exitCode = 1; });
