// The live sessions suite's driver (run by run.sh, which starts Redis and
// the gateways and passes their ports in SESSIONS_*).  It is also the
// media upstream: a WebSocket echo server (npm ws) and an endless HTTP
// stream, so that it sees what reaches the upstream and when it ends.
//
//   node sessions.mjs [scenario...]      every scenario by default
import { createHmac, createHash, randomUUID } from "node:crypto";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import http from "node:http";
import http2 from "node:http2";
import { WebSocket, WebSocketServer } from "ws";

const env = process.env;
const MODE = env.SESSIONS_MODE || "plain";
const DIR = env.SESSIONS_DIR;
const PORT = { a: +env.SESSIONS_A, b: +env.SESSIONS_B, c: +env.SESSIONS_C };
const AH2 = +env.SESSIONS_AH2;
const LEASE = +env.SESSIONS_LEASE_MS || 3000;
const KEY = Buffer.from(env.SESSIONS_KEY, "base64");
const TOKEN_KEY = Buffer.from(env.SESSIONS_TOKEN_KEY, "base64url");
const REDIS = +env.SESSIONS_REDIS;
const FEED = "rooms:{events}";
const V = "api-version=2025-03-13";
const SLOW = MODE === "valgrind" ? 10 : MODE === "asan" ? 3 : 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let passed = 0, failed = 0;
const failures = [];

function check(ok, what, note) {
  if (ok) {
    passed++;
    console.log(`PASS sessions: ${what}${note ? ` (${note})` : ""}`);
  } else {
    failed++;
    failures.push(what);
    console.log(`FAIL sessions: ${what}${note ? ` (${note})` : ""}`);
  }
  return ok;
}

// --- the upstream ----------------------------------------------------------

const upstream = { ws: new Map(), streams: new Map() };   // user -> count
const bump = (m, u, d) => m.set(u, (m.get(u) || 0) + d);

const server = http.createServer((req, res) => {
  const user = req.headers["x-rooms-user"] || "";
  if (req.url.startsWith("/stream")) {
    bump(upstream.streams, user, 1);
    res.writeHead(200, { "Content-Type": "text/plain" });
    const t = setInterval(() => res.write("tick\n"), 100);
    res.write("start\n");
    const end = () => { clearInterval(t); bump(upstream.streams, user, -1); };
    res.on("close", end);
    return;
  }
  res.writeHead(200);
  res.end("not a websocket\n");
});
const wss = new WebSocketServer({ server });
wss.on("connection", (ws, req) => {
  const user = req.headers["x-rooms-user"] || "";
  bump(upstream.ws, user, 1);
  ws.on("message", (m) => {
    if (String(m) === "close-me") {
      ws.terminate();               // the upstream ends the session
      return;
    }
    ws.send(m);
  });
  ws.on("close", () => bump(upstream.ws, user, -1));
  ws.on("error", () => {});
});
await new Promise((r) => server.listen(+env.SESSIONS_UPSTREAM, "127.0.0.1", r));

// --- the API ---------------------------------------------------------------

const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

function api(method, path, body, gw = "a") {
  const data = body === undefined ? "" : JSON.stringify(body);
  const host = `127.0.0.1:${PORT[gw]}`;
  const date = new Date().toUTCString();
  const hash = createHash("sha256").update(data).digest("base64");
  const sig = createHmac("sha256", KEY)
    .update(`${method}\n${path}\n${date};${host};${hash}`).digest("base64");
  const headers = {
    Host: host,
    "x-ms-date": date,
    "x-ms-content-sha256": hash,
    Authorization: `HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature=${sig}`,
  };
  if (data) {
    headers["Content-Type"] = "application/merge-patch+json";
    headers["Content-Length"] = Buffer.byteLength(data);
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: PORT[gw], method, path, headers, agent },
      (res) => {
        let s = "";
        res.on("data", (c) => (s += c));
        res.on("end", () => {
          let json = null;
          try { json = s ? JSON.parse(s) : null; } catch { json = null; }
          resolve({ status: res.statusCode, json, text: s, headers: res.headers });
        });
      });
    req.on("error", reject);
    req.end(data);
  });
}

const RESOURCE = "00000000-0000-4000-8000-000000000000";
const newUser = () => `8:acs:${RESOURCE}_${randomUUID()}`;
const esc = (id) => encodeURIComponent(id);

async function createRoom(participants, extra = {}) {
  const p = {};
  for (const [id, role] of Object.entries(participants)) p[id] = { role };
  const r = await api("POST", `/rooms?${V}`, { participants: p, ...extra });
  if (r.status !== 201) throw new Error(`create room: ${r.status} ${r.text}`);
  return r.json.id;
}

const patch = (room, participants) =>
  api("PATCH", `/rooms/${room}/participants?${V}`, { participants });

async function createIdentity() {
  const r = await api("POST", "/identities?api-version=2023-10-01", {});
  if (r.status !== 201) throw new Error(`create identity: ${r.status} ${r.text}`);
  return r.json.identity.id;
}

async function listing(room, gw = "a") {
  const r = await api("GET", `/rooms/${room}/sessions?${V}`, undefined, gw);
  return r;
}

