// Makes JWT / JWKS test vectors for ngx_http_rooms_module/rooms_jwt.c with an
// implementation independent of it: well-formed tokens are signed by the
// `jose` package, crafted ones (bad headers, duplicate keys, alg confusion)
// by node:crypto directly.  Keys are fresh on every run.
//
//   node make-jwt-vectors.mjs [out.json]     (default: ./jwt-vectors.json)
//
// The output is read by lua-free-tests/unit/test_jwt.c:
//
//   now, leeway            the clock of every case
//   jwks  {name: {json, count, can_sign, kids, algs}}
//                          key sets; json is the text handed to C as is
//   cases [{name, jwks, token, now, leeway, expect, claims?}]
//                          expect is rooms_jwt_strerror()'s text ("ok"
//                          for success); claims are checked on "ok",
//                          "expired" and "not yet valid"
//   bad_jwks [{name, json, error}]
//                          key sets that must be refused with a reason
//                          containing error
//   sign_sets [{name, jwks, alg, kid, public_jwks}]
//                          C signs with jwks (its first key that can sign
//                          must be kid) and check-c-tokens.mjs verifies the
//                          tokens with public_jwks

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as jose from 'jose';

const here = path.dirname(fileURLToPath(import.meta.url));
const outFile = process.argv[2] ?? path.join(here, 'jwt-vectors.json');

const NOW = 1700000000;
const LEEWAY = 30;
const TIME_MAX = 253402300799;
const MAX_TOKEN = 8192;

const b64u = (buf) => Buffer.from(buf).toString('base64url');
const json = (v) => JSON.stringify(v);

// ---------------------------------------------------------------- keys

function secretKey(kid, bytes = 32) {
    const k = crypto.randomBytes(bytes);
    return {
        alg: 'HS256', kid,
        priv: crypto.createSecretKey(k),
        jwkPriv: { kty: 'oct', kid, k: b64u(k) },
        jwkPub: null,
    };
}

function pairKey(alg, kid, type, opts) {
    const { privateKey, publicKey } = crypto.generateKeyPairSync(type, opts);
    return {
        alg, kid, priv: privateKey, pub: publicKey,
        jwkPriv: { ...privateKey.export({ format: 'jwk' }), kid },
        jwkPub: { ...publicKey.export({ format: 'jwk' }), kid },
    };
}

const K = {
    hs1: secretKey('hs-1'),
    hs2: secretKey('hs-2', 64),
    ed1: pairKey('EdDSA', 'ed-1', 'ed25519'),
    ed2: pairKey('EdDSA', 'ed-2', 'ed25519'),
    es1: pairKey('ES256', 'es-1', 'ec', { namedCurve: 'P-256' }),
    es2: pairKey('ES256', 'es-2', 'ec', { namedCurve: 'P-256' }),
    rs1: pairKey('RS256', 'rs-1', 'rsa', { modulusLength: 2048 }),
    rs2: pairKey('RS256', 'rs-2', 'rsa', { modulusLength: 3072 }),
};

// optional members on some keys, as real issuers write them
Object.assign(K.hs2.jwkPriv, { alg: 'HS256', use: 'sig' });
for (const k of [K.ed2, K.es2, K.rs2]) {
    Object.assign(k.jwkPriv, { alg: k.alg, use: 'sig' });
    Object.assign(k.jwkPub, { alg: k.alg, use: 'sig' });
}

const ALGS = ['HS256', 'EdDSA', 'ES256', 'RS256'];
const FIRST = { HS256: K.hs1, EdDSA: K.ed1, ES256: K.es1, RS256: K.rs1 };
const SECOND = { HS256: K.hs2, EdDSA: K.ed2, ES256: K.es2, RS256: K.rs2 };

// ---------------------------------------------------------------- key sets

const jwks = {};

function addJwks(name, keys, extra = {}) {
    const doc = { keys };
    jwks[name] = {
        json: JSON.stringify(doc, null, extra.pretty ? 2 : 0),
        count: keys.length,
        can_sign: keys.some((k) => k.kty === 'oct' || 'd' in k) ? 1 : 0,
        kids: keys.map((k) => k.kid),
        algs: keys.map((k) => ({ oct: 'HS256', OKP: 'EdDSA', EC: 'ES256',
                                 RSA: 'RS256' })[k.kty]),
    };
    return name;
}

