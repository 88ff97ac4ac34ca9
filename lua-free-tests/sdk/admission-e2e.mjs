// End to end: the official SDKs manage users and rooms, and the gateway's
// admission lets exactly the invitees in.
//
//   identity SDK: createUserAndToken for four users
//   rooms SDK:    a room inviting two of them (Presenter, Consumer)
//   admission:    GET <gateway>/media/<roomId>/... with each user's token
//
// Everything runs twice: through /media (rooms_cache on) and /direct
// (rooms_cache off), since each change must take effect at once in both.
//
// Env: ROOMS_CONNECTION_STRING; ROOMS_GATEWAY (default: the endpoint).
import assert from "node:assert/strict";
import { RoomsClient } from "@azure/communication-rooms";
import { CommunicationIdentityClient } from "@azure/communication-identity";
import { connectionString, clientOptions, Steps } from "./lib.mjs";

const cs = connectionString();
const gateway = (process.env.ROOMS_GATEWAY || cs.match(/endpoint=(.*?);/i)[1]).replace(/\/+$/, "");
const rooms = new RoomsClient(cs, clientOptions(cs));
const identity = new CommunicationIdentityClient(cs, clientOptions(cs));
const steps = new Steps("admission");

let prefix = "media";

async function join(roomId, token, how = "header") {
  const url = `${gateway}/${prefix}/${roomId}/join` +
    (how === "query" ? `?access_token=${encodeURIComponent(token)}` : "");
  const res = await fetch(url, {
    headers: how === "header" && token ? { Authorization: `Bearer ${token}` } : {},
  });
  await res.arrayBuffer();
  return {
    status: res.status,
    user: res.headers.get("x-rooms-user"),
    role: res.headers.get("x-rooms-role"),
    deny: res.headers.get("x-rooms-deny"),
  };
}

async function run() {
  const users = [];
  let room;

  await steps.step(`${prefix}: identity SDK creates four users with voip tokens`, async () => {
    for (let i = 0; i < 4; i++) {
      const u = await identity.createUserAndToken(["voip"]);
      assert.ok(u.token.split(".").length === 3, "a JWT");
      users.push(u);
    }
  });

  await steps.step(`${prefix}: rooms SDK creates a room inviting users 0 (Presenter) and 1 (Consumer)`, async () => {
    room = await rooms.createRoom({
      participants: [
        { id: users[0].user, role: "Presenter" },
        { id: users[1].user, role: "Consumer" },
      ],
    });
    assert.match(room.id, /^\d{16,18}$/);
  });

  await steps.step(`${prefix}: the invitees are admitted with their identity and role`, async () => {
    const a = await join(room.id, users[0].token);
    assert.equal(a.status, 200);
    assert.equal(a.user, users[0].user.communicationUserId);
    assert.equal(a.role, "Presenter");
    const b = await join(room.id, users[1].token, "query");
    assert.equal(b.status, 200, "token in the access_token query argument");
    assert.equal(b.role, "Consumer");
  });

  await steps.step(`${prefix}: users 2 and 3 are not invited: 403`, async () => {
    for (const u of users.slice(2)) {
      const r = await join(room.id, u.token);
      assert.equal(r.status, 403);
      assert.equal(r.deny, "not invited");
    }
  });

  await steps.step(`${prefix}: no token: 401; a tampered token: 401`, async () => {
    assert.equal((await join(room.id, null)).status, 401);
    const t = users[0].token;
    const tampered = t.slice(0, -4) + (t.endsWith("AAAA") ? "BBBB" : "AAAA");
    assert.equal((await join(room.id, tampered)).status, 401);
  });

  await steps.step(`${prefix}: addOrUpdateParticipants invites user 2: admitted at once`, async () => {
    await rooms.addOrUpdateParticipants(room.id, [{ id: users[2].user, role: "Attendee" }]);
    const r = await join(room.id, users[2].token);
    assert.equal(r.status, 200);
    assert.equal(r.role, "Attendee");
  });

  await steps.step(`${prefix}: removeParticipants removes user 1: refused at once`, async () => {
    assert.equal((await join(room.id, users[1].token)).status, 200);
    await rooms.removeParticipants(room.id, [users[1].user]);
    assert.equal((await join(room.id, users[1].token)).status, 403);
  });

  await steps.step(`${prefix}: revokeTokens for user 0: refused at once; a new token is admitted`, async () => {
    await identity.revokeTokens(users[0].user);
    const r = await join(room.id, users[0].token);
    assert.equal(r.status, 401);
    assert.equal(r.deny, "token revoked");
    const fresh = await identity.getToken(users[0].user, ["voip"]);
    assert.equal((await join(room.id, fresh.token)).status, 200);
  });

  await steps.step(`${prefix}: deleteUser for user 2: refused at once`, async () => {
    await identity.deleteUser(users[2].user);
    const r = await join(room.id, users[2].token);
    assert.equal(r.status, 401);
    assert.equal(r.deny, "identity deleted");
  });

  await steps.step(`${prefix}: deleteRoom: everyone refused at once, like a room never made`, async () => {
    const fresh = await identity.getToken(users[0].user, ["voip"]);
    await rooms.deleteRoom(room.id);
    const r = await join(room.id, fresh.token);
    assert.equal(r.status, 403);
    assert.equal(r.deny, "not invited");
  });

  for (const u of users) {
    await identity.deleteUser(u.user).catch(() => {});
  }
}

for (prefix of ["media", "direct"]) {
  await run();
}

steps.finish();
