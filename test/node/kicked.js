// kicked.js <ws-base-url> <token-secret>
//
// Connects in envelope mode, prints the welcome (with its socket id), then
// waits for the server to close the socket and prints the close code and
// reason. The Go test kicks, revokes or otherwise ends the socket in
// between.
'use strict';

const { Client, out, fail, main } = require('./lib');

const [base, secret] = process.argv.slice(2);
if (!base || !secret) {
  fail('usage: kicked.js <ws-base-url> <token-secret>');
}

main(async () => {
  const c = new Client('c', base + '/ws', { headers: { Authorization: 'Bearer ' + secret } });
  await c.opened;
  out({ event: 'welcome', frame: await c.expect('welcome') });
  const ev = await c.closeEvent();
  out({ event: 'close', code: ev.code, reason: ev.reason });
});