const all = Object.values(K);
addJwks('private', all.map((k) => k.jwkPriv), { pretty: true });
addJwks('public', all.filter((k) => k.jwkPub).map((k) => k.jwkPub));
addJwks('hs-only', [K.hs1.jwkPriv, K.hs2.jwkPriv]);

// ------------------------------------------------------------ sign sets

function noCrt(jwk) {
    const { p, q, dp, dq, qi, ...rest } = jwk;
    return rest;
}

const signSets = [];

function addSignSet(name, keys, signer, publicKeys) {
    addJwks(name, keys);
    signSets.push({
        name, jwks: name, alg: signer.alg, kid: signer.kid,
        public_jwks: { keys: publicKeys },
    });
}

for (const alg of ALGS) {
    for (const k of [FIRST[alg], SECOND[alg]]) {
        addSignSet(`sign-${k.kid}`, [k.jwkPriv], k, [k.jwkPub ?? k.jwkPriv]);
    }
}
addSignSet('sign-rs-1-no-crt', [noCrt(K.rs1.jwkPriv)], K.rs1,
           [K.rs1.jwkPub]);
// the first key that can sign is es-1, after two public-only keys
addSignSet('sign-first-signer',
           [K.ed1.jwkPub, K.rs1.jwkPub, K.es1.jwkPriv, K.hs1.jwkPriv],
           K.es1, [K.es1.jwkPub]);

// ---------------------------------------------------------------- signing

// independent implementation #1: jose, for well-formed tokens
const joseKeys = new Map();

async function joseKey(k) {
    if (!joseKeys.has(k.kid)) {
        joseKeys.set(k.kid, await jose.importJWK(k.jwkPriv, k.alg));
    }
    return joseKeys.get(k.kid);
}

async function joseToken(k, claims, header = {}) {
    return new jose.SignJWT(claims)
        .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT', ...header })
        .sign(await joseKey(k));
}

// independent implementation #2: node:crypto over raw header/payload text
function rawSig(alg, key, input) {
    const data = Buffer.from(input);
    switch (alg) {
    case 'HS256':
        return crypto.createHmac('sha256', key).update(data).digest();
    case 'RS256':
        return crypto.sign('sha256', data, key);
    case 'ES256':
        return crypto.sign('sha256', data,
                           { key, dsaEncoding: 'ieee-p1363' });
    case 'EdDSA':
        return crypto.sign(null, data, key);
    default:
        throw new Error(`no ${alg}`);
    }
}

// header and payload are JSON text (or raw bytes) exactly as they go out
function rawToken(k, headerText, payloadText, alg = k.alg) {
    const input = `${b64u(headerText)}.${b64u(payloadText)}`;
    return `${input}.${b64u(rawSig(alg, k.priv, input))}`;
}

function hdr(k, extra = {}) {
    return json({ alg: k.alg, kid: k.kid, typ: 'JWT', ...extra });
}

// ---------------------------------------------------------------- cases

const cases = [];

function add(name, set, token, expect, extra = {}) {
    cases.push({ name, jwks: set, token, now: NOW, leeway: LEEWAY, expect,
                 ...extra });
}

function claimsOf(p, kid) {
    const c = { kid, sub: p.sub, exp: Math.trunc(p.exp) };
    if (p.iat !== undefined) c.iat = Math.trunc(p.iat);
    if (p.nbf !== undefined) c.nbf = Math.trunc(p.nbf);
    if (p.room !== undefined) c.room = p.room;
    if (p.scope !== undefined) c.scope = p.scope;
    else if (p.scp !== undefined) {
        c.scope = Array.isArray(p.scp) ? p.scp.join(' ') : p.scp;
    }
    return c;
}

function tamper(token, part, fn) {
    const parts = token.split('.');
    parts[part] = b64u(fn(Buffer.from(parts[part], 'base64url')));
    return parts.join('.');
}

const base = { sub: 'alice', iat: NOW - 10, exp: NOW + 600 };

