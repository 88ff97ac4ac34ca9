// End-to-end test of the gateway's Rooms API through the unmodified @azure/communication-rooms SDK.
// Usage: ROOMS_CONNECTION_STRING='endpoint=http://127.0.0.1:PORT/;accesskey=BASE64' node rooms-e2e.mjs
// Optional: ROOMS_E2E_USERS=fake  -> do not call the identity API, use constructed 8:acs: ids.
import assert from "node:assert/strict";
import { RoomsClient } from "@azure/communication-rooms";
import { CommunicationIdentityClient } from "@azure/communication-identity";
import { getIdentifierRawId } from "@azure/communication-common";
import {
  Steps, connectionString, clientOptions, withWrongKey, expectRestError, need,
  wholeSeconds, assertNear, assertSameInstant, MINUTE, HOUR, DAY,
} from "./lib.mjs";

const cs = connectionString();
const rooms = new RoomsClient(cs, clientOptions(cs));
const t = new Steps("rooms");
const created = new Set(); // every room id we created, deleted again at the end

const user = (communicationUserId) => ({ communicationUserId });
const fakeUser = (n) =>
  user(`8:acs:00000000-0000-0000-0000-000000000001_00000000-0000-0000-0000-${n.toString(16).padStart(12, "0")}`);

async function makeRoom(options) {
  const room = await rooms.createRoom(options);
  if (room?.id) created.add(room.id);
  return room;
}

/** Map rawId -> role of everything listParticipants returns; asserts no duplicates. */
async function participantsOf(roomId) {
  const out = new Map();
  for await (const p of rooms.listParticipants(roomId)) {
    const rawId = getIdentifierRawId(p.id);
    assert.ok(!out.has(rawId), `participant ${rawId} listed twice`);
    out.set(rawId, p.role);
  }
  return out;
}

function assertRoomFields(room, expected, what) {
  assert.equal(typeof room.id, "string", `${what}: id must be a string`);
  assert.ok(room.id.length > 0, `${what}: id must be non-empty`);
  if (expected.id !== undefined) assert.equal(room.id, expected.id, `${what}: id`);
  for (const f of ["createdOn", "validFrom", "validUntil"]) {
    if (expected[f] !== undefined) assertSameInstant(room[f], expected[f], `${what}: ${f}`);
    else assert.ok(room[f] instanceof Date && !Number.isNaN(+room[f]), `${what}: ${f} must be a valid date`);
  }
  assert.equal(typeof room.pstnDialOutEnabled, "boolean", `${what}: pstnDialOutEnabled must be a boolean`);
  if (expected.pstnDialOutEnabled !== undefined) {
    assert.equal(room.pstnDialOutEnabled, expected.pstnDialOutEnabled, `${what}: pstnDialOutEnabled`);
  }
}

// ---------------------------------------------------------------------------------------------
// Users: real ones from the identity API of the same gateway when it works, constructed otherwise.
let users;
let identity; // set when the users come from the identity API (deleted again at the end)
if (process.env.ROOMS_E2E_USERS === "fake") {
  users = [1, 2, 3, 4, 5, 6].map(fakeUser);
  console.log("note rooms: using constructed 8:acs: user ids (ROOMS_E2E_USERS=fake)");
} else {
  try {
    identity = new CommunicationIdentityClient(cs, clientOptions(cs));
    users = [];
    for (let i = 0; i < 6; i++) users.push(await identity.createUser());
    console.log(`note rooms: using user ids from the identity API, e.g. ${users[0].communicationUserId}`);
  } catch (e) {
    identity = undefined;
    users = [1, 2, 3, 4, 5, 6].map(fakeUser);
    console.log(`note rooms: identity API unavailable (${e.statusCode ?? e.message}); using constructed 8:acs: user ids`);
  }
}
const [presenter, attendee, consumer, collaborator, newcomer, stranger] = users;
const rawId = (u) => u.communicationUserId;

