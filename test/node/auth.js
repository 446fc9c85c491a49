// auth.js <ws-base-url> <token-secret>
//
// First-message authentication on /ws: connect without a token, send
// {"type":"auth"} as the first frame, expect welcome, then ping/pong. A
// second client sends a bad token in its auth frame and must get an error
// frame and close code 4001.
'use strict';

const { Client, out, fail, main } = require('./lib');

const [base, secret] = process.argv.slice(2);
if (!base || !secret) {
  fail('usage: auth.js <ws-base-url> <token-secret>');
}

main(async () => {
  const good = new Client('good', base + '/ws');
  await good.opened;
  good.ws.send(JSON.stringify({ type: 'auth', token: secret }));
  out({ event: 'welcome', client: 'good', frame: await good.expect('welcome') });
  good.ws.send(JSON.stringify({ type: 'ping', ref: { nested: ['ref', 1] } }));
  out({ event: 'pong', client: 'good', frame: await good.expect('pong') });

  const bad = new Client('bad', base + '/ws');
  await bad.opened;
  bad.ws.send(JSON.stringify({ type: 'auth', token: 'ph_not-a-real-token', ref: 'a1' }));
  out({ event: 'error', client: 'bad', frame: await bad.expect('error') });
  const c = await bad.closeEvent();
  out({ event: 'close', client: 'bad', code: c.code, reason: c.reason });

  good.ws.close(1000);
  await good.closeEvent();
});