for (const alg of ALGS) {
    const k = FIRST[alg];
    const k2 = SECOND[alg];
    const sets = alg === 'HS256' ? ['private', 'hs-only']
                                 : ['private', 'public'];
    const ok = async (name, payload, header = {}, opts = {}) => {
        const t = await joseToken(opts.key ?? k, payload, header);
        for (const set of sets) {
            add(`${alg} ${name} [${set}]`, set, t, 'ok', {
                claims: claimsOf(payload, (opts.key ?? k).kid),
                ...(opts.leeway !== undefined ? { leeway: opts.leeway } : {}),
            });
        }
        return t;
    };
    const bad = (name, token, expect, set = sets[0], extra = {}) =>
        add(`${alg} ${name}`, set, token, expect, extra);

    // --- valid
    const good = await ok('basic', { ...base, room: 'room-1',
                                     scope: 'chat voip' });
    await ok('second key', { ...base, sub: 'bob' }, {}, { key: k2 });
    await ok('nbf in the past', { ...base, nbf: NOW - 5 });
    await ok('nbf within leeway', { ...base, nbf: NOW + LEEWAY });
    await ok('exp within leeway', { ...base, exp: NOW - LEEWAY + 1 });
    await ok('scp array', { ...base, scp: ['chat', 'voip', 'rooms.join'] });
    await ok('scp string', { ...base, scp: 'chat' });
    await ok('empty scp array', { ...base, scp: [] });
    await ok('real numbers', { sub: 'carol', iat: NOW - 10.5,
                               exp: NOW + 600.75, nbf: NOW - 0.25 });
    await ok('typ lowercase', base, { typ: 'jwt' });
    await ok('unknown header and claims ignored', {
        ...base, iss: 'https://issuer.example', aud: ['a', 'b'],
        extra: { nested: [1, 2, { x: null }] },
    }, { cty: 'x', jku: 'https://attacker.example/jwks', x5u: 'x' });
    await ok('utf-8 sub and room', { ...base, sub: 'zoë ✓ "q" \\ /',
                                     room: 'salle-été' });
    await ok('sub of 256 bytes', { ...base, sub: 's'.repeat(256) });
    await ok('room of 64 bytes', { ...base, room: 'r'.repeat(64) });
    await ok('scope of 256 bytes', { ...base, scope: 'x'.repeat(256) });
    await ok('exp at year 9999', { ...base, exp: TIME_MAX });
    await ok('leeway 0', { ...base, exp: NOW + 1 }, {}, { leeway: 0 });
    {
        const t = rawToken(k, json({ alg: k.alg, kid: k.kid }), json(base));
        add(`${alg} no typ`, sets[0], t, 'ok', { claims: claimsOf(base,
                                                                   k.kid) });
    }

    // --- time
    const expired = { ...base, exp: NOW - 100 };
    bad('expired', await joseToken(k, expired), 'expired',
        sets[0], { claims: claimsOf(expired, k.kid) });
    const edge = { ...base, exp: NOW - LEEWAY };
    bad('expired at exactly now - leeway', await joseToken(k, edge),
        'expired', sets[0], { claims: claimsOf(edge, k.kid) });
    bad('expired with leeway 0', await joseToken(k, { ...base, exp: NOW }),
        'expired', sets[0], { leeway: 0 });
    const future = { ...base, nbf: NOW + LEEWAY + 1 };
    bad('nbf in the future', await joseToken(k, future), 'not yet valid',
        sets[0], { claims: claimsOf(future, k.kid) });

    // --- keys and signatures
    bad('unknown kid', await joseToken(k, base, { kid: 'nope' }),
        'unknown kid');
    bad('kid of the other key', await joseToken(k2, base, { kid: k.kid }),
        'bad signature');
    bad('tampered signature', tamper(good, 2, (b) => {
        b[b.length >> 1] ^= 0x01;
        return b;
    }), 'bad signature');
    bad('tampered payload', tamper(good, 1, () =>
        Buffer.from(json({ ...base, sub: 'mallory' }))), 'bad signature');
    bad('signature one byte short', tamper(good, 2, (b) =>
        b.subarray(0, b.length - 1)), 'bad signature');
    bad('signature one byte long', tamper(good, 2, (b) =>
        Buffer.concat([b, Buffer.from([0])])), 'bad signature');
    bad('empty signature', good.slice(0, good.lastIndexOf('.') + 1),
        'bad signature');
    bad('header re-encoded (same JSON, new bytes)', tamper(good, 0, (b) =>
        Buffer.from(JSON.stringify(JSON.parse(b), null, 1))),
        'bad signature');
    if (alg === 'ES256') {
        // DER instead of JOSE's R || S
        const input = good.slice(0, good.lastIndexOf('.'));
        const der = crypto.sign('sha256', Buffer.from(input), k.priv);
        bad('DER signature', `${input}.${b64u(der)}`, 'bad signature');
        bad('zero signature', `${input}.${b64u(Buffer.alloc(64))}`,
            'bad signature');
    }
    if (alg !== 'HS256') {
        // a key embedded in the header is never used
        const evil = alg === 'EdDSA'
            ? pairKey(alg, k.kid, 'ed25519')
            : alg === 'ES256'
                ? pairKey(alg, k.kid, 'ec', { namedCurve: 'P-256' })
                : pairKey(alg, k.kid, 'rsa', { modulusLength: 2048 });
        bad('attacker key in "jwk" header', rawToken(evil,
            hdr(k, { jwk: evil.jwkPub }), json(base)), 'bad signature');
    }

    // --- alg
    const none = (a) => `${b64u(json({ alg: a, kid: k.kid, typ: 'JWT' }))}.`
        + `${b64u(json(base))}.`;
    bad('alg none', none('none'), 'alg none');
    bad('alg NONE', none('NONE'), 'alg none');
    bad('alg none with a signature', none('none')
        + good.slice(good.lastIndexOf('.') + 1), 'alg none');
    for (const a of ['RS512', 'PS256', 'HS384', 'ES384', 'Ed25519',
                     alg.toLowerCase(), '']) {
        bad(`unsupported alg "${a}"`,
            rawToken(k, hdr(k, { alg: a }), json(base)), 'unsupported alg');
    }
    if (alg === 'HS256') {
        // HS256 against public keys: the classic confusion attack, with
        // every public form of the key as the HMAC secret
        for (const pk of [K.rs1, K.es1, K.ed1]) {
            const forms = {
                pem: pk.pub.export({ type: 'spki', format: 'pem' }),
                der: pk.pub.export({ type: 'spki', format: 'der' }),
                jwk: json(pk.jwkPub),
            };
            if (pk === K.rs1) {
                forms.pkcs1 = pk.pub.export({ type: 'pkcs1',
                                              format: 'pem' });
                forms.n = Buffer.from(pk.jwkPub.n, 'base64url');
            }
            for (const [form, secret] of Object.entries(forms)) {
                const input = `${b64u(json({ alg: 'HS256', kid: pk.kid,
                                             typ: 'JWT' }))}`
                    + `.${b64u(json(base))}`;
                const mac = crypto.createHmac('sha256', secret)
                    .update(input).digest();
                for (const set of ['private', 'public']) {
                    add(`alg confusion HS256 with ${pk.kid} ${form} as `
                        + `secret [${set}]`, set, `${input}.${b64u(mac)}`,
                        'alg does not match key');
                }
            }
        }
    } else {
        // this key's kid with the other algorithms' headers
        for (const other of ALGS.filter((a) => a !== alg)) {
            bad(`alg ${other} with a ${alg} kid`, rawToken(FIRST[other],
                hdr(k, { alg: other }), json(base)),
                'alg does not match key');
        }
    }

    // --- header
    const rawHdr = (name, headerText, expect) =>
        bad(name, rawToken(k, headerText, json(base)), expect);
    rawHdr('duplicate "alg" in header',
           `{"alg":"${k.alg}","alg":"${k.alg}","kid":"${k.kid}"}`,
           'malformed token');
    rawHdr('duplicate "kid" in header',
           `{"alg":"${k.alg}","kid":"nope","kid":"${k.kid}"}`,
           'malformed token');
    rawHdr('crit', hdr(k, { crit: ['exp'], exp: 1 }), 'bad header');
    rawHdr('empty crit', hdr(k, { crit: [] }), 'bad header');
    rawHdr('typ JWS', hdr(k, { typ: 'JWS' }), 'bad header');
    rawHdr('typ at+jwt', hdr(k, { typ: 'at+jwt' }), 'bad header');
    rawHdr('typ number', hdr(k, { typ: 1 }), 'bad header');
    rawHdr('typ null', hdr(k, { typ: null }), 'bad header');
    rawHdr('missing kid', json({ alg: k.alg, typ: 'JWT' }), 'bad header');
    rawHdr('kid number', hdr(k, { kid: 1 }), 'bad header');
    rawHdr('empty kid', hdr(k, { kid: '' }), 'bad header');
    rawHdr('kid of 129 bytes', hdr(k, { kid: 'k'.repeat(129) }),
           'bad header');
    rawHdr('kid of 128 bytes (unknown)', hdr(k, { kid: 'k'.repeat(128) }),
           'unknown kid');
    rawHdr('kid with a control character', hdr(k, { kid: `${k.kid}\n` }),
           'bad header');
    rawHdr('missing alg', json({ kid: k.kid, typ: 'JWT' }), 'bad header');
    rawHdr('alg number', hdr(k, { alg: 256 }), 'bad header');
    rawHdr('header array', json([k.alg, k.kid]), 'bad header');
    rawHdr('header not JSON', 'alg=HS256', 'bad header');
    rawHdr('header with trailing garbage', `${hdr(k)}x`, 'bad header');
    rawHdr('header not UTF-8', Buffer.concat([
        Buffer.from(`{"alg":"${k.alg}","kid":"${k.kid}","x":"`),
        Buffer.from([0xff, 0xfe]), Buffer.from('"}')]), 'bad header');

    // --- claims (all properly signed)
    const rawClaims = (name, payloadText, expect) =>
        bad(name, rawToken(k, hdr(k), payloadText), expect);
    rawClaims('duplicate "sub"', '{"sub":"alice","sub":"root","exp":'
              + `${NOW + 600}}`, 'malformed token');
    rawClaims('duplicate "exp"', `{"sub":"alice","exp":${NOW - 600},`
              + `"exp":${NOW + 600}}`, 'malformed token');
    rawClaims('duplicate nested key', `{"sub":"alice","exp":${NOW + 600},`
              + '"x":{"a":1,"a":2}}', 'malformed token');
    const claims = (name, p, expect) => rawClaims(name, json(p), expect);
    claims('missing sub', { exp: NOW + 600 }, 'missing sub');
    claims('empty sub', { sub: '', exp: NOW + 600 }, 'missing sub');
    claims('sub number', { sub: 42, exp: NOW + 600 }, 'bad claims');
    claims('sub null', { sub: null, exp: NOW + 600 }, 'bad claims');
    claims('sub of 257 bytes', { sub: 's'.repeat(257), exp: NOW + 600 },
           'bad claims');
    claims('sub with a control character', { sub: 'a\u0001b',
                                              exp: NOW + 600 }, 'bad claims');
    claims('missing exp', { sub: 'alice' }, 'bad claims');
    claims('exp string', { sub: 'alice', exp: `${NOW + 600}` },
           'bad claims');
    claims('exp true', { sub: 'alice', exp: true }, 'bad claims');
    claims('exp null', { sub: 'alice', exp: null }, 'bad claims');
    claims('exp negative', { sub: 'alice', exp: -1 }, 'bad claims');
    claims('exp negative real', { sub: 'alice', exp: -0.5 }, 'bad claims');
    claims('exp after year 9999', { sub: 'alice', exp: TIME_MAX + 1 },
           'bad claims');
    claims('exp real after year 9999', { sub: 'alice', exp: TIME_MAX + 0.5 },
           'bad claims');
    claims('exp 1e300', { sub: 'alice', exp: 1e300 }, 'bad claims');
    rawClaims('exp 2^64', `{"sub":"alice","exp":18446744073709551616}`,
              'bad claims');
    claims('iat negative', { ...base, iat: -5 }, 'bad claims');
    claims('iat string', { ...base, iat: 'now' }, 'bad claims');
    claims('nbf string', { ...base, nbf: 'soon' }, 'bad claims');
    claims('room number', { ...base, room: 7 }, 'bad claims');
    claims('empty room', { ...base, room: '' }, 'bad claims');
    claims('room of 65 bytes', { ...base, room: 'r'.repeat(65) },
           'bad claims');
    claims('scope and scp', { ...base, scope: 'a', scp: 'a' }, 'bad claims');
    claims('scope of 257 bytes', { ...base, scope: 'x'.repeat(257) },
           'bad claims');
    claims('scope array', { ...base, scope: ['a'] }, 'bad claims');
    claims('scp with a number', { ...base, scp: ['a', 1] }, 'bad claims');
    claims('scp entry with a space', { ...base, scp: ['a b'] },
           'bad claims');
    claims('scp entry empty', { ...base, scp: ['a', ''] }, 'bad claims');
    claims('scp joined over 256 bytes', { ...base,
        scp: ['x'.repeat(128), 'y'.repeat(128)] }, 'bad claims');
    claims('payload array', [base], 'bad claims');
    claims('payload string', 'alice', 'bad claims');
    rawClaims('payload not JSON', 'sub=alice', 'bad claims');
    rawClaims('payload not UTF-8', Buffer.concat([
        Buffer.from(`{"exp":${NOW + 600},"sub":"`), Buffer.from([0xc3]),
        Buffer.from('"}')]), 'bad claims');

    // --- structure
    const [h, p, s] = good.split('.');
    bad('two parts', `${h}.${p}`, 'malformed token');
    bad('four parts', `${good}.${s}`, 'malformed token');
    bad('empty header', `.${p}.${s}`, 'malformed token');
    bad('empty payload', `${h}..${s}`, 'malformed token');
    bad('padding', `${h}.${p}=.${s}`, 'malformed token');
    bad('padded signature', `${good}==`, 'malformed token');
    bad('standard base64 alphabet', `${h}.${p}.${
        Buffer.from(s, 'base64url').toString('base64').replace(/=+$/, '')
            .replace(/[A-Za-z0-9]$/, '+')}`, 'malformed token');
    bad('trailing newline', `${good}\n`, 'malformed token');
    bad('leading space', ` ${good}`, 'malformed token');
    bad('Bearer prefix', `Bearer ${good}`, 'malformed token');
    bad('JWE-like five parts', `${h}.${p}.${s}.${s}.${s}`,
        'malformed token');
    bad('header base64 of length 4n+1',
        `${h}${'A'.repeat((5 - h.length % 4) % 4)}.${p}.${s}`,
        'malformed token');
    bad('empty token', '', 'malformed token');
    bad('dots only', '..', 'malformed token');

    // --- size: exactly MAX_TOKEN passes, one more byte is refused
    let exact = null;
    let over = null;
    for (let pad = 5000; pad < 6500 && !(exact && over); pad++) {
        for (const hx of ['', 'x', 'xy', 'xyz']) {
            const t = rawToken(k, hdr(k, hx ? { x: hx } : {}),
                               json({ ...base, pad: 'p'.repeat(pad) }));
            if (t.length === MAX_TOKEN && !exact) exact = t;
            if (t.length === MAX_TOKEN + 1 && !over) over = t;
        }
    }
    if (!exact || !over) throw new Error(`${alg}: no size boundary tokens`);
    bad('token of exactly 8192 bytes', exact, 'ok', sets[0],
        { claims: claimsOf(base, k.kid) });
    bad('token of 8193 bytes', over, 'token too large');
    bad('token of 100000 bytes', good + 'A'.repeat(100000 - good.length),
        'token too large');
}

