// refused.js <ws-url>
//
// Opens a WebSocket whose handshake the server must refuse (a bad token, an
// unknown room, ...) and prints the HTTP status and JSON body that ws hands
// to its 'unexpected-response' event.
'use strict';

const { WebSocket, out, fail, main } = require('./lib');

const [url] = process.argv.slice(2);
if (!url) {
  fail('usage: refused.js <ws-url>');
}

main(() => new Promise((resolve) => {
  const ws = new WebSocket(url);
  ws.on('open', () => fail('handshake was accepted'));
  ws.on('error', (err) => out({ event: 'error', message: err.message }));
  ws.on('unexpected-response', (req, res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try {
        body = JSON.parse(text);
      } catch (e) {
        body = { unparsed: text };
      }
      out({
        event: 'refused',
        status: res.statusCode,
        content_type: res.headers['content-type'] || '',
        body,
      });
      req.destroy();
      resolve();
    });
  });
}));
