// Verifies tokens signed by rooms_jwt_sign() (written by test_jwt) with two
// implementations independent of ours: jose's jwtVerify, and node:crypto
// over the raw signing input.
//
//   node check-c-tokens.mjs VECTORS.json C-SIGNED.json
//
// Prints "N passed, N failed" last; exits non-zero on any failure or when
// an algorithm has no token.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import * as jose from 'jose';

const [vectorsFile, signedFile] = process.argv.slice(2);

if (!vectorsFile || !signedFile) {
    console.error('usage: node check-c-tokens.mjs VECTORS.json C-SIGNED.json');
    process.exit(2);
}

const vectors = JSON.parse(fs.readFileSync(vectorsFile, 'utf8'));
const signed = JSON.parse(fs.readFileSync(signedFile, 'utf8'));
const sets = new Map(vectors.sign_sets.map((s) => [s.name, s]));

let passed = 0;
let failed = 0;
const seen = new Set();

function check(ok, what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        console.error(`FAIL: ${what}`);
    }
}

function rawVerify(alg, jwk, input, sig) {
    const data = Buffer.from(input);
    if (alg === 'HS256') {
        const mac = crypto.createHmac('sha256',
                                      Buffer.from(jwk.k, 'base64url'))
            .update(data).digest();
        return mac.length === sig.length && crypto.timingSafeEqual(mac, sig);
    }
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' });
    switch (alg) {
    case 'RS256':
        return crypto.verify('sha256', data, key, sig);
    case 'ES256':
        return crypto.verify('sha256', data,
                             { key, dsaEncoding: 'ieee-p1363' }, sig);
    case 'EdDSA':
        return crypto.verify(null, data, key, sig);
    default:
        return false;
    }
}

for (const t of signed.tokens) {
    const what = `${t.set} sub=${JSON.stringify(t.sub).slice(0, 40)}`;
    const set = sets.get(t.set);

    if (!set) {
        check(false, `${what}: unknown sign set`);
        continue;
    }

    const jwk = set.public_jwks.keys.find((k) => k.kid === set.kid);

    // jose: alg pinned to the set's, typ must be JWT, clock at "now"
    try {
        const key = t.alg === 'HS256'
            ? await jose.importJWK(jwk, 'HS256')
            : jose.createLocalJWKSet(set.public_jwks);
        const { payload, protectedHeader } = await jose.jwtVerify(t.token, key,
            { algorithms: [set.alg], typ: 'JWT',
              currentDate: new Date(signed.now * 1000) });

        check(isDeepStrictEqual(protectedHeader,
                                { alg: set.alg, kid: set.kid, typ: 'JWT' }),
              `${what}: header ${JSON.stringify(protectedHeader)}`);

        const want = { sub: t.sub, iat: t.iat, exp: t.exp };
        if (t.room !== null) want.room = t.room;
        if (t.scope !== null) want.scope = t.scope;

        check(isDeepStrictEqual(payload, want),
              `${what}: payload ${JSON.stringify(payload)}, want `
              + `${JSON.stringify(want)}`);
        seen.add(set.alg);
    } catch (e) {
        check(false, `${what}: jose: ${e.code ?? ''} ${e.message}`);
    }

    // node:crypto on the raw signing input
    const dot = t.token.lastIndexOf('.');
    const sig = Buffer.from(t.token.slice(dot + 1), 'base64url');
    check(rawVerify(set.alg, jwk, t.token.slice(0, dot), sig),
          `${what}: node:crypto rejects the signature`);

    // and the token is the compact form without padding
    check(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(t.token),
          `${what}: not compact base64url`);
}

for (const alg of ['HS256', 'EdDSA', 'ES256', 'RS256']) {
    check(seen.has(alg), `no verified ${alg} token from C`);
}

console.log(`check-c-tokens: ${signed.tokens.length} tokens signed by C`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
