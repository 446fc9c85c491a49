// raw.js <ws-base-url> <token-secret>
//
// Two ws clients on /ws/rooms/lobby (raw mode). "a" sends a text frame and a
// binary frame; "b" must get them as is (same opcode, same bytes). Then "a"
// sends a text frame larger than the server's limit and must be closed with
// 1009. Prints what b received and the close a saw.
'use strict';

const { Client, out, fail, bearer, describe, main } = require('./lib');

const [base, secret, limitArg] = process.argv.slice(2);
if (!base || !secret) {
  fail('usage: raw.js <ws-base-url> <token-secret> [max-message-bytes]');
}
const limit = Number(limitArg || 65536);

main(async () => {
  const url = base + '/ws/rooms/lobby';
  const a = new Client('a', url, bearer(secret));
  const b = new Client('b', url + '?token=' + encodeURIComponent(secret));
  await Promise.all([a.opened, b.opened]);
  out({ event: 'open' });

  // Raw sockets are members from the 101 answer on: both may send now.
  const text = 'raw text from node: ünïcödé ✓ {"not":"parsed"}';
  const bin = Buffer.from([0x00, 0x0a, 0xff, 0x7b, 0x0a, 0x80, 0x01]);
  a.ws.send(text);
  a.ws.send(bin, { binary: true });
  for (let i = 0; i < 2; i++) {
    out({ event: 'received', client: 'b', frame: describe(await b.next()) });
  }
  out({ event: 'sent', text, b64: bin.toString('base64') });

  // One byte over the limit: the server closes the sender with 1009.
  a.ws.send('x'.repeat(limit + 1));
  const c = await a.closeEvent();
  out({ event: 'close', client: 'a', code: c.code, reason: c.reason });

  b.ws.close(1000);
  await b.closeEvent();
});