let defaultRoom; // created with no options
let windowRoom; // created with explicit window + participants
let windowFrom;
let windowUntil;
const dRoom = () => need(defaultRoom, "the room from createRoom() with no options");
const wRoom = () => need(windowRoom, "the room from createRoom() with window and participants");

try {
  // ------------------------------------------------------------------ create
  await t.step("createRoom() with no options: 201, validFrom≈now, validUntil=validFrom+180d, pstnDialOutEnabled=false", async () => {
    const before = Date.now();
    defaultRoom = await makeRoom();
    assertRoomFields(defaultRoom, { pstnDialOutEnabled: false }, "created room");
    assertNear(defaultRoom.createdOn, before, 5 * MINUTE, "createdOn");
    assertNear(defaultRoom.validFrom, before, 5 * MINUTE, "validFrom default");
    assertNear(+defaultRoom.validUntil - +defaultRoom.validFrom, 180 * DAY, MINUTE, "validUntil - validFrom (default 180 days)");
    return `id ${defaultRoom.id}`;
  });

  await t.step("listParticipants of a room created without participants is empty", async () => {
    const ps = await participantsOf(dRoom().id);
    assert.equal(ps.size, 0, `expected no participants, got ${[...ps.keys()]}`);
  });

  await t.step("createRoom() with validFrom/validUntil/pstnDialOutEnabled and 4 participants (Presenter/Attendee/Consumer/Collaborator) echoes them", async () => {
    windowFrom = wholeSeconds(Date.now() + HOUR);
    windowUntil = new Date(+windowFrom + 30 * DAY);
    windowRoom = await makeRoom({
      validFrom: windowFrom,
      validUntil: windowUntil,
      pstnDialOutEnabled: true,
      participants: [
        { id: presenter, role: "Presenter" },
        { id: attendee, role: "Attendee" },
        { id: consumer, role: "Consumer" },
        { id: collaborator, role: "Collaborator" },
      ],
    });
    assertRoomFields(windowRoom, { validFrom: windowFrom, validUntil: windowUntil, pstnDialOutEnabled: true }, "created room");
    assert.notEqual(windowRoom.id, defaultRoom?.id, "room ids must be unique");
    return `id ${windowRoom.id}`;
  });

  // ------------------------------------------------------------------ get
  await t.step("getRoom() returns exactly the fields createRoom() returned (both rooms)", async () => {
    for (const r of [dRoom(), wRoom()]) {
      const got = await rooms.getRoom(r.id);
      assertRoomFields(got, r, `getRoom(${r.id})`);
      assert.deepEqual(Object.keys(got).sort(), ["createdOn", "id", "pstnDialOutEnabled", "validFrom", "validUntil"],
        "getRoom fields");
    }
  });

  await t.step("listParticipants() returns the 4 initial participants with their roles", async () => {
    const ps = await participantsOf(wRoom().id);
    assert.deepEqual(Object.fromEntries(ps), {
      [rawId(presenter)]: "Presenter",
      [rawId(attendee)]: "Attendee",
      [rawId(consumer)]: "Consumer",
      [rawId(collaborator)]: "Collaborator",
    });
  });

  // ------------------------------------------------------------------ update
  await t.step("updateRoom() with a new window changes validFrom/validUntil, keeps id/createdOn/pstnDialOutEnabled", async () => {
    const from = wholeSeconds(Date.now() + 2 * HOUR);
    const until = new Date(+from + 60 * DAY);
    const updated = await rooms.updateRoom(wRoom().id, { validFrom: from, validUntil: until });
    const expected = { id: wRoom().id, createdOn: wRoom().createdOn, validFrom: from, validUntil: until, pstnDialOutEnabled: true };
    assertRoomFields(updated, expected, "updateRoom result");
    assertRoomFields(await rooms.getRoom(wRoom().id), expected, "getRoom after update");
    windowFrom = from;
    windowUntil = until;
  });

  await t.step("updateRoom({pstnDialOutEnabled:false}) flips only the flag (merge-patch), window unchanged", async () => {
    const updated = await rooms.updateRoom(wRoom().id, { pstnDialOutEnabled: false });
    const expected = { id: wRoom().id, createdOn: wRoom().createdOn, validFrom: windowFrom, validUntil: windowUntil, pstnDialOutEnabled: false };
    assertRoomFields(updated, expected, "updateRoom result");
    assertRoomFields(await rooms.getRoom(wRoom().id), expected, "getRoom after update");
  });

  await t.step("updateRoom({pstnDialOutEnabled:true}) sets the flag again", async () => {
    const updated = await rooms.updateRoom(wRoom().id, { pstnDialOutEnabled: true });
    assertRoomFields(updated, { id: wRoom().id, validFrom: windowFrom, validUntil: windowUntil, pstnDialOutEnabled: true }, "updateRoom result");
  });

  await t.step("updateRoom() with no changes (body {}) returns the room unchanged", async () => {
    const updated = await rooms.updateRoom(wRoom().id);
    assertRoomFields(updated, { id: wRoom().id, createdOn: wRoom().createdOn, validFrom: windowFrom, validUntil: windowUntil, pstnDialOutEnabled: true }, "updateRoom result");
  });

  // ------------------------------------------------------------------ participants
  await t.step("addOrUpdateParticipants() adds a new participant and changes an existing role", async () => {
    await rooms.addOrUpdateParticipants(wRoom().id, [
      { id: newcomer, role: "Attendee" },
      { id: presenter, role: "Consumer" },
    ]);
    const ps = await participantsOf(wRoom().id);
    assert.deepEqual(Object.fromEntries(ps), {
      [rawId(presenter)]: "Consumer",
      [rawId(attendee)]: "Attendee",
      [rawId(consumer)]: "Consumer",
      [rawId(collaborator)]: "Collaborator",
      [rawId(newcomer)]: "Attendee",
    });
  });

  await t.step("addOrUpdateParticipants() without a role defaults to Attendee; re-adding is idempotent", async () => {
    await rooms.addOrUpdateParticipants(wRoom().id, [{ id: collaborator }]);
    await rooms.addOrUpdateParticipants(wRoom().id, [{ id: collaborator }]);
    const ps = await participantsOf(wRoom().id);
    assert.equal(ps.get(rawId(collaborator)), "Attendee");
    assert.equal(ps.size, 5, "participant count");
    await rooms.addOrUpdateParticipants(wRoom().id, [{ id: collaborator, role: "Collaborator" }]);
    assert.equal((await participantsOf(wRoom().id)).get(rawId(collaborator)), "Collaborator");
  });

  await t.step("removeParticipants() removes a member; removing someone not in the room does not throw", async () => {
    await rooms.removeParticipants(wRoom().id, [attendee, stranger]);
    const ps = await participantsOf(wRoom().id);
    assert.deepEqual(Object.fromEntries(ps), {
      [rawId(presenter)]: "Consumer",
      [rawId(consumer)]: "Consumer",
      [rawId(collaborator)]: "Collaborator",
      [rawId(newcomer)]: "Attendee",
    });
    await rooms.removeParticipants(wRoom().id, [stranger]);
    assert.equal((await participantsOf(wRoom().id)).size, 4, "participant count after removing a stranger");
  });

  await t.step("addOrUpdateParticipants() on the room without participants, then listParticipants()", async () => {
    await rooms.addOrUpdateParticipants(dRoom().id, [{ id: stranger, role: "Presenter" }]);
    assert.deepEqual(Object.fromEntries(await participantsOf(dRoom().id)), { [rawId(stranger)]: "Presenter" });
    await rooms.removeParticipants(dRoom().id, [stranger]);
    assert.equal((await participantsOf(dRoom().id)).size, 0);
  });

  // ------------------------------------------------------------------ list
  await t.step("listRooms().byPage({maxPageSize}) is refused by the SDK itself (no request is sent)", async () => {
    await assert.rejects(async () => {
      for await (const _ of rooms.listRooms().byPage({ maxPageSize: 2 })) { /* not reached */ }
    }, /maxPageSize is not supported/);
  });

  await t.step("listRooms().byPage() over all pages lists 3 new rooms (and the 2 earlier ones) exactly once, no id repeated", async () => {
    const fresh = [];
    for (let i = 0; i < 3; i++) fresh.push((await makeRoom()).id);
    const mine = [dRoom().id, wRoom().id, ...fresh];
    const seen = new Map();
    let pages = 0;
    for await (const page of rooms.listRooms().byPage()) {
      pages++;
      assert.ok(Array.isArray(page), "each page is an array");
      for (const r of page) {
        assertRoomFields(r, {}, `listed room ${r.id}`);
        assert.ok(!seen.has(r.id), `room ${r.id} listed twice (paging overlap)`);
        seen.set(r.id, r);
      }
      assert.ok(pages <= 10000, "more than 10000 pages: nextLink loop?");
    }
    for (const id of mine) assert.ok(seen.has(id), `created room ${id} missing from listRooms`);
    assertRoomFields(seen.get(wRoom().id), { id: wRoom().id, createdOn: wRoom().createdOn, validFrom: windowFrom, validUntil: windowUntil, pstnDialOutEnabled: true }, "listed windowRoom");
    assertRoomFields(seen.get(dRoom().id), dRoom(), "listed defaultRoom");
    return `${seen.size} rooms on ${pages} page(s)`;
  });

  await t.step("listRooms() flat iteration yields the same ids as byPage()", async () => {
    const flat = [];
    for await (const r of rooms.listRooms()) flat.push(r.id);
    assert.equal(new Set(flat).size, flat.length, "duplicate ids in flat iteration");
    for (const id of [dRoom().id, wRoom().id]) assert.ok(flat.includes(id), `room ${id} missing`);
    return `${flat.length} rooms`;
  });

  // ------------------------------------------------------------------ older api-versions
  for (const apiVersion of ["2024-04-15", "2023-06-14"]) {
    await t.step(`api-version=${apiVersion} (client option apiVersion): getRoom() returns the same id and window`, async () => {
      const old = new RoomsClient(cs, clientOptions(cs, { apiVersion }));
      const got = await old.getRoom(wRoom().id);
      assert.equal(got.id, wRoom().id, "id");
      assertSameInstant(got.createdOn, wRoom().createdOn, "createdOn");
      assertSameInstant(got.validFrom, windowFrom, "validFrom");
      assertSameInstant(got.validUntil, windowUntil, "validUntil");
      if (apiVersion === "2024-04-15") assert.equal(got.pstnDialOutEnabled, true, "pstnDialOutEnabled");
    });
  }

  // ------------------------------------------------------------------ delete
  await t.step("deleteRoom() succeeds (204); getRoom() afterwards throws RestError 404; room no longer listed", async () => {
    await rooms.deleteRoom(dRoom().id);
    created.delete(dRoom().id);
    const note = await expectRestError(() => rooms.getRoom(dRoom().id), 404);
    for await (const r of rooms.listRooms()) assert.notEqual(r.id, dRoom().id, "deleted room still listed");
    return note;
  });

  // ------------------------------------------------------------------ errors
  await t.step("createRoom() with a window longer than 180 days -> RestError 400", async () => {
    const from = wholeSeconds(Date.now() + HOUR);
    return expectRestError(() => makeRoom({ validFrom: from, validUntil: new Date(+from + 181 * DAY) }), 400);
  });

  await t.step("createRoom() with validUntil in the past -> RestError 400", async () => {
    const now = Date.now();
    return expectRestError(() => makeRoom({ validFrom: wholeSeconds(now - 2 * DAY), validUntil: wholeSeconds(now - DAY) }), 400);
  });

  await t.step("createRoom() with validUntil before validFrom -> RestError 400", async () => {
    const from = wholeSeconds(Date.now() + 2 * DAY);
    return expectRestError(() => makeRoom({ validFrom: from, validUntil: new Date(+from - DAY) }), 400);
  });

  await t.step("updateRoom() to a window longer than 180 days -> RestError 400, room unchanged", async () => {
    const from = wholeSeconds(Date.now() + HOUR);
    const note = await expectRestError(() => rooms.updateRoom(wRoom().id, { validFrom: from, validUntil: new Date(+from + 181 * DAY) }), 400);
    assertRoomFields(await rooms.getRoom(wRoom().id), { validFrom: windowFrom, validUntil: windowUntil }, "room after rejected update");
    return note;
  });

  await t.step('getRoom("123") (malformed room id) -> RestError 400', async () =>
    expectRestError(() => rooms.getRoom("123"), 400));

  await t.step("addOrUpdateParticipants() with {phoneNumber} is rejected by the SDK itself (not a RestError)", async () => {
    await assert.rejects(
      () => rooms.addOrUpdateParticipants(windowRoom?.id ?? "99000000000000001", [{ id: { phoneNumber: "+14255550123" } }]),
      (e) => e.name !== "RestError" && /only support CommunicationUsers/.test(e.message));
  });

  await t.step('PSTN participant raw id "4:+14255550123" reaching the gateway -> RestError 400, participants unchanged', async () => {
    // The SDK refuses phone numbers client-side (previous step); this sends the same raw id on the wire.
    const note = await expectRestError(
      () => rooms.addOrUpdateParticipants(wRoom().id, [{ id: user("4:+14255550123"), role: "Attendee" }]), 400);
    assert.equal((await participantsOf(wRoom().id)).size, 4, "participant count after rejected PATCH");
    return note;
  });

  await t.step("wrong access key in the connection string -> RestError 401 (getRoom, createRoom)", async () => {
    const bad = new RoomsClient(withWrongKey(cs), clientOptions(cs));
    // the signature is checked before anything else, so the room need not exist
    const note = await expectRestError(() => bad.getRoom(windowRoom?.id ?? "99000000000000001"), 401);
    await expectRestError(() => bad.createRoom(), 401);
    return note;
  });

  await t.step("requests rejected with 401 have no effect (update, participants, delete, create)", async () => {
    const bad = new RoomsClient(withWrongKey(cs), clientOptions(cs));
    const id = wRoom().id;
    const before = await rooms.getRoom(id);
    const members = Object.fromEntries(await participantsOf(id));
    const listed = async () => { const ids = []; for await (const r of rooms.listRooms()) ids.push(r.id); return ids.sort(); };
    const roomsBefore = await listed();
    await expectRestError(() => bad.updateRoom(id, { pstnDialOutEnabled: !before.pstnDialOutEnabled }), 401);
    await expectRestError(() => bad.addOrUpdateParticipants(id, [{ id: stranger, role: "Presenter" }]), 401);
    await expectRestError(() => bad.removeParticipants(id, [consumer]), 401);
    await expectRestError(() => bad.deleteRoom(id), 401);
    await expectRestError(() => bad.createRoom(), 401);
    assertRoomFields(await rooms.getRoom(id), before, "room after rejected requests");
    assert.deepEqual(Object.fromEntries(await participantsOf(id)), members, "participants after rejected requests");
    assert.deepEqual(await listed(), roomsBefore, "listRooms after a rejected createRoom (no new room)");
  });
} finally {
  // ------------------------------------------------------------------ cleanup
  await t.step(`cleanup: deleteRoom() for the ${created.size} room(s) still existing${identity ? ", deleteUser() for the users" : ""}`, async () => {
    for (const id of created) await rooms.deleteRoom(id);
    if (identity) for (const u of users) await identity.deleteUser(u);
  });
  t.finish();
}
