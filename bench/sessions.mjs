// The live sessions part of scripts/bench: its WebSocket clients and its
// WebSocket upstream (npm ws, from lua-free-tests/node_modules).  Prints
// KEY=VALUE lines that scripts/bench puts in its figures.
//
// Environment (set by scripts/bench): BS_DIR, BS_KEY (the access key),
// BS_JWKS (the Ed25519 signing JWKS), BS_REDIS, BS_UP (upstream port),
// BS_A, BS_B (two gateways, 2 workers), BS_COLD (a gateway started just
// before, nothing verified yet), BS_MEM (1 worker, for memory),
// BS_RENEW (2 workers, default lease), BS_MEM_N, BS_RENEW_N.
import { createHash, createHmac, createPrivateKey, randomUUID, sign } from "node:crypto";
import { execFileSync, fork, spawn } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";

const require = createRequire(new URL("../lua-free-tests/package.json", import.meta.url));
const { WebSocket } = require("ws");

const env = process.env;
const KEY = Buffer.from(env.BS_KEY, "base64");
const V = "api-version=2025-03-13";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const jwk = JSON.parse(readFileSync(env.BS_JWKS, "utf8")).keys[0];
const priv = createPrivateKey({ key: jwk, format: "jwk" });
const out = (k, v) => console.log(`${k}=${v}`);
const STEPS = (env.BS_STEPS || "close,burst,cost,memory,renew").split(",");
const step = (name) => STEPS.includes(name);

// the upstream, a WebSocket echo, in a process of its own: its work does
// not delay the clients' clocks
if (process.argv[2] === "upstream") {
  // the handshake's answer, then silence: as cheap an upstream as can be,
  // so that the machine's two cores go to the gateways
  const up = net.createServer((c) => {
    let head = "";
    c.on("data", (d) => {
      if (head === null) return;
      head += d;
      const m = head.match(/sec-websocket-key:\s*(\S+)/i);
      if (!head.includes("\r\n\r\n")) return;
      const accept = createHash("sha1").update(m[1] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      c.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              + `Sec-WebSocket-Accept: ${accept}\r\n\r\n`);
      head = null;
    });
    c.on("error", () => {});
  });
  up.listen(+env.BS_UP, "127.0.0.1", 4096, () => process.send("ready"));
  await new Promise(() => {});
}

const upstream = fork(fileURLToPath(import.meta.url), ["upstream"]);
await new Promise((r) => upstream.once("message", r));

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

function api(port, method, path, body) {
  const data = body === undefined ? "" : JSON.stringify(body);
  const host = `127.0.0.1:${port}`;
  const date = new Date().toUTCString();
  const hash = createHash("sha256").update(data).digest("base64");
  const sig = createHmac("sha256", KEY).update(`${method}\n${path}\n${date};${host};${hash}`).digest("base64");
  const headers = { Host: host, "x-ms-date": date, "x-ms-content-sha256": hash,
    Authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${sig}` };
  if (data) { headers["Content-Type"] = "application/json"; headers["Content-Length"] = Buffer.byteLength(data); }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path, headers, agent }, (res) => {
      let s = "";
      res.on("data", (c) => (s += c));
      res.on("end", () => resolve({ status: res.statusCode, json: s ? JSON.parse(s) : null }));
    });
    req.on("error", reject);
    req.end(data);
  });
}

const newUser = () => `8:acs:00000000-0000-4000-8000-000000000000_${randomUUID()}`;

function token(sub) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const input = `${b64({ alg: "EdDSA", typ: "JWT", kid: jwk.kid })}.${b64({ sub, iat: now - 10, exp: now + 7200 })}`;
  return `${input}.${sign(null, Buffer.from(input), priv).toString("base64url")}`;
}

async function room(port, users) {
  const p = {};
  for (const u of users) p[u] = { role: "Attendee" };
  const r = await api(port, "POST", `/rooms?${V}`, { participants: p });
  if (r.status !== 201) throw new Error(`create room ${r.status}`);
  return r.json.id;
}

// a WebSocket handshake on a raw socket: nothing but the socket's close
// is timed on the way out
function rawJoin(port, path, tok) {
  return new Promise((resolve) => {
    const s = { status: 0 };
    const c = net.connect(port, "127.0.0.1", () => {
      c.write(`GET ${path}?access_token=${tok} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
              + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
              + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
    });
    let head = "";
    c.on("data", (d) => {
      if (s.status) return;
      head += d;
      const m = head.match(/^HTTP\/1\.1 (\d+)/);
      if (m && head.includes("\r\n\r\n")) { s.status = +m[1]; resolve(s); }
    });
    c.on("close", () => { s.closedAt = process.hrtime.bigint(); if (!s.status) resolve(s); });
    c.on("error", () => {});
    s.ws = { terminate: () => c.destroy() };
  });
}

