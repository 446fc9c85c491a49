// envelope.js <ws-base-url> <token-secret>
//
// Two ws clients chat in lobby in envelope mode (/ws): "a" authenticates
// with an Authorization header, "b" with the token query parameter. b sends
// a JSON message with a ref, then a binary envelope frame (JSON header, "\n",
// raw bytes); a sends b a direct message. Prints the welcome, receipt and
// message frames each client saw.
'use strict';

const { Client, out, fail, bearer, main } = require('./lib');

const [base, secret] = process.argv.slice(2);
if (!base || !secret) {
  fail('usage: envelope.js <ws-base-url> <token-secret>');
}

// binaryPayload holds every byte value, newlines included, so that only the
// first "\n" of the frame may separate header from payload.
function binaryPayload() {
  const b = Buffer.alloc(300);
  for (let i = 0; i < b.length; i++) {
    b[i] = (i * 7 + 10) & 0xff;
  }
  return b;
}

main(async () => {
  const a = new Client('a', base + '/ws', bearer(secret));
  const b = new Client('b', base + '/ws?token=' + encodeURIComponent(secret));
  await Promise.all([a.opened, b.opened]);

  const sockets = {};
  for (const c of [a, b]) {
    const w = await c.expect('welcome');
    sockets[c.name] = w.socket;
    out({ event: 'welcome', client: c.name, frame: w });
  }

  // Text: a JSON value as data, with a ref.
  b.ws.send(JSON.stringify({ type: 'send', room: 'lobby', data: { text: 'hello from node', n: 1 }, ref: 'n1' }));
  out({ event: 'receipt', client: 'b', frame: await b.expect('receipt') });
  out({ event: 'message', client: 'a', frame: await a.expect('message') });

  // Binary: header, one newline, then raw bytes.
  const payload = binaryPayload();
  const header = Buffer.from(JSON.stringify({ type: 'send', room: 'lobby', ref: 'b1' }));
  b.ws.send(Buffer.concat([header, Buffer.from('\n'), payload]), { binary: true });
  out({ event: 'receipt', client: 'b', frame: await b.expect('receipt') });
  const ev = await a.next();
  if (ev.kind !== 'message' || !ev.isBinary) {
    fail('a: want a binary frame, got ' + JSON.stringify(ev));
  }
  const buf = Buffer.from(ev.data);
  const nl = buf.indexOf(0x0a);
  if (nl < 0) {
    fail('a: binary frame without a newline');
  }
  out({
    event: 'binary',
    client: 'a',
    header: JSON.parse(buf.subarray(0, nl).toString('utf8')),
    payload_b64: buf.subarray(nl + 1).toString('base64'),
    sent_b64: payload.toString('base64'),
  });

  // Direct: a to b by socket id.
  a.ws.send(JSON.stringify({ type: 'send', to: sockets.b, data: 'direct to b', ref: 7 }));
  out({ event: 'receipt', client: 'a', frame: await a.expect('receipt') });
  out({ event: 'message', client: 'b', frame: await b.expect('message') });

  a.ws.close(1000);
  b.ws.close(1000);
  await Promise.all([a.closeEvent(), b.closeEvent()]);
});