function token(sub, o = {}) {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (x) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const head = b64({ alg: "HS256", typ: "JWT", kid: "t" });
  const body = b64({ sub, iat: o.iat ?? now - 10, exp: o.exp ?? now + 3600 });
  const sig = createHmac("sha256", TOKEN_KEY).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${sig}`;
}

// --- clients ---------------------------------------------------------------

// a WebSocket session: resolves when opened (101) or refused
function wsJoin(gw, path, user, o = {}) {
  const url = `ws://127.0.0.1:${PORT[gw]}${path}?access_token=${o.token ?? token(user)}`;
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const s = { ws, user, gw, path, open: false, closed: false, status: 0, t0: Date.now() };
    ws.on("open", () => { s.open = true; s.status = 101; s.openedAt = Date.now(); resolve(s); });
    ws.on("unexpected-response", (req, res) => {
      s.status = res.statusCode;
      s.errorCode = res.headers["x-ms-error-code"];
      let b = "";
      res.on("data", (c) => (b += c));
      res.on("end", () => { s.body = b; resolve(s); });
    });
    ws.on("close", (code) => { s.closed = true; s.code = code; s.closedAt = Date.now(); });
    ws.on("error", (e) => { s.error = e; if (!s.status) resolve(s); });
  });
}

// a long HTTP/1.1 stream
function streamJoin(gw, room, user) {
  return new Promise((resolve) => {
    const s = { user, gw, open: false, closed: false, status: 0 };
    const req = http.get({ host: "127.0.0.1", port: PORT[gw], agent: false,
      path: `/stream/${room}?access_token=${token(user)}` }, (res) => {
      s.status = res.statusCode;
      s.res = res;
      res.on("data", () => { if (!s.open) { s.open = true; resolve(s); } });
      res.on("close", () => { s.closed = true; s.closedAt = Date.now(); });
      res.on("error", () => {});
      if (res.statusCode !== 200) resolve(s);
    });
    req.on("error", (e) => { s.error = e; s.closed = true; resolve(s); });
    s.req = req;
  });
}

// an HTTP/2 stream on its own connection
function h2Join(room, user) {
  return new Promise((resolve) => {
    const s = { user, open: false, closed: false, status: 0 };
    const session = http2.connect(`http://127.0.0.1:${AH2}`);
    session.on("error", () => {});
    const st = session.request({ ":path": `/stream/${room}?access_token=${token(user)}` });
    s.session = session;
    s.stream = st;
    st.on("response", (h) => { s.status = h[":status"]; if (s.status !== 200) resolve(s); });
    st.on("data", () => { if (!s.open) { s.open = true; resolve(s); } });
    st.on("close", () => { s.closed = true; s.closedAt = Date.now(); s.rst = st.rstCode; });
    st.on("error", () => {});
  });
}

function close(s) {
  if (s.ws) s.ws.terminate();
  if (s.req) s.req.destroy();
  if (s.session) s.session.destroy();
}

async function waitFor(cond, ms) {
  const end = Date.now() + ms * SLOW;
  while (Date.now() < end) {
    if (await cond()) return true;
    await sleep(20);
  }
  return !!(await cond());
}

// the access log lines of gateway gw mentioning user
function ends(gw, user) {
  const f = `${DIR}/${gw}/logs/access.log`;
  if (!existsSync(f)) return [];
  return readFileSync(f, "utf8").split("\n").filter((l) => l.startsWith(user + " "))
    .map((l) => (l.match(/end="([^"]*)"/) || [])[1]);
}

async function endedWith(gw, user, reason) {
  return waitFor(() => ends(gw, user).includes(reason), 3000);
}

function redis(...args) {
  return execFileSync("redis-cli", ["-p", String(REDIS), ...args], { encoding: "utf8" }).trim();
}

function latency(s, t0) { return s.closedAt ? s.closedAt - t0 : Infinity; }

// rooms_metrics of gateway gw: { "name{labels}": number }, and the text
async function metrics(gw) {
  const text = await fetch(`http://127.0.0.1:${PORT[gw]}/metrics`).then((r) => r.text());
  const m = {};
  for (const l of text.split("\n")) {
    const x = l.match(/^(\S+(?:\{[^}]*\})?) (\S+)$/);
    if (x && !l.startsWith("#")) m[x[1]] = Number(x[2]);
  }
  return { m, text };
}

const ended = (m, reason) => m[`rooms_sessions_ended_total{reason="${reason}"}`] ?? NaN;
const endedAll = (m) => Object.keys(m).filter((k) => k.startsWith("rooms_sessions_ended_total"))
  .reduce((n, k) => n + m[k], 0);

async function gaugeIs(gw, n, ms = 2000) {
  let last;
  const ok = await waitFor(async () => (last = (await metrics(gw)).m.rooms_sessions) === n, ms);
  return { ok, last };
}

function promtool(text) {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return { ok: r.status === 0, out: (r.stdout + r.stderr).trim() };
}

// the session events of the change feed for room, in the stream's order
function feed(room) {
  return redis("XRANGE", FEED, "-", "+").split("\n").filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l)).filter((e) => e.room === room && e.type.startsWith("session."));
}

// --- scenarios -------------------------------------------------------------

const scenarios = {};

