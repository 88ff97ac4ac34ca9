// Data, tokens and signed requests for scripts/bench.  Node's own modules only.
//
//   node bench/gen.mjs keys DIR
//       DIR/jwks.json: the gateway's verify-only JWKS (one Ed25519 key);
//       DIR/signing.jwk: its private half, for "data" to sign tokens with
//
//   node bench/gen.mjs data DIR TAG ROOMS PARTS PAIRS [all]
//       DIR/TAG.resp: RESP commands for redis-cli --pipe: ROOMS rooms laid
//       out as the API stores them (rooms:{ID} hash c/f/u/p, rooms:{ID}:p
//       rawId -> role, rooms:index), PARTS participants each, plus
//       rooms:user:{RAWID} for the users that get tokens;
//       DIR/TAG.pairs: "roomId token" lines, PAIRS invitees drawn uniformly
//       over the whole room set (or, with "all", every invitee once).  Each
//       line has its own token, even when an invitee is drawn twice.
//       TAG is one digit: it is part of every room and user id, so data
//       sets never share a key (nor an entry of the admission cache).
//
//   node bench/gen.mjs sign KEY HOST METHOD PATH BODYFILE OUT
//       OUT: one ACS HMAC-signed request for bench/api.lua to replay
//       (the signature holds for 15 minutes)
//
//   node bench/gen.mjs acs ENDPOINT KEY METHOD PATH [BODYFILE]
//       sends one signed request; prints the status, then the body
//
//   node bench/gen.mjs patchbody N
//       a participants PATCH body adding N "8:acs:..." ids
//
// Data is deterministic for a given TAG (a seeded PRNG); tokens are new on
// every run, since the key is.

import { createHash, createHmac, createPrivateKey, generateKeyPairSync,
         randomUUID, sign } from "node:crypto";
import { closeSync, openSync, readFileSync, writeFileSync,
         writeSync } from "node:fs";

const RESOURCE = "00000000-0000-4000-8000-000000000000";
const ROLES = ["Presenter", "Attendee", "Consumer", "Collaborator"];

function die(msg) {
    process.stderr.write(`gen.mjs: ${msg}\n`);
    process.exit(2);
}

function b64url(buf) {
    return Buffer.from(buf).toString("base64url");
}

/* a small seeded PRNG (mulberry32), so data sets are reproducible */
function prng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function hex(n, width) {
    return (n >>> 0).toString(16).padStart(width, "0").slice(-width);
}

/* 17 digits, like the API's ids: "1", the tag, the index */
function roomId(tag, i) {
    return "1" + tag + String(i).padStart(15, "0");
}

/* an ACS communication user id, unique per (tag, room, slot) */
function userId(tag, ri, k) {
    const h = Math.imul(ri ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35);
    return `8:acs:${RESOURCE}_${tag}${hex(ri, 7)}-${hex(k, 4)}-4${hex(h, 3)}`
           + `-8${hex(h >>> 12, 3)}-${hex(h, 8)}${hex(ri + k, 4)}`;
}

/* RESP writer with a big buffer: redis-cli --pipe reads it */
class Resp {
    constructor(path) {
        this.fd = openSync(path, "w");
        this.parts = [];
        this.size = 0;
        this.commands = 0;
    }

    cmd(args) {
        let s = `*${args.length}\r\n`;
        for (const a of args) {
            s += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
        }
        this.parts.push(s);
        this.size += s.length;
        this.commands++;
        if (this.size > 8 << 20) {
            this.flush();
        }
    }

    flush() {
        if (this.parts.length) {
            writeSync(this.fd, this.parts.join(""));
        }
        this.parts = [];
        this.size = 0;
    }

    close() {
        this.flush();
        closeSync(this.fd);
    }
}

function keys(dir) {
    const { privateKey } = generateKeyPairSync("ed25519");
    const priv = privateKey.export({ format: "jwk" });
    const kid = randomUUID();

    priv.kid = kid;
    priv.alg = "EdDSA";
    priv.use = "sig";

    const pub = { kty: priv.kty, crv: priv.crv, x: priv.x, kid, alg: "EdDSA",
                  use: "sig" };

    writeFileSync(`${dir}/jwks.json`, JSON.stringify({ keys: [pub] }) + "\n");
    writeFileSync(`${dir}/signing.jwk`, JSON.stringify(priv) + "\n",
                  { mode: 0o600 });
}

