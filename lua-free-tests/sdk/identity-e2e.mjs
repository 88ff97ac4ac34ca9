// End-to-end test of the gateway's Identity API through the unmodified @azure/communication-identity SDK.
// Usage: ROOMS_CONNECTION_STRING='endpoint=http://127.0.0.1:PORT/;accesskey=BASE64' node identity-e2e.mjs
import assert from "node:assert/strict";
import { CommunicationIdentityClient } from "@azure/communication-identity";
import { AzureCommunicationTokenCredential } from "@azure/communication-common";
import {
  Steps, connectionString, clientOptions, withWrongKey, expectRestError, decodeJwt, assertNear, need, MINUTE,
} from "./lib.mjs";

const cs = connectionString();
const identity = new CommunicationIdentityClient(cs, clientOptions(cs));
const t = new Steps("identity");

const ACS_USER = /^8:acs:[^_\s]+_[^\s]+$/;

/**
 * Checks a token as issued for `userId`, valid for `minutes` from "now":
 * 3-part JWT, payload.sub == raw user id, payload.exp ≈ now + minutes*60 (s),
 * expiresOn (from the JSON body) ≈ exp, and the communication-common token credential can parse it.
 */
async function checkToken(result, userId, minutes, issuedAround) {
  assert.equal(typeof result.token, "string", "token must be a string");
  assert.ok(result.expiresOn instanceof Date && !Number.isNaN(+result.expiresOn), "expiresOn must be a valid date");
  const { payload } = decodeJwt(result.token);
  assert.equal(payload.sub, userId, "JWT payload.sub must be the user's raw id");
  assert.equal(typeof payload.exp, "number", "JWT payload.exp must be a number (seconds)");
  assertNear(payload.exp * 1000, issuedAround + minutes * MINUTE, 5 * MINUTE, `JWT exp (expected now + ${minutes} min)`);
  assertNear(result.expiresOn, payload.exp * 1000, MINUTE, "expiresOn vs JWT exp");
  const cred = new AzureCommunicationTokenCredential(result.token);
  const parsed = await cred.getToken();
  assert.equal(parsed.expiresOnTimestamp, payload.exp * 1000, "AzureCommunicationTokenCredential expiry");
  cred.dispose();
  return `exp=${new Date(payload.exp * 1000).toISOString()}`;
}

let userA;
let userB;
const A = () => need(userA, "the user from createUser()");

await t.step("createUser() returns an 8:acs: raw id; two calls give two different users", async () => {
  userA = await identity.createUser();
  const other = await identity.createUser();
  assert.match(userA.communicationUserId, ACS_USER);
  assert.match(other.communicationUserId, ACS_USER);
  assert.notEqual(userA.communicationUserId, other.communicationUserId, "user ids must be unique");
  await identity.deleteUser(other);
  return userA.communicationUserId;
});

await t.step('createUserAndToken(["voip"]) returns user + JWT (sub = user id, exp ≈ now + 1440 min)', async () => {
  const now = Date.now();
  const r = await identity.createUserAndToken(["voip"]);
  assert.ok(r.user, "result.user");
  assert.match(r.user.communicationUserId, ACS_USER);
  assert.ok(r.token, "result.token missing: response needs accessToken {token, expiresOn}");
  userB = r.user;
  return checkToken(r, r.user.communicationUserId, 1440, now);
});

await t.step('createUserAndToken(["voip"], {tokenExpiresInMinutes: 60}) -> exp ≈ now + 60 min', async () => {
  const now = Date.now();
  const r = await identity.createUserAndToken(["voip"], { tokenExpiresInMinutes: 60 });
  const note = await checkToken(r, r.user.communicationUserId, 60, now);
  await identity.deleteUser(r.user);
  return note;
});

await t.step('createUserAndToken(["chat","voip"], {tokenExpiresInMinutes: 1440}) (upper bound) is accepted', async () => {
  const now = Date.now();
  const r = await identity.createUserAndToken(["chat", "voip"], { tokenExpiresInMinutes: 1440 });
  const note = await checkToken(r, r.user.communicationUserId, 1440, now);
  await identity.deleteUser(r.user);
  return note;
});

await t.step('createUserAndToken(["voip"], {tokenExpiresInMinutes: 59}) (below 60) -> RestError 400', async () =>
  expectRestError(() => identity.createUserAndToken(["voip"], { tokenExpiresInMinutes: 59 }), 400));

await t.step('createUserAndToken(["voip"], {tokenExpiresInMinutes: 1441}) (above 1440) -> RestError 400', async () =>
  expectRestError(() => identity.createUserAndToken(["voip"], { tokenExpiresInMinutes: 1441 }), 400));

await t.step('getToken(user, ["voip"]) issues a JWT for that user (exp ≈ now + 1440 min)', async () => {
  const now = Date.now();
  return checkToken(await identity.getToken(A(), ["voip"]), A().communicationUserId, 1440, now);
});

await t.step('getToken(user, ["chat","voip"], {tokenExpiresInMinutes: 120}) -> exp ≈ now + 120 min', async () => {
  const now = Date.now();
  return checkToken(await identity.getToken(A(), ["chat", "voip"], { tokenExpiresInMinutes: 120 }),
    A().communicationUserId, 120, now);
});

await t.step('getToken(user, ["voip"], {tokenExpiresInMinutes: 59}) -> RestError 400', async () =>
  expectRestError(() => identity.getToken(A(), ["voip"], { tokenExpiresInMinutes: 59 }), 400));

await t.step("revokeTokens(user) succeeds (204)", async () => {
  await identity.revokeTokens(A());
});

await t.step("getToken() after revokeTokens() still issues a fresh token", async () => {
  const now = Date.now();
  return checkToken(await identity.getToken(A(), ["voip"]), A().communicationUserId, 1440, now);
});

await t.step("deleteUser(user) succeeds (204) for both users", async () => {
  await identity.deleteUser(A());
  if (userB) await identity.deleteUser(userB);
});

await t.step("wrong access key in the connection string -> RestError 401 on every operation, with no effect", async () => {
  const bad = new CommunicationIdentityClient(withWrongKey(cs), clientOptions(cs));
  const victim = await identity.createUser();
  const note = await expectRestError(() => bad.createUser(), 401);
  await expectRestError(() => bad.createUserAndToken(["voip"]), 401);
  await expectRestError(() => bad.getToken(victim, ["voip"]), 401);
  await expectRestError(() => bad.revokeTokens(victim), 401);
  await expectRestError(() => bad.deleteUser(victim), 401);
  // the victim still exists: the real key can still issue a token for it
  const now = Date.now();
  await checkToken(await identity.getToken(victim, ["voip"]), victim.communicationUserId, 1440, now);
  await identity.deleteUser(victim);
  return note;
});

t.finish();
