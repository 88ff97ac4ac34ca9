// A consumer of the gateway's change feed (rooms_events_stream): one
// member of a consumer group, so that several media servers share the
// events and each event is handled at least once.  An event is
// acknowledged once handled; after a crash, the member first gets back
// the events it had been given and had not acknowledged.
//
//   node consumer.mjs [redis://127.0.0.1:6379] ['rooms:{events}'] [group] [name]
//
// Here "handling" prints the event as one JSON line; FEED_EXIT_AFTER=N
// stops after N events (for tests).
import { createClient } from 'redis';

const [url = 'redis://127.0.0.1:6379', key = 'rooms:{events}',
       group = 'media', name = 'media-1'] = process.argv.slice(2);
const exitAfter = Number(process.env.FEED_EXIT_AFTER || 0);

const redis = createClient({ url });
redis.on('error', () => {});          // it reconnects by itself
await redis.connect();

try {
  await redis.xGroupCreate(key, group, '0', { MKSTREAM: true });
} catch (e) {
  if (!String(e.message).startsWith('BUSYGROUP')) throw e;
}

async function handle(event) {
  // event.type: room.created, room.updated, room.deleted,
  // participant.added, participant.role_changed, participant.removed,
  // user.tokens_revoked, identity.deleted, session.started, session.ended
  process.stdout.write(JSON.stringify(event) + '\n');
}

let handled = 0;
let from = '0';                       // first what was given, not acked

while (!exitAfter || handled < exitAfter) {
  let reply;
  try {
    reply = await redis.xReadGroup(group, name, { key, id: from },
                                   { COUNT: 100, BLOCK: 2000 });
  } catch (e) {
    await new Promise((r) => setTimeout(r, 200));   // Redis away: again
    continue;
  }

  const entries = reply ? reply[0].messages : [];

  if (from === '0' && entries.length === 0) {
    from = '>';                       // caught up: new events from now on
    continue;
  }

  for (const { id, message } of entries) {
    await handle(JSON.parse(message.event));
    await redis.xAck(key, group, id);
    handled++;
  }
}

await redis.quit();