function join(port, path, tok) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}?access_token=${tok}`, { perMessageDeflate: false });
    const s = { ws, status: 0 };
    ws.on("open", () => { s.status = 101; s.ms = Number(process.hrtime.bigint() - t0) / 1e6; resolve(s); });
    ws.on("unexpected-response", (q, res) => { s.status = res.statusCode; res.resume(); resolve(s); });
    ws.on("close", () => { s.closedAt = process.hrtime.bigint(); });
    ws.on("error", () => { if (!s.status) { s.status = -1; resolve(s); } });
  });
}

const pct = (a, p) => {
  const s = a.slice().sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.ceil(s.length * p / 100) - 1)];
};

async function joinAll(port, path, users, roomOf, batch = 200) {
  const res = [];
  for (let i = 0; i < users.length; i += batch) {
    res.push(...await Promise.all(users.slice(i, i + batch).map((u) => join(port, `${path}/${roomOf(u)}`, token(u)))));
  }
  return res;
}

function redisInfo(section) {
  return execFileSync("redis-cli", ["-p", env.BS_REDIS, "INFO", section], { encoding: "utf8" });
}
const evalshaCalls = () => +((redisInfo("commandstats").match(/cmdstat_evalsha:calls=(\d+)/) || [0, 0])[1]);
const commands = () => +redisInfo("stats").match(/total_commands_processed:(\d+)/)[1];

async function stats(port) {
  const t = await (await fetch(`http://127.0.0.1:${port}/stats`)).text();
  const m = t.match(/pid=(\d+) sessions=(\d+) rooms=(\d+) bytes=(\d+)/);
  return { pid: +m[1], sessions: +m[2], rooms: +m[3], bytes: +m[4] };
}
const rssKb = (pid) => +readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/)[1];
const closeAll = async (l) => { for (const s of l) s.ws.terminate(); await sleep(1000); };

// 1. close latency on the other gateway, a room of 350 deleted: the
// sessions are held by close-watch.pl, which stamps each close
if (step("close")) {
  const users = Array.from({ length: 350 }, newUser);
  const id = await room(+env.BS_A, users);
  const watch = spawn("perl", [fileURLToPath(new URL("close-watch.pl", import.meta.url)), env.BS_B],
                      { stdio: ["pipe", "pipe", "inherit"] });
  watch.stdin.end(users.map((u) => `/ws/${id}?access_token=${token(u)}\n`).join(""));
  const lines = [];
  let buf = "";
  const ready = new Promise((resolve) => {
    watch.stdout.on("data", (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (line.startsWith("ready")) resolve(line);
      }
    });
  });
  const done = new Promise((r) => watch.on("exit", r));
  const [, ok] = (await ready).split(" ").map(Number);
  await sleep(500);
  await api(+env.BS_A, "DELETE", `/rooms/${id}?${V}`);
  const t0 = (performance.timeOrigin + performance.now()) / 1000;
  await done;
  const lat = lines.filter((l) => l.startsWith("closed ")).map((l) => (+l.split(" ")[1] - t0) * 1000);
  while (lat.length < ok) lat.push(1e9);
  out("CLOSE_N", ok);
  out("CLOSE_P50", pct(lat, 50).toFixed(1));
  out("CLOSE_P99", pct(lat, 99).toFixed(1));
  out("CLOSE_MISSED", lat.filter((x) => x >= 1e9).length);
}