// rooms_sessions, rooms_sessions_ended_total, rooms_session_close_seconds
// and the feed's session.started / session.ended, by exact deltas
scenarios.accounting = async () => {
  const u = Array.from({ length: 5 }, newUser);
  const p = {};
  u.forEach((x) => (p[x] = "Attendee"));
  const room = await createRoom(p);
  const { m: m0, text: t0 } = await metrics("a");
  const base = m0.rooms_sessions;
  check(Number.isInteger(base) && t0.includes("# TYPE rooms_sessions gauge")
        && t0.includes("# TYPE rooms_session_close_seconds histogram"),
        "a configuration with live sessions shows their metrics", `rooms_sessions ${base}`);
  const s = [];
  for (const x of u) s.push(await wsJoin("a", `/ws/${room}`, x));
  check(s.every((x) => x.status === 101), "5 sessions on gateway A (two workers)");
  let g = await gaugeIs("a", base + 5);
  check(g.ok, "rooms_sessions +5, summed over the workers", `${base} -> ${g.last}`);

  await patch(room, { [u[0]]: null });
  check(await waitFor(() => s[0].closed, 2000), "a removal closes its session");
  await api("DELETE", `/rooms/${room}/sessions/${esc(u[1])}?${V}`);
  check(await waitFor(() => s[1].closed, 2000), "a kick closes its session");
  close(s[2]);
  g = await gaugeIs("a", base + 2);
  check(g.ok, "rooms_sessions back down by 3", `${g.last}, want ${base + 2}`);
  const { m: m1, text: t1 } = await metrics("a");
  for (const [reason, n] of [["removed", 1], ["kicked", 1], ["client_closed", 1]]) {
    check(ended(m1, reason) - ended(m0, reason) === n,
          `rooms_sessions_ended_total{reason="${reason}"} +${n}`,
          `${ended(m0, reason)} -> ${ended(m1, reason)}`);
  }
  check(endedAll(m1) - endedAll(m0) === 3, "no other reason moved",
        `${endedAll(m0)} -> ${endedAll(m1)}`);
  const hc = (m) => m.rooms_session_close_seconds_count;
  check(hc(m1) - hc(m0) === 2
        && m1['rooms_session_close_seconds_bucket{le="+Inf"}'] === hc(m1),
        "rooms_session_close_seconds: one observation per session the gateway ended",
        `count ${hc(m0)} -> ${hc(m1)}, sum ${m1.rooms_session_close_seconds_sum}`);
  check(m1['rooms_session_close_seconds_bucket{le="1"}'] - m0['rooms_session_close_seconds_bucket{le="1"}'] === 2,
        "both closed within 1 s of the decision");
  const pt = promtool(t1);
  check(pt.ok, "promtool check metrics passes with the session families", pt.out);
  check(!/\{[^}]*(room|user)=/.test(t1), "no room or user label");

  close(s[3]); close(s[4]);
  g = await gaugeIs("a", base);
  check(g.ok, "rooms_sessions back where it was once all are closed", `${g.last}, want ${base}`);

  let ev = [];
  const complete = await waitFor(() => (ev = feed(room)).length === 10, 2000);
  check(complete, "the feed has 5 session.started and 5 session.ended", `${ev.length} events`);
  const started = ev.filter((e) => e.type === "session.started");
  check(started.length === 5 && started.every((e) => e.gateway === "gw-a" && e.role === "Attendee"
                                                     && u.includes(e.user) && e.reason === undefined
                                                     && /^\d{4}-\d\d-\d\dT.*\+00:00$/.test(e.time)),
        "session.started: time, room, user, role, gateway", JSON.stringify(started[0]));
  check(u.every((x) => {
    const i = ev.findIndex((e) => e.user === x && e.type === "session.started");
    const j = ev.findIndex((e) => e.user === x && e.type === "session.ended");
    return i >= 0 && j > i;
  }), "each session's start comes before its end");
  const why = ev.filter((e) => e.type === "session.ended").map((e) => `${u.indexOf(e.user)}:${e.reason}`);
  check(why.slice(0, 3).join() === "0:removed,1:kicked,2:client closed"
        && why.slice(3).sort().join() === "3:client closed,4:client closed",
        "session.ended in order, with $rooms_session_end's reasons", why.join());
  check(ev.filter((e) => e.type === "session.ended").every((e) => e.gateway === "gw-a" && e.role === undefined),
        "session.ended names the gateway");
};

