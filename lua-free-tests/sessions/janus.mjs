// janus.sh's driver: the operator talks to Janus directly (creates the
// VideoRoom named after the room, lists its participants); users go
// through the gateway.
import { createHash, createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import { WebSocket } from "ws";

const env = process.env;
const KEY = Buffer.from(env.JANUS_KEY, "base64");
const TOKEN_KEY = Buffer.from(env.JANUS_TOKEN_KEY, "base64url");
const GW = +env.JANUS_GATEWAY;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let passed = 0, failed = 0;

function check(ok, what, note) {
  ok ? passed++ : failed++;
  console.log(`${ok ? "PASS" : "FAIL"} janus: ${what}${note ? ` (${note})` : ""}`);
}

function api(method, path, body) {
  const data = body === undefined ? "" : JSON.stringify(body);
  const host = `127.0.0.1:${GW}`;
  const date = new Date().toUTCString();
  const hash = createHash("sha256").update(data).digest("base64");
  const sig = createHmac("sha256", KEY).update(`${method}\n${path}\n${date};${host};${hash}`).digest("base64");
  const headers = { Host: host, "x-ms-date": date, "x-ms-content-sha256": hash,
    Authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${sig}` };
  if (data) { headers["Content-Type"] = "application/merge-patch+json"; headers["Content-Length"] = Buffer.byteLength(data); }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: GW, method, path, headers }, (res) => {
      let s = "";
      res.on("data", (c) => (s += c));
      res.on("end", () => resolve({ status: res.statusCode, json: s ? JSON.parse(s) : null }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const input = `${b64({ alg: "HS256", typ: "JWT", kid: "t" })}.${b64({ sub, iat: now - 10, exp: now + 3600 })}`;
  return `${input}.${createHmac("sha256", TOKEN_KEY).update(input).digest("base64url")}`;
}

// a Janus API client over a WebSocket (subprotocol janus-protocol)
class Janus {
  static open(url) {
    return new Promise((resolve) => {
      const j = new Janus();
      j.ws = new WebSocket(url, "janus-protocol");
      j.pending = new Map();
      j.events = [];
      j.closed = false;
      j.ws.on("open", () => resolve(j));
      j.ws.on("unexpected-response", (req, res) => { j.status = res.statusCode; res.resume(); resolve(j); });
      j.ws.on("error", () => resolve(j));
      j.ws.on("close", () => { j.closed = true; j.closedAt = Date.now(); });
      j.ws.on("message", (m) => {
        const msg = JSON.parse(String(m));
        const p = j.pending.get(msg.transaction);
        if (p && msg.janus !== "ack") { j.pending.delete(msg.transaction); p(msg); } else j.events.push(msg);
      });
    });
  }
  send(body) {
    const transaction = randomUUID();
    return new Promise((resolve) => {
      this.pending.set(transaction, resolve);
      this.ws.send(JSON.stringify({ ...body, transaction,
        ...(this.session ? { session_id: this.session } : {}),
        ...(this.handle ? { handle_id: this.handle } : {}) }));
    });
  }
  async videoroom() {
    this.session = (await this.send({ janus: "create" })).data.id;
    this.handle = (await this.send({ janus: "attach", plugin: "janus.plugin.videoroom" })).data.id;
    return this;
  }
  message(body) { return this.send({ janus: "message", body }); }
}

const alice = `8:acs:00000000-0000-4000-8000-000000000000_${randomUUID()}`;
const bob = `8:acs:00000000-0000-4000-8000-000000000000_${randomUUID()}`;
const mallory = `8:acs:00000000-0000-4000-8000-000000000000_${randomUUID()}`;
const V = "api-version=2025-03-13";

const r = await api("POST", `/rooms?${V}`, { participants: { [alice]: { role: "Presenter" }, [bob]: { role: "Attendee" } } });
const room = r.json.id;

// the operator, straight to Janus: the VideoRoom named after the room
const op = await (await Janus.open(`ws://127.0.0.1:${env.JANUS_PORT}/`)).videoroom();
const created = await op.message({ request: "create", room, description: `rooms ${room}`, publishers: 350 });
check(created.plugindata?.data?.videoroom === "created", "the operator creates the VideoRoom named after the room",
      JSON.stringify(created.plugindata?.data));

async function participants() {
  const l = await op.message({ request: "listparticipants", room });
  return (l.plugindata?.data?.participants || []).map((p) => p.display);
}

async function joinThroughGateway(user) {
  const j = await Janus.open(`ws://127.0.0.1:${GW}/janus/${room}?access_token=${token(user)}`);
  if (j.status) return j;
  await j.videoroom();
  // answered with an "ack", then the event of the same transaction
  const ev = await j.message({ request: "join", ptype: "publisher", room, display: user });
  j.joined = ev.plugindata?.data?.videoroom === "joined";
  return j;
}

const a = await joinThroughGateway(alice);
const b = await joinThroughGateway(bob);
check(!a.status && a.joined && b.joined, "invitees' Janus sessions, through the gateway, join the VideoRoom");
const before = await participants();
check(before.includes(alice) && before.includes(bob), "listparticipants shows them", before.length + " listed");

const m = await Janus.open(`ws://127.0.0.1:${GW}/janus/${room}?access_token=${token(mallory)}`);
check(m.status === 403, "an uninvited user is refused at the gateway", `${m.status}`);
const log = () => readFileSync(`${env.JANUS_DIR}/gw/logs/access.log`, "utf8");
await sleep(200);
check(log().split("\n").some((l) => l.startsWith(`${mallory} 403 upstream=-`)),
      "and never reaches Janus (no upstream address in the access log)");

const t0 = Date.now();
const p = await api("PATCH", `/rooms/${room}/participants?${V}`, { participants: { [alice]: null } });
check(p.status === 200, "the API removes alice");
for (let i = 0; i < 100 && !a.closed; i++) await sleep(20);
check(a.closed, "alice's WebSocket to Janus is closed", `${a.closedAt - t0} ms`);
let after = await participants();
for (let i = 0; i < 100 && after.includes(alice); i++) { await sleep(50); after = await participants(); }
check(!after.includes(alice) && after.includes(bob), "Janus dropped alice from the VideoRoom, bob stays",
      `${Date.now() - t0} ms`);
await sleep(200);
check(log().includes(`${alice} 101 upstream=127.0.0.1:${env.JANUS_PORT} end="removed"`),
      "$rooms_session_end: removed");
const again = await Janus.open(`ws://127.0.0.1:${GW}/janus/${room}?access_token=${token(alice)}`);
check(again.status === 403, "a removed user cannot reach Janus again");

b.ws.close(); op.ws.close();
console.log(`janus: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