// 2. 350 users with Ed25519 tokens joining one room within a second, on a
// gateway that has verified nothing yet
if (step("burst")) {
  const users = Array.from({ length: 350 }, newUser);
  const id = await room(+env.BS_A, users);
  const toks = users.map(token);
  const t0 = Date.now();
  const l = await Promise.all(users.map((u, i) => sleep(i * 1000 / 350)
    .then(() => join(+env.BS_COLD, `/ws/${id}`, toks[i]))));
  out("BURST_ADMITTED", l.filter((s) => s.status === 101).length);
  out("BURST_SPAN_MS", Date.now() - t0);
  out("BURST_P50", pct(l.map((s) => s.ms ?? 1e9), 50).toFixed(2));
  out("BURST_P99", pct(l.map((s) => s.ms ?? 1e9), 99).toFixed(2));
  await closeAll(l);
}

// 3. a session admission against a plain one, one at a time: latency and
// Redis commands (the seat's round trip, and its release)
if (step("cost")) {
  const n = 300;
  const users = Array.from({ length: n }, newUser);
  const id = await room(+env.BS_A, users);
  const res = {};
  for (const kind of ["plain", "ws"]) {
    await closeAll([]);
    const ms = [];
    for (const u of users) {
      const s = await join(+env.BS_A, `/${kind}/${id}`, token(u));
      if (s.status !== 101) throw new Error(`${kind}: ${s.status}`);
      ms.push(s.ms);
      s.ws.terminate();
    }
    await sleep(1000);
    res[kind] = { p50: pct(ms, 50), p99: pct(ms, 99) };
  }
  out("COST_PLAIN_P50", res.plain.p50.toFixed(3));
  out("COST_SESSION_P50", res.ws.p50.toFixed(3));
  out("COST_PLAIN_P99", res.plain.p99.toFixed(3));
  out("COST_SESSION_P99", res.ws.p99.toFixed(3));
}

// 4. worker memory per live session: the same connections on two fresh
// gateways of one worker each, one with rooms_session, one without; each
// worker's RSS growth, the difference per session
if (step("memory")) {
  const n = +env.BS_MEM_N || 3000;
  const users = Array.from({ length: n }, newUser);
  const rooms = [];
  for (let i = 0; i < n; i += 350) rooms.push(await room(+env.BS_MEM, users.slice(i, i + 350)));
  const index = new Map(users.map((u, i) => [u, i]));
  const roomOf = (u) => rooms[Math.floor(index.get(u) / 350)];
  const grow = {};
  let st;
  for (const [kind, port] of [["plain", +env.BS_MEM2], ["ws", +env.BS_MEM]]) {
    const pid = (await stats(port)).pid;
    const before = rssKb(pid);
    const l = await joinAll(port, `/${kind}`, users, roomOf);
    if (l.some((s) => s.status !== 101)) throw new Error(`memory ${kind}: not all admitted`);
    await sleep(1500);
    grow[kind] = rssKb(pid) - before;
    if (kind === "ws") st = await stats(port);
    await closeAll(l);
  }
  out("MEM_N", n);
  out("MEM_GROW_PLAIN_KB", grow.plain);
  out("MEM_GROW_SESSION_KB", grow.ws);
  out("MEM_PER_SESSION", ((grow.ws - grow.plain) * 1024 / n).toFixed(0));
  out("MEM_MODULE_PER_SESSION", (st.bytes / st.sessions).toFixed(0));
  out("MEM_MODULE_SESSIONS", st.sessions);
}

// 5. Redis commands spent on renewals with many live sessions
if (step("renew")) {
  const n = +env.BS_RENEW_N || 10000;
  const users = Array.from({ length: n }, newUser);
  const rooms = [];
  for (let i = 0; i < n; i += 350) rooms.push(await room(+env.BS_RENEW, users.slice(i, i + 350)));
  const index = new Map(users.map((u, i) => [u, i]));
  const l = await joinAll(+env.BS_RENEW, "/ws", users, (u) => rooms[Math.floor(index.get(u) / 350)], 250);
  const ok = l.filter((s) => s.status === 101).length;
  const secs = +env.BS_RENEW_SECONDS || 30;
  const e0 = evalshaCalls(), c0 = commands();
  await sleep(secs * 1000);
  const e1 = evalshaCalls(), c1 = commands();
  out("RENEW_SESSIONS", ok);
  out("RENEW_ROOMS", rooms.length);
  out("RENEW_SECONDS", secs);
  out("RENEW_CMDS_PER_S", ((e1 - e0) / secs).toFixed(2));
  out("RENEW_ALL_CMDS_PER_S", ((c1 - c0) / secs).toFixed(2));
  await closeAll(l);
}

upstream.kill();
process.exit(0);