scenarios.basic = async () => {
  const alice = newUser(), bob = newUser();
  const room = await createRoom({ [alice]: "Presenter", [bob]: "Attendee" });
  const a = await wsJoin("a", `/ws/${room}`, alice);
  const b = await wsJoin("b", `/ws/${room}`, bob);
  check(a.status === 101 && b.status === 101, "an invitee's WebSocket is switched on each gateway",
        `${a.status} ${b.status}`);
  const echo = await new Promise((r) => { a.ws.once("message", (m) => r(String(m))); a.ws.send("hi"); });
  check(echo === "hi", "the upstream echoes through a live session");
  const l = await listing(room, "b");
  const seen = (l.json?.value || []).map((e) => `${e.rawId} ${e.role} ${e.gateway}`).sort();
  check(l.status === 200 && l.json.maxParticipants === 350
        && seen.join("|") === [`${alice} Presenter gw-a`, `${bob} Attendee gw-b`].sort().join("|"),
        "GET /rooms/{id}/sessions lists who is connected, with role and gateway", l.text);
  check((l.json?.value || []).every((e) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$/.test(e.connectedAt)),
        "connectedAt is an ACS date");
  const stranger = await wsJoin("a", `/ws/${room}`, newUser());
  check(stranger.status === 403 && !upstream.ws.has(stranger.user),
        "an uninvited user is refused and never reaches the upstream", `${stranger.status}`);
  close(a);
  const freed = await waitFor(async () => {
    const x = await listing(room);
    return x.json && x.json.value.length === 1 && x.json.value[0].rawId === bob;
  }, 1000);
  check(freed, "a closed connection frees its seat at once (listing)");
  check(await endedWith("a", alice, "client closed"), "$rooms_session_end: client closed");
  b.ws.send("close-me");
  check(await waitFor(() => b.closed, 2000), "the upstream closing ends the client's connection");
  check(await endedWith("b", bob, "upstream closed"), "$rooms_session_end: upstream closed");
  const plain = await wsJoin("a", `/plain/${room}`, alice);
  const l2 = await listing(room);
  check(plain.status === 101 && l2.json.value.length === 0,
        "rooms_session off: admitted, but no session and no seat");
  close(plain);
};

scenarios.removed = async () => {
  const alice = newUser(), bob = newUser(), carol = newUser(), dave = newUser();
  const room = await createRoom({ [alice]: "Attendee", [bob]: "Attendee", [carol]: "Presenter",
                                  [dave]: "Attendee" });
  const st = await streamJoin("b", room, alice);
  const b = await wsJoin("b", `/ws/${room}`, bob);
  const c = await wsJoin("a", `/presenters/${room}`, carol);
  const d = await wsJoin("a", `/ws/${room}`, dave);
  check(st.open && b.status === 101 && c.status === 101 && d.status === 101,
        "sessions open: an HTTP stream and WebSockets on two gateways");
  const r = await patch(room, { [bob]: null });
  const t0 = Date.now();
  check(r.status === 200, "PATCH removes bob");
  check(await waitFor(() => b.closed, 2000), "bob's WebSocket is closed", `${latency(b, t0)} ms`);
  check(b.code === 1006, "the client sees 1006", `${b.code}`);
  check(await endedWith("b", bob, "removed"), "$rooms_session_end: removed");
  check(await waitFor(() => !upstream.ws.get(bob), 1000), "the upstream saw bob's connection end");
  await sleep(200);
  check(!c.closed && !d.closed && !st.closed, "the other sessions in the room go on");
  const r2 = await patch(room, { [carol]: { role: "Attendee" } });
  check(r2.status === 200 && await waitFor(() => c.closed, 2000),
        "a role that rooms_roles no longer allows ends the session");
  check(await endedWith("a", carol, "role changed"), "$rooms_session_end: role changed");
  const r3 = await patch(room, { [dave]: { role: "Presenter" } });
  await sleep(300);
  check(r3.status === 200 && !d.closed, "a role change that the location allows keeps the session");
  const l = await listing(room);
  check(l.json.value.find((e) => e.rawId === dave)?.role === "Presenter", "the listing shows the new role");
  await patch(room, { [alice]: null });
  check(await waitFor(() => st.closed, 2000), "a plain HTTP stream is ended by a removal");
  check(await endedWith("b", alice, "removed"), "the stream's $rooms_session_end: removed");
  check(await waitFor(() => !upstream.streams.get(alice), 1000), "the upstream saw the stream end");
  const again = await wsJoin("a", `/ws/${room}`, bob);
  check(again.status === 403, "a removed user is refused afterwards");
  close(d);
};

scenarios.deleted = async () => {
  const u = [newUser(), newUser(), newUser()];
  const room = await createRoom({ [u[0]]: "Attendee", [u[1]]: "Attendee" });
  const other = await createRoom({ [u[2]]: "Attendee" });
  const s = [await wsJoin("a", `/ws/${room}`, u[0]), await wsJoin("b", `/ws/${room}`, u[1]),
             await wsJoin("b", `/ws/${other}`, u[2])];
  check(s.every((x) => x.status === 101), "three sessions in two rooms");
  const r = await api("DELETE", `/rooms/${room}?${V}`);
  const t0 = Date.now();
  check(r.status === 204, "the room is deleted");
  check(await waitFor(() => s[0].closed && s[1].closed, 2000), "both gateways close the room's sessions",
        `${latency(s[0], t0)} ms, ${latency(s[1], t0)} ms`);
  check(await endedWith("a", u[0], "room deleted") && await endedWith("b", u[1], "room deleted"),
        "$rooms_session_end: room deleted");
  await sleep(200);
  check(!s[2].closed, "the other room's session goes on");
  const l = await listing(room);
  check(l.status === 404, "GET sessions of a deleted room is 404", `${l.status}`);
  check(redis("EXISTS", `rooms:{${room}}:s`, `rooms:{${room}}:g`) === "0",
        "the room's seats went with it");
  close(s[2]);
};