// a set that does not hold the key
add('EdDSA token against hs-only set', 'hs-only',
    await joseToken(K.ed1, base), 'unknown kid');
add('HS256 hs-1 token against public set', 'public',
    await joseToken(K.hs1, base), 'unknown kid');

// ---------------------------------------------------------------- bad JWKS

const badJwks = [];

function addBad(name, keys, error) {
    badJwks.push({ name, json: typeof keys === 'string'
                       ? keys : json({ keys }), error });
}

const ok1 = K.hs1.jwkPriv;
{
    const p384 = pairKey('ES384', 'p384', 'ec', { namedCurve: 'P-384' });
    addBad('P-384', [ok1, p384.jwkPub],
           'key 2 ("p384"): EC key has curve "P-384", only P-256 is '
           + 'supported');
    const secp = pairKey('ES256K', 'k1', 'ec', { namedCurve: 'secp256k1' });
    addBad('secp256k1', [secp.jwkPriv],
           'key 1 ("k1"): EC key has curve "secp256k1", only P-256 is '
           + 'supported');
    const x25519 = pairKey('ECDH', 'x', 'x25519');
    addBad('X25519', [x25519.jwkPub],
           'key 1 ("x"): OKP key has curve "X25519", only Ed25519 is '
           + 'supported');
    const ed448 = pairKey('EdDSA', 'e448', 'ed448');
    addBad('Ed448', [ed448.jwkPriv],
           'key 1 ("e448"): OKP key has curve "Ed448", only Ed25519 is '
           + 'supported');
    const rsa1024 = pairKey('RS256', 'small', 'rsa', { modulusLength: 1024 });
    addBad('RSA 1024', [rsa1024.jwkPub],
           'key 1 ("small"): RSA modulus is 1024 bits, at least 2048 are '
           + 'required');
    const rsa2040 = pairKey('RS256', 'r2040', 'rsa', { modulusLength: 2040 });
    addBad('RSA 2040', [rsa2040.jwkPriv],
           'key 1 ("r2040"): RSA modulus is 2040 bits');

    const { dq, ...partial } = K.rs1.jwkPriv;
    void dq;
    addBad('RSA partial CRT', [partial], 'key 1 ("rs-1"): RSA key has only '
           + 'some of "p", "q", "dp", "dq", "qi"');
    const { d, ...noD } = K.rs1.jwkPriv;
    void d;
    addBad('RSA CRT without d', [noD],
           'key 1 ("rs-1"): RSA key has CRT parameters but no "d"');
    addBad('RSA private part of another key', [{
        ...K.rs1.jwkPriv, n: K.rs2.jwkPub.n }],
        'key 1 ("rs-1"): private key does not match public key');
    addBad('RSA d of another key, no CRT', [{
        ...noCrt(K.rs1.jwkPriv), d: K.rs2.jwkPriv.d }],
        'key 1 ("rs-1"): private key does not match public key');
    addBad('RSA even exponent', [{ ...K.rs1.jwkPub, e: 'AQAA' }],
           'key 1 ("rs-1"): RSA public exponent must be odd');
    addBad('RSA missing n', [{ kty: 'RSA', kid: 'r', e: 'AQAB' }],
           'key 1 ("r"): missing "n"');
    addBad('RSA missing e', [{ kty: 'RSA', kid: 'r', n: K.rs1.jwkPub.n }],
           'key 1 ("r"): missing "e"');
    addBad('RSA bad base64url n', [{ ...K.rs1.jwkPub,
                                     n: `${K.rs1.jwkPub.n}=` }],
           'key 1 ("rs-1"): bad base64url in "n"');
    addBad('RSA standard base64 n', [{ ...K.rs1.jwkPub,
        n: Buffer.from(K.rs1.jwkPub.n, 'base64url').toString('base64') }],
        'key 1 ("rs-1"): bad base64url in "n"');
    addBad('EC d of another key', [{ ...K.es1.jwkPriv, d: K.es2.jwkPriv.d }],
           'key 1 ("es-1"): private key does not match public key');
    addBad('EC point not on the curve', [{ ...K.es1.jwkPub,
                                           y: K.es2.jwkPub.y }],
           'key 1 ("es-1"): invalid EC key');
    addBad('EC x of 31 bytes', [{ ...K.es1.jwkPub,
        x: b64u(Buffer.from(K.es1.jwkPub.x, 'base64url').subarray(1)) }],
        'key 1 ("es-1"): "x" must be 32 bytes, not 31');
    addBad('EC missing y', [{ kty: 'EC', kid: 'e', crv: 'P-256',
                              x: K.es1.jwkPub.x }],
           'key 1 ("e"): missing "y"');
    addBad('EC missing crv', [{ kty: 'EC', kid: 'e', x: K.es1.jwkPub.x,
                                y: K.es1.jwkPub.y }],
           'key 1 ("e"): EC key has no "crv"');
    addBad('Ed25519 d of another key', [{ ...K.ed1.jwkPriv,
                                          d: K.ed2.jwkPriv.d }],
           'key 1 ("ed-1"): private key does not match public key');
    addBad('Ed25519 d of 31 bytes', [{ ...K.ed1.jwkPriv,
        d: b64u(Buffer.from(K.ed1.jwkPriv.d, 'base64url').subarray(1)) }],
        'key 1 ("ed-1"): "d" must be 32 bytes, not 31');
    addBad('oct of 31 bytes', [{ kty: 'oct', kid: 'short',
                                 k: b64u(crypto.randomBytes(31)) }],
           'key 1 ("short"): oct key is 31 bytes, HS256 requires at '
           + 'least 32');
    addBad('oct without k', [{ kty: 'oct', kid: 'o' }],
           'key 1 ("o"): missing "k"');
    addBad('alg RS256 on an EC key', [{ ...K.es1.jwkPub, alg: 'RS256' }],
           'key 1 ("es-1"): "alg" is "RS256", but an EC P-256 key is used '
           + 'with "ES256"');
    addBad('alg HS256 on an RSA key', [ok1, { ...K.rs1.jwkPub,
                                               alg: 'HS256' }],
           'key 2 ("rs-1"): "alg" is "HS256", but an RSA key is used with '
           + '"RS256"');
    addBad('alg none', [{ ...ok1, alg: 'none' }],
           'key 1 ("hs-1"): "alg" is "none"');
    addBad('alg EdDSA on oct', [{ ...ok1, alg: 'EdDSA' }],
           'key 1 ("hs-1"): "alg" is "EdDSA", but an oct key is used with '
           + '"HS256"');
    addBad('use enc', [{ ...K.rs1.jwkPub, use: 'enc' }],
           'key 1 ("rs-1"): "use" is "enc", only "sig" is supported');
    addBad('missing kid', [{ ...K.ed1.jwkPub, kid: undefined }],
           'key 1: missing "kid"');
    addBad('missing kid on key 3', [ok1, K.ed1.jwkPub,
                                    { ...K.es1.jwkPub, kid: undefined }],
           'key 3: missing "kid"');
    addBad('duplicate kid', [K.ed1.jwkPub, K.es1.jwkPub,
                             { ...K.rs1.jwkPub, kid: 'ed-1' }],
           'key 3: duplicate kid "ed-1"');
    addBad('kid of 129 bytes', [{ ...ok1, kid: 'k'.repeat(129) }],
           'key 1: "kid" is longer than 128 bytes');
    addBad('kid with a control character', [{ ...ok1, kid: 'a\tb' }],
           'key 1: "kid" contains control characters');
    addBad('unsupported kty', [{ kty: 'AKP', kid: 'pq' }],
           'key 1 ("pq"): unsupported "kty" "AKP"');
    addBad('no keys', [], 'no keys');
    addBad('not JSON', '{"keys": [', 'invalid JSON at line 1, column 10');
    addBad('duplicate member', `{"keys":[${json(ok1).replace('{',
        '{"kid":"x",')}]}`, 'invalid JSON at line 1');
}

// ---------------------------------------------------------------- out

const out = {
    generator: `make-jwt-vectors.mjs, node ${process.version}, jose`,
    now: NOW, leeway: LEEWAY,
    jwks, cases, bad_jwks: badJwks, sign_sets: signSets,
};

fs.writeFileSync(outFile, `${JSON.stringify(out, null, 1)}\n`);
console.log(`make-jwt-vectors: ${cases.length} cases, ${badJwks.length} bad `
            + `key sets, ${signSets.length} signing sets -> ${outFile}`);
