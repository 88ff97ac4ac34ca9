// Shared helpers for the SDK end-to-end tests (no test logic here).
import assert from "node:assert/strict";

/** Connection string of the gateway under test, e.g. endpoint=http://127.0.0.1:8080/;accesskey=BASE64 */
export function connectionString() {
  const cs = process.env.ROOMS_CONNECTION_STRING;
  if (!cs) {
    console.error("ROOMS_CONNECTION_STRING is not set (endpoint=http://127.0.0.1:PORT/;accesskey=BASE64KEY)");
    process.exit(2);
  }
  return cs;
}

/** Per-request timeout: the SDK has none, so a request the gateway never answers would hang forever. */
export const REQUEST_TIMEOUT_MS = Number(process.env.ROOMS_E2E_TIMEOUT_MS) || 15000;
const timeoutPolicy = {
  name: "e2eRequestTimeout",
  sendRequest(request, next) {
    request.timeout = REQUEST_TIMEOUT_MS; // on expiry the SDK rejects with AbortError (not retried)
    return next(request);
  },
};

/**
 * Client options: plain http needs allowInsecureConnection (see WIRE.md §1); plus the request
 * timeout above. Everything else (retries, signing, serialization) is the SDK's default behaviour.
 */
export function clientOptions(cs, extra = {}) {
  return {
    ...(/endpoint=http:/i.test(cs) ? { allowInsecureConnection: true } : {}),
    additionalPolicies: [{ policy: timeoutPolicy, position: "perCall" }],
    ...extra,
  };
}

/** Same endpoint, but a different (valid base64, 32 bytes) access key. */
export function withWrongKey(cs) {
  const wrong = Buffer.from("this-is-not-the-gateway-key-1234").toString("base64");
  return cs.replace(/accesskey=.*$/i, `accesskey=${wrong}`);
}

/** Step runner: prints one PASS/FAIL line per check and a closing "N passed, N failed" line. */
export class Steps {
  constructor(suite) {
    this.suite = suite;
    this.passed = 0;
    this.failed = 0;
  }
  async step(what, fn) {
    if (this.unreachable) {
      this.failed++;
      console.log(`FAIL ${this.suite}: ${what}\n     not run: gateway unreachable (${this.unreachable})`);
      return;
    }
    try {
      const note = await fn();
      this.passed++;
      console.log(`PASS ${this.suite}: ${what}${note ? ` (${note})` : ""}`);
    } catch (e) {
      this.failed++;
      if (e?.name === "RestError" && e.statusCode === undefined && /^E[A-Z]+$/.test(e.code ?? "")) {
        this.unreachable = `${e.code}: ${e.message}`;
      }
      console.log(`FAIL ${this.suite}: ${what}`);
      console.log(`     ${describeError(e).split("\n").join("\n     ")}`);
    }
  }
  finish() {
    console.log(`${this.suite}: ${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed === 0 && this.passed > 0 ? 0 : 1;
  }
}

export function describeError(e) {
  if (e?.name === "RestError") {
    const hint = e.statusCode >= 200 && e.statusCode < 300
      ? "\n(a 2xx the SDK does not accept: each operation accepts only its spec status code, see WIRE.md 6.1)"
      : "";
    return `RestError statusCode=${e.statusCode} code=${e.code} message=${JSON.stringify(e.message)}${hint}`;
  }
  if (e?.name === "AbortError") {
    return `no response within ${REQUEST_TIMEOUT_MS / 1000}s (request timeout; the gateway never answered)`;
  }
  if (e instanceof assert.AssertionError || e?.name === "PrerequisiteError") return e.message.replace(/\n\s*\n/g, "\n").trimEnd();
  return e?.stack || String(e);
}

/**
 * Runs fn, which must reject with a RestError carrying the given HTTP status and a
 * non-empty error.code from the CommunicationErrorResponse body (WIRE.md §6.3).
 */
export async function expectRestError(fn, status) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected RestError ${status}, but the call succeeded`);
  if (err.name !== "RestError") throw err; // e.g. a missing prerequisite or an SDK-side error
  assert.ok(err.statusCode === status, `expected HTTP ${status}, got ${describeError(err)}`);
  assert.ok(typeof err.code === "string" && err.code.length > 0,
    `error body must be {"error":{"code":...,"message":...}}; RestError.code is ${JSON.stringify(err.code)}`);
  return `${status} ${err.code}: ${err.message}`;
}

/** Decodes a JWT without verifying it; asserts the 3-part base64url JSON structure. */
export function decodeJwt(token) {
  assert.equal(typeof token, "string", "token must be a string");
  const parts = token.split(".");
  assert.equal(parts.length, 3, `token must be a 3-part JWT, got ${parts.length} part(s)`);
  for (const p of parts) assert.match(p, /^[A-Za-z0-9_-]+$/, "JWT parts must be non-empty base64url without padding");
  const json = (p, what) => {
    try {
      return JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
    } catch {
      assert.fail(`JWT ${what} is not base64url JSON`);
    }
  };
  const header = json(parts[0], "header");
  const payload = json(parts[1], "payload");
  assert.equal(typeof header.alg, "string", "JWT header must have alg");
  return { header, payload };
}

/** Whole seconds (gateways may store second precision): a Date with ms cut off. */
export function wholeSeconds(msSinceEpoch) {
  return new Date(Math.floor(msSinceEpoch / 1000) * 1000);
}

export const MINUTE = 60 * 1000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * |actual - expected| <= tolerance, with a readable message. Dates (instants) or durations in ms;
 * values below ~3 years are printed as durations.
 */
export function assertNear(actual, expected, toleranceMs, what) {
  const a = +actual;
  const e = +expected;
  assert.ok(Number.isFinite(a), `${what}: not a valid date/number: ${actual}`);
  const show = (v) => (Math.abs(v) < 1e11 ? `${v / 1000}s (${(v / DAY).toFixed(4)} days)` : new Date(v).toISOString());
  assert.ok(Math.abs(a - e) <= toleranceMs, `${what}: ${show(a)} is not within ${toleranceMs / 1000}s of ${show(e)}`);
}

/** Guards a step that depends on the result of an earlier one. */
export function need(value, what) {
  if (!value) {
    const e = new Error(`not run: needs ${what}, which an earlier step failed to produce`);
    e.name = "PrerequisiteError";
    throw e;
  }
  return value;
}

export function assertSameInstant(actual, expected, what) {
  assert.ok(actual instanceof Date && !Number.isNaN(+actual), `${what}: not a valid Date: ${actual}`);
  assert.equal(actual.toISOString(), new Date(expected).toISOString(), `${what} differs`);
}