scenarios.expired = async () => {
  const u = newUser();
  const until = new Date(Date.now() + 2500).toISOString();
  const room = await createRoom({ [u]: "Attendee" }, { validUntil: until });
  const s = await wsJoin("b", `/ws/${room}`, u);
  check(s.status === 101, "a session in a room valid 2.5 s more");
  check(await waitFor(() => s.closed, 4000), "closed at validUntil by the room's timer",
        s.closedAt ? `${s.closedAt - Date.parse(until)} ms after` : "");
  check(await endedWith("b", u, "room expired"), "$rooms_session_end: room expired");
};

scenarios.revoked = async () => {
  const u = await createIdentity(), v = await createIdentity();
  const room = await createRoom({ [u]: "Attendee", [v]: "Attendee" });
  const other = await createRoom({ [u]: "Attendee" });
  const s = [await wsJoin("a", `/ws/${room}`, u), await wsJoin("b", `/ws/${other}`, u),
             await wsJoin("b", `/ws/${room}`, v)];
  check(s.every((x) => x.status === 101), "a user in two rooms on two gateways");
  const r = await api("POST", `/identities/${esc(u)}/:revokeAccessTokens?api-version=2023-10-01`);
  check(r.status === 204, "the user's tokens are revoked");
  check(await waitFor(() => s[0].closed && s[1].closed, 2000), "every session of the user is closed");
  check(await endedWith("a", u, "revoked") && await endedWith("b", u, "revoked"),
        "$rooms_session_end: revoked");
  await sleep(200);
  check(!s[2].closed, "another user's session goes on");
  const d = await api("DELETE", `/identities/${esc(v)}?api-version=2023-10-01`);
  check(d.status === 204 && await waitFor(() => s[2].closed, 2000), "deleting an identity ends its sessions");
  check(await endedWith("b", v, "identity deleted"), "$rooms_session_end: identity deleted");
};

scenarios.token = async () => {
  const u = newUser(), w = newUser();
  const room = await createRoom({ [u]: "Attendee", [w]: "Attendee" });
  const exp = Math.floor(Date.now() / 1000) + 2;
  const s = await wsJoin("a", `/ws/${room}`, u, { token: token(u, { exp }) });
  const f = await wsJoin("a", `/forever/${room}`, w, { token: token(w, { exp }) });
  check(s.status === 101 && f.status === 101, "sessions with a token valid 2 s more");
  check(await waitFor(() => s.closed, 4000), "closed when the token expires",
        s.closedAt ? `${s.closedAt - exp * 1000} ms after exp` : "");
  check(await endedWith("a", u, "token expired"), "$rooms_session_end: token expired");
  check(!f.closed, "rooms_session_expire off: the session outlives its token");
  close(f);
};

scenarios.replaced = async () => {
  const u = newUser(), w = newUser();
  const room = await createRoom({ [u]: "Attendee", [w]: "Attendee" });
  const s1 = await wsJoin("a", `/ws/${room}`, u);
  const s2 = await wsJoin("b", `/ws/${room}`, u);
  check(s1.status === 101 && s2.status === 101, "a second session of a user on the other gateway");
  check(await waitFor(() => s1.closed, 2000), "replace: the older one is closed", `${latency(s1, s2.openedAt)} ms`);
  check(await endedWith("a", u, "replaced"), "$rooms_session_end: replaced");
  const s3 = await wsJoin("b", `/ws/${room}`, u);
  check(s3.status === 101 && await waitFor(() => s2.closed, 2000) && !s3.closed,
        "replace on the same gateway: the older one goes, the newer stays");
  const l = await listing(room);
  check(l.json.value.length === 1 && l.json.value[0].gateway === "gw-b", "one seat for the user");
  const r1 = await wsJoin("a", `/reject/${room}`, u);
  check(r1.status === 403 && ends("a", u).length >= 1, "reject: refused while the user has a session",
        `${r1.status}`);
  check(await waitFor(() => readFileSync(`${DIR}/a/logs/access.log`, "utf8")
                           .includes(`deny="already in the room"`), 1000),
        "$rooms_deny_reason: already in the room");
  const x1 = await wsJoin("a", `/allow/${room}`, w);
  const x2 = await wsJoin("b", `/allow/${room}`, w);
  await sleep(300);
  const l2 = await listing(room);
  check(x1.status === 101 && x2.status === 101 && !x1.closed && !x2.closed
        && l2.json.value.filter((e) => e.rawId === w).length === 1,
        "allow: both sessions stay, on one seat");
  close(x1);
  await sleep(200);
  const l3 = await listing(room);
  check(l3.json.value.some((e) => e.rawId === w), "allow: the seat stays while one session remains");
  close(x2); close(s3);
};

