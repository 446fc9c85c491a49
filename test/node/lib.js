// Shared helpers for Porthouse's interoperability scripts. Each script is
// run by e2e/node_test.go as `node test/node/<script>.js <args>` and prints
// one JSON object per line on standard output for every thing it observed;
// the Go test asserts on those lines. Diagnostics go to standard error.
'use strict';

const WebSocket = require('ws');

// out prints one observation as a JSON line.
function out(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

// fail reports a script error and exits non-zero.
function fail(msg) {
  out({ event: 'fatal', message: String(msg) });
  process.stderr.write('node: ' + msg + '\n');
  process.exit(2);
}

// deadline makes the script exit on its own if the Go side never ends it.
function deadline(ms) {
  const t = setTimeout(() => fail('script deadline of ' + ms + ' ms passed'), ms);
  t.unref();
}

// Client wraps a ws WebSocket with a queue of received messages so a script
// can await the next message (or the close) in order.
class Client {
  constructor(name, url, options) {
    this.name = name;
    this.queue = [];
    this.waiters = [];
    this.closed = null;
    this.ws = new WebSocket(url, options || {});
    this.ws.on('message', (data, isBinary) => this._push({ kind: 'message', data, isBinary }));
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this._push({ kind: 'close', code, reason: reason.toString() });
    });
    this.ws.on('error', (err) => this._push({ kind: 'error', error: err.message }));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (req, res) => reject(new Error('HTTP ' + res.statusCode)));
    });
  }

  _push(ev) {
    const w = this.waiters.shift();
    if (w) {
      w(ev);
    } else {
      this.queue.push(ev);
    }
  }

  // next resolves with the next event: {kind:'message', data, isBinary},
  // {kind:'close', code, reason} or {kind:'error', error}.
  next() {
    if (this.queue.length > 0) {
      return Promise.resolve(this.queue.shift());
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  // json resolves with the next text message parsed as JSON; it fails the
  // script on anything else.
  async json() {
    const ev = await this.next();
    if (ev.kind !== 'message' || ev.isBinary) {
      fail(this.name + ': want a JSON text frame, got ' + JSON.stringify(describe(ev)));
    }
    return JSON.parse(ev.data.toString('utf8'));
  }

  // expect skips envelope frames until one of type typ arrives.
  async expect(typ) {
    for (;;) {
      const m = await this.json();
      if (m.type === typ) {
        return m;
      }
    }
  }

  // closeEvent resolves with the close {code, reason}, skipping messages.
  async closeEvent() {
    for (;;) {
      const ev = await this.next();
      if (ev.kind === 'close') {
        return ev;
      }
    }
  }
}

// describe turns an event into something JSON can print; binary payloads
// are base64.
function describe(ev) {
  if (ev.kind !== 'message') {
    return ev;
  }
  if (ev.isBinary) {
    return { kind: 'message', binary: true, b64: Buffer.from(ev.data).toString('base64') };
  }
  return { kind: 'message', binary: false, text: ev.data.toString('utf8') };
}

// bearer is the handshake option that sends an Authorization header.
function bearer(secret) {
  return { headers: { Authorization: 'Bearer ' + secret } };
}

// main runs an async script body and exits 0 when it returns.
function main(fn) {
  deadline(15000);
  fn().then(
    () => process.exit(0),
    (err) => fail(err && err.stack ? err.stack : err),
  );
}

module.exports = { WebSocket, Client, out, fail, describe, bearer, main };