function data(dir, tag, rooms, parts, npairs, all) {
    if (!/^[0-9]$/.test(tag)) die("TAG is one digit");
    if (!(rooms > 0 && parts > 0 && parts <= 65535)) die("bad ROOMS/PARTS");

    const jwk = JSON.parse(readFileSync(`${dir}/signing.jwk`, "utf8"));
    const key = createPrivateKey({ key: jwk, format: "jwk" });
    const header = b64url(JSON.stringify({ alg: "EdDSA", kid: jwk.kid,
                                           typ: "JWT" }));
    const rnd = prng(0x5eed0000 + Number(tag));
    const nowS = Math.floor(Date.now() / 1000);
    const nowUs = BigInt(Date.now()) * 1000n;
    const from = String(nowUs - 3600n * 1000000n);
    const until = String(nowUs + 179n * 86400n * 1000000n);
    const created = String(nowUs);

    /* the pairs first: which invitees get tokens */
    const picks = [];
    if (all) {
        for (let ri = 0; ri < rooms; ri++) {
            for (let k = 0; k < parts; k++) {
                picks.push([ri, k]);
            }
        }
    } else {
        for (let i = 0; i < npairs; i++) {
            picks.push([Math.floor(rnd() * rooms), Math.floor(rnd() * parts)]);
        }
        /* spread over the room set, not sorted by room */
    }

    const issued = new Map();
    const lines = [];
    const users = new Set();

    for (const [ri, k] of picks) {
        const sub = userId(tag, ri, k);
        const n = issued.get(sub) || 0;
        issued.set(sub, n + 1);
        users.add(sub);

        /* a second token of the same user differs by its iat */
        const payload = b64url(JSON.stringify({ sub, iat: nowS - 60 - n,
                                                exp: nowS + 86400 }));
        const input = `${header}.${payload}`;
        const sig = sign(null, Buffer.from(input), key);
        lines.push(`${roomId(tag, ri)} ${input}.${b64url(sig)}`);
    }

    writeFileSync(`${dir}/${tag}.pairs`, lines.join("\n") + "\n");

    const out = new Resp(`${dir}/${tag}.resp`);
    const chunk = 1000;

    for (let ri = 0; ri < rooms; ri++) {
        const id = roomId(tag, ri);
        out.cmd(["HSET", `rooms:{${id}}`, "c", created, "f", from, "u", until,
                 "p", "0"]);

        for (let k0 = 0; k0 < parts; k0 += chunk) {
            const args = ["HSET", `rooms:{${id}}:p`];
            for (let k = k0; k < Math.min(parts, k0 + chunk); k++) {
                args.push(userId(tag, ri, k), ROLES[k % ROLES.length]);
            }
            out.cmd(args);
        }

        out.cmd(["ZADD", "rooms:index", created, id]);
    }

    for (const sub of users) {
        out.cmd(["HSET", `rooms:user:{${sub}}`, "c", String(nowS - 3600)]);
    }

    out.close();

    process.stdout.write(`rooms=${rooms} participants=${parts} `
                         + `invitees=${rooms * parts} pairs=${lines.length} `
                         + `users_with_tokens=${users.size} `
                         + `commands=${out.commands}\n`);
}

function acsHeaders(key, host, method, path, body) {
    const date = new Date().toUTCString();
    const hash = createHash("sha256").update(body).digest("base64");
    const sts = `${method}\n${path}\n${date};${host};${hash}`;
    const sig = createHmac("sha256", Buffer.from(key, "base64"))
                .update(sts).digest("base64");

    const h = {
        "x-ms-date": date,
        "x-ms-content-sha256": hash,
        "Authorization": "HMAC-SHA256 SignedHeaders=x-ms-date;host;"
                         + `x-ms-content-sha256&Signature=${sig}`,
    };

    if (body.length) {
        h["Content-Type"] = method === "PATCH" ? "application/merge-patch+json"
                                               : "application/json";
    }

    return h;
}

/* the spec bench/api.lua reads: method, path, headers, a blank line, body */
function signSpec(key, host, method, path, bodyfile, out) {
    const body = bodyfile && bodyfile !== "-" ? readFileSync(bodyfile) : Buffer.alloc(0);
    const h = acsHeaders(key, host, method, path, body);
    let s = `${method}\n${path}\nHost: ${host}\n`;
    for (const [k, v] of Object.entries(h)) {
        s += `${k}: ${v}\n`;
    }
    writeFileSync(out, Buffer.concat([Buffer.from(s + "\n"), body]));
}

async function acs(endpoint, key, method, path, bodyfile) {
    const body = bodyfile ? readFileSync(bodyfile) : Buffer.alloc(0);
    const host = new URL(endpoint).host;
    const res = await fetch(endpoint.replace(/\/+$/, "") + path, {
        method,
        headers: acsHeaders(key, host, method, path, body),
        body: body.length ? body : undefined,
    });
    process.stdout.write(`${res.status}\n${await res.text()}\n`);
}

function patchbody(n) {
    const p = {};
    for (let i = 0; i < n; i++) {
        p[`8:acs:${RESOURCE}_${randomUUID()}`] = { role: ROLES[i % ROLES.length] };
    }
    process.stdout.write(JSON.stringify({ participants: p }));
}

const [cmd, ...a] = process.argv.slice(2);

switch (cmd) {
case "keys":
    keys(a[0]);
    break;
case "data":
    data(a[0], a[1], Number(a[2]), Number(a[3]), Number(a[4]), a[5] === "all");
    break;
case "sign":
    signSpec(a[0], a[1], a[2], a[3], a[4], a[5]);
    break;
case "acs":
    await acs(a[0], a[1], a[2], a[3], a[4]);
    break;
case "patchbody":
    patchbody(Number(a[0]));
    break;
default:
    die("usage: keys | data | sign | acs | patchbody (see the head of this file)");
}