scenarios.kicked = async () => {
  const u = newUser(), k = newUser(), w = newUser();
  const room = await createRoom({ [u]: "Attendee", [k]: "Attendee", [w]: "Attendee" });
  const h = await h2Join(room, u);
  const s = [await wsJoin("b", `/ws/${room}`, k), await wsJoin("b", `/ws/${room}`, w)];
  check(h.open && s[0].status === 101 && s[1].status === 101, "an HTTP/2 stream and WebSockets");
  const r = await api("DELETE", `/rooms/${room}/sessions/${esc(u)}?${V}`);
  const t0 = Date.now();
  check(r.status === 204, "DELETE /rooms/{id}/sessions/{rawId} is 204", `${r.status} ${r.text}`);
  check(await waitFor(() => h.closed, 2000), "the HTTP/2 stream is reset", `rst ${h.rst}, ${latency(h, t0)} ms`);
  check(await endedWith("a", u, "kicked"), "the stream's $rooms_session_end: kicked");
  const r2 = await api("DELETE", `/rooms/${room}/sessions/${esc(k)}?${V}`, undefined, "b");
  check(r2.status === 204 && await waitFor(() => s[0].closed, 2000), "a kicked WebSocket is closed");
  check(await endedWith("b", k, "kicked"), "$rooms_session_end: kicked");
  await sleep(200);
  check(!s[1].closed, "another user's session goes on");
  const again = await wsJoin("a", `/ws/${room}`, k);
  check(again.status === 101, "a kicked user may join again (still invited)");
  const l = await listing(room);
  check(l.json.value.map((e) => e.rawId).sort().join() === [k, w].sort().join(), "the listing shows both");
  const nf = await api("DELETE", `/rooms/123456789012345678/sessions/${esc(u)}?${V}`);
  const bad = await api("DELETE", `/rooms/${room}/sessions/nobody?${V}`);
  check(nf.status === 404 && bad.status === 400, "kick: 404 for an unknown room, 400 for a bad raw id",
        `${nf.status} ${bad.status}`);
  close(again); close(s[1]); close(h);
};

scenarios.cap = async () => {
  const users = Array.from({ length: 400 }, newUser);
  const p = {};
  for (const u of users) p[u] = { role: "Attendee" };
  const r = await api("POST", `/rooms?${V}`, { participants: p });
  const room = r.json.id;
  const t0 = Date.now();
  const all = await Promise.all(users.map((u, i) => wsJoin(i % 2 ? "a" : "b", `/ws/${room}`, u)));
  const ok = all.filter((s) => s.status === 101);
  const full = all.filter((s) => s.status === 403);
  check(ok.length === 350 && full.length === 50,
        "400 simultaneous joins through two gateways seat exactly 350",
        `${ok.length} admitted, ${full.length} refused, ${Date.now() - t0} ms`);
  check(full.every((s) => s.errorCode === "RoomFull" && /"RoomFull"/.test(s.body || "")),
        "each refusal is 403 RoomFull");
  check(await waitFor(() => ["a", "b"].some((g) => readFileSync(`${DIR}/${g}/logs/access.log`, "utf8")
                                                   .includes('deny="room is full"')), 1000),
        "$rooms_deny_reason: room is full");
  const l = await listing(room);
  const listed = new Set(l.json.value.map((e) => e.rawId));
  check(l.json.value.length === 350 && ok.every((s) => listed.has(s.user)),
        "the listing is exactly who is connected");
  check(redis("HLEN", `rooms:{${room}}:s`) === "350", "350 seats in Redis");
  for (const s of ok.slice(0, 10)) close(s);
  await sleep(300 * SLOW);
  const again = await Promise.all(full.slice(0, 12).map((s) => wsJoin("a", `/ws/${room}`, s.user)));
  check(again.filter((s) => s.status === 101).length === 10,
        "freed seats are taken again at once, no more", again.map((s) => s.status).join(","));
  const t1 = Date.now();
  await api("DELETE", `/rooms/${room}?${V}`);
  const live = ok.slice(10).concat(again.filter((s) => s.status === 101));
  check(await waitFor(() => live.every((s) => s.closed), 5000), "deleting the full room closes all 350",
        `p50 ${pct(live.map((s) => latency(s, t1)), 50)} ms, p99 ${pct(live.map((s) => latency(s, t1)), 99)} ms`);
};

function pct(a, p) {
  const s = a.slice().sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor((s.length - 1) * p / 100))];
}

// workers stopped (SIGTERM: nginx -s stop's signal) with sessions open:
// their cleanups never run, so exit_process ends them as shutdown
scenarios.shutdown = async () => {
  const u = [newUser(), newUser(), newUser()];
  const p = {};
  u.forEach((x) => (p[x] = "Attendee"));
  const room = await createRoom(p);
  const { m: m0 } = await metrics("b");
  const base = m0.rooms_sessions;
  const s = [];
  for (const x of u) s.push(await wsJoin("b", `/ws/${room}`, x));
  check(s.every((x) => x.status === 101) && (await gaugeIs("b", base + 3)).ok,
        "3 sessions on gateway B");
  const master = readFileSync(`${DIR}/b/nginx.pid`, "utf8").trim();
  const pids = execFileSync("pgrep", ["-P", master], { encoding: "utf8" }).trim().split("\n").map(Number);
  for (const pid of pids) process.kill(pid, "SIGTERM");
  check(await waitFor(() => s.every((x) => x.closed), 3000), "stopping B's workers closes the sessions");
  const respawned = await waitFor(() => {
    const now = execFileSync("pgrep", ["-P", master], { encoding: "utf8" }).trim().split("\n").map(Number);
    return now.length === pids.length && !now.some((x) => pids.includes(x));
  }, 3000);
  check(respawned, "the master starts new workers");
  const g = await gaugeIs("b", base);
  check(g.ok, "rooms_sessions: the stopped workers' sessions are no longer counted", `${g.last}, want ${base}`);
  const { m: m1 } = await metrics("b");
  check(ended(m1, "shutdown") - ended(m0, "shutdown") === 3 && endedAll(m1) - endedAll(m0) === 3,
        'rooms_sessions_ended_total{reason="shutdown"} +3, and nothing else',
        `${ended(m0, "shutdown")} -> ${ended(m1, "shutdown")}`);
  check(m1.rooms_session_close_seconds_count === m0.rooms_session_close_seconds_count,
        "no close time for sessions nginx stopped");
  await sleep(300);
  const ev = feed(room);
  check(ev.filter((e) => e.type === "session.started").length === 3
        && !ev.some((e) => e.type === "session.ended"),
        "the feed: their starts, and no end from a stopped worker", `${ev.length} events`);
};

scenarios.killed = async () => {
  const users = [newUser(), newUser(), newUser(), newUser()];
  const p = {};
  users.forEach((u) => (p[u] = "Attendee"));
  const room = await createRoom(p);
  const c = spawnSync("nginx", ["-p", `${DIR}/c`, "-c", `${DIR}/c/nginx.conf`, "-e", `${DIR}/c/logs/error.log`],
    { env: { ...env, ...(env.SESSIONS_PRELOAD ? { LD_PRELOAD: env.SESSIONS_PRELOAD } : {}) } });
  check(c.status === 0, "gateway C starts (rooms_max_participants 3)");
  await sleep(500);
  const s = await Promise.all(users.map((u) => wsJoin("c", `/ws/${room}`, u)));
  check(s.filter((x) => x.status === 101).length === 3 && s.filter((x) => x.status === 403).length === 1,
        "gateway C seats 3 of 4");
  const l = await listing(room);
  check(l.json.value.length === 3 && l.json.value.every((e) => e.gateway === "gw-c"), "listed on gateway C");
  const master = +readFileSync(`${DIR}/c/nginx.pid`, "utf8");
  const pids = execFileSync("pgrep", ["-P", String(master)], { encoding: "utf8" }).trim().split("\n").map(Number);
  for (const pid of [master, ...pids]) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } }
  const t0 = Date.now();
  const gone = await waitFor(async () => (await listing(room)).json.value.length === 0, LEASE + 2000);
  check(gone, "a kill -9'd gateway's seats are gone from the listing within the lease",
        `${Date.now() - t0} ms, lease ${LEASE} ms`);
  const back = await wsJoin("a", `/ws/${room}`, users[3]);
  check(back.status === 101 && redis("HLEN", `rooms:{${room}}:s`) === "1",
        "and free for a join through another gateway");
  close(back);
};

scenarios.listing = async () => {
  const users = Array.from({ length: 12 }, newUser);
  const p = {};
  users.forEach((u) => (p[u] = "Attendee"));
  const room = await createRoom(p);
  const s = await Promise.all(users.map((u, i) => wsJoin(i % 2 ? "a" : "b", `/ws/${room}`, u)));
  for (const x of s.slice(0, 5)) close(x);
  await patch(room, { [users[6]]: null });
  await api("DELETE", `/rooms/${room}/sessions/${esc(users[7])}?${V}`);
  const want = [users[5], ...users.slice(8)].sort().join();
  const match = await waitFor(async () => {
    const l = await listing(room, "b");
    return l.json.value.map((e) => e.rawId).sort().join() === want;
  }, 1500);
  check(match, "after closes, a removal and a kick, the listing is who is still connected",
        match ? "" : JSON.stringify((await listing(room, "b")).json.value.map((e) => users.indexOf(e.rawId))));
  await sleep(LEASE + 500);
  const l = await listing(room);
  check(l.json.value.map((e) => e.rawId).sort().join() === want, "and stays so over a lease (renewals)");
  const stats = await Promise.all([1, 2, 3, 4].map(() => fetch(`http://127.0.0.1:${PORT.a}/stats`).then((r) => r.text())));
  check(stats.every((t) => /sessions=\d+ rooms=\d+ bytes=\d+/.test(t)), "$rooms_sessions_stats", stats[0].trim());
  for (const x of s) close(x);
  await sleep(300);
  const l2 = await listing(room);
  check(l2.json.value.length === 0, "everyone gone: an empty listing");
  const bad = await api("GET", `/rooms/0123/sessions?${V}`);
  const nf = await api("GET", `/rooms/123456789012345678/sessions?${V}`);
  const na = await api("POST", `/rooms/${room}/sessions?${V}`, {});
  check(bad.status === 400 && nf.status === 404 && na.status === 405, "400, 404, 405 as the other room endpoints",
        `${bad.status} ${nf.status} ${na.status}`);
};

scenarios.missed = async () => {
  const u = newUser(), w = newUser(), x = newUser();
  const room = await createRoom({ [u]: "Attendee", [w]: "Attendee", [x]: "Attendee" });
  const s = [await wsJoin("a", `/ws/${room}`, u), await wsJoin("b", `/ws/${room}`, w),
             await wsJoin("b", `/ws/${room}`, x)];
  // removed behind the gateways' back: no event
  redis("HDEL", `rooms:{${room}}:p`, u);
  await sleep(300);
  check(!s[0].closed, "a change without its event is not seen yet");
  redis("CLIENT", "KILL", "TYPE", "pubsub");
  check(await waitFor(() => s[0].closed, 3000), "after a resubscription, every live session is checked again");
  check(await endedWith("a", u, "removed"), "$rooms_session_end: removed (found by the check)");
  redis("HDEL", `rooms:{${room}}:p`, w);
  await createRoom({ [x]: "Attendee" });       // a real event, then a gap
  await sleep(100);
  const seq = +redis("GET", "rooms:events:seq");
  redis("PUBLISH", "rooms:events:0", `${seq + 5} r 123456789012345678`);
  redis("SET", "rooms:events:seq", String(seq + 5));
  check(await waitFor(() => s[1].closed, 3000), "a gap in the events numbers checks every session again");
  await sleep(200);
  check(!s[2].closed, "sessions the check finds valid go on");
  close(s[2]);
};

scenarios.reload = async () => {
  const u = newUser(), w = newUser(), v = newUser();
  const room = await createRoom({ [u]: "Attendee", [w]: "Attendee", [v]: "Attendee" });
  const base = (await metrics("a")).m.rooms_sessions;
  const s = [await wsJoin("a", `/ws/${room}`, u), await wsJoin("a", `/ws/${room}`, w)];
  check((await gaugeIs("a", base + 2)).ok, "rooms_sessions +2 before the reload");
  const master = readFileSync(`${DIR}/a/nginx.pid`, "utf8").trim();
  const before = execFileSync("pgrep", ["-P", master], { encoding: "utf8" }).trim().split("\n");
  execFileSync("nginx", ["-p", `${DIR}/a`, "-c", `${DIR}/a/nginx.conf`, "-e", `${DIR}/a/logs/error.log`, "-s", "reload"],
    { env: { ...env, ...(env.SESSIONS_PRELOAD ? { LD_PRELOAD: env.SESSIONS_PRELOAD } : {}) } });
  await sleep(1000);
  const after = execFileSync("pgrep", ["-P", master], { encoding: "utf8" }).trim().split("\n");
  check(before.some((p) => after.includes(p)), "old workers stay for their live sessions after a reload");
  let g = await gaugeIs("a", base + 2);
  check(g.ok, "rooms_sessions still counts the old workers' sessions after the reload", `${g.last}`);
  await sleep(LEASE + 500);
  const l = await listing(room);
  check(l.json.value.length === 2, "their seats are renewed while they drain", `${l.json.value.length} listed`);
  const n = await wsJoin("a", `/ws/${room}`, v);
  check(n.status === 101, "a new worker admits a new session");
  g = await gaugeIs("a", base + 3);
  check(g.ok, "rooms_sessions: old workers' and new workers' sessions", `${g.last}`);
  redis("CLIENT", "KILL", "TYPE", "pubsub");
  await sleep(500);
  await patch(room, { [u]: null });
  check(await waitFor(() => s[0].closed, 3000), "an old worker still ends a removed session (after a resubscription)");
  check(await endedWith("a", u, "removed"), "$rooms_session_end: removed, from an old worker");
  close(s[1]);
  const drained = await waitFor(() => {
    const now = execFileSync("pgrep", ["-P", master], { encoding: "utf8" }).trim().split("\n");
    return !before.some((p) => now.includes(p));
  }, 3000);
  check(drained, "old workers exit once their last session ends");
  const l2 = await waitFor(async () => (await listing(room)).json.value.length === 1, 1000);
  check(l2, "their seats went with them");
  g = await gaugeIs("a", base + 1);
  check(g.ok, "rooms_sessions: the drained workers' sessions ended once each", `${g.last}`);
  close(n);
  g = await gaugeIs("a", base);
  check(g.ok, "rooms_sessions back to where it was", `${g.last}`);
};

// --- run -------------------------------------------------------------------

const all = MODE === "valgrind"
  ? ["accounting", "basic", "removed", "deleted", "revoked", "token", "replaced", "kicked", "missed"]
  : ["accounting", "basic", "removed", "deleted", "expired", "revoked", "token", "replaced", "kicked",
     "listing", "missed", "shutdown", "killed", "cap", "reload"];
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : all;
const t0 = Date.now();

for (const name of chosen) {
  console.log(`== ${name}`);
  try {
    await scenarios[name]();
  } catch (e) {
    check(false, `${name}: ${e.stack || e}`);
  }
}

// every scenario closed what it opened: each gateway's gauge is back to 0
if (process.argv.slice(2).length === 0) {
  for (const gw of ["a", "b"]) {
    const g = await gaugeIs(gw, 0, 3000);
    check(g.ok, `after every scenario, gateway ${gw.toUpperCase()}'s rooms_sessions is 0`, `${g.last}`);
  }
}

console.log(`sessions (${MODE}): ${((Date.now() - t0) / 1000).toFixed(1)} s`);
if (failures.length) console.log(`failed: ${failures.join("; ")}`);
console.log(`sessions: ${passed} passed, ${failed} failed`);
server.close();
wss.close();
process.exit(failed ? 1 : 0);
