// Porthouse UI script. Pages are rendered on the server and only read;
// every change goes through the JSON API (/api/v1) with the session cookie,
// same-origin, so the server's cross-origin protection covers it. Secrets
// arrive only in those JSON answers and live only in this page's memory.
(() => {
  'use strict';

  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // ---------------------------------------------------------------- API --

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // api calls the JSON API and returns the decoded answer (null when empty).
  async function api(method, path, body, opts = {}) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    if (opts.keepalive) init.keepalive = true;
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new APIError(0, 'network', 'The server could not be reached. Check your connection.');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!res.ok) {
      const err = (data && data.error) || {};
      if (res.status === 401 && !opts.noRedirect) {
        flashNext('Your session ended. Please log in again.', 'error');
        location.href = '/login?next=' + encodeURIComponent(location.pathname + location.search);
      }
      throw new APIError(res.status, err.code || 'error', err.message || res.statusText || 'Request failed');
    }
    return data;
  }

  const enc = encodeURIComponent;

  // -------------------------------------------------------------- flash --

  let flashTimer = 0;

  function flash(message, kind = 'ok') {
    const el = $('#flash');
    if (!el) return;
    el.textContent = message;
    el.className = 'flash' + (kind === 'error' ? ' error' : '');
    el.hidden = false;
    clearTimeout(flashTimer);
    if (kind !== 'error') flashTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  // flashNext shows a message on the next page load (after a reload).
  function flashNext(message, kind = 'ok') {
    try { sessionStorage.setItem('porthouse.flash', JSON.stringify({ message, kind })); } catch (e) { /* private mode */ }
  }

  function showPendingFlash() {
    let item = null;
    try {
      item = JSON.parse(sessionStorage.getItem('porthouse.flash') || 'null');
      sessionStorage.removeItem('porthouse.flash');
    } catch (e) { item = null; }
    if (item && item.message) flash(item.message, item.kind);
  }

  function reloadWith(message) {
    flashNext(message);
    location.reload();
  }

  function goWith(path, message) {
    flashNext(message);
    location.href = path;
  }

  // -------------------------------------------------------------- forms --

  function formError(form, message) {
    const el = $('[data-error]', form);
    if (!el) { flash(message, 'error'); return; }
    el.textContent = message;
    el.hidden = !message;
  }

  // onSubmit wires a form[data-form=name] to an async handler with busy
  // buttons and inline errors.
  function onSubmit(name, handler) {
    $$(`form[data-form="${name}"]`).forEach((form) => {
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const buttons = $$('button[type=submit]', form);
        buttons.forEach((b) => { b.disabled = true; });
        formError(form, '');
        try {
          await handler(form);
        } catch (e) {
          formError(form, e.message || String(e));
        } finally {
          buttons.forEach((b) => { b.disabled = false; });
        }
      });
    });
  }

  const field = (form, name) => form.elements.namedItem(name);
  const str = (form, name) => { const el = field(form, name); return el ? el.value.trim() : ''; };
  const bool = (form, name) => { const el = field(form, name); return !!(el && el.checked); };

  // int reads a number field: undefined when empty, 0-or-more otherwise.
  function int(form, name, label) {
    const v = str(form, name);
    if (v === '') return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${label} must be a whole number.`);
    return n;
  }

  // expiry reads a datetime-local field as an RFC 3339 time (null if empty).
  function expiry(form, name) {
    const v = str(form, name);
    if (v === '') return null;
    const d = new Date(v);
    if (Number.isNaN(d.getTime())) throw new Error('Expires is not a valid date and time.');
    return d.toISOString();
  }

  // toLocalInput formats a time for a datetime-local input.
  function toLocalInput(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
  }

  // ------------------------------------------------------------ actions --

  // Buttons with data-action run actions[name](button). With data-confirm,
  // the first click arms the button (showing the question) and only a second
  // click within a few seconds runs it.
  const actions = {};

  function arm(btn) {
    btn.dataset.label = btn.textContent;
    btn.dataset.armed = '1';
    btn.textContent = btn.dataset.confirm;
    btn.classList.add('armed');
    btn.armTimer = setTimeout(() => disarm(btn), 4000);
  }

  function disarm(btn) {
    clearTimeout(btn.armTimer);
    if (btn.dataset.armed !== '1') return;
    btn.dataset.armed = '';
    btn.textContent = btn.dataset.label;
    btn.classList.remove('armed');
  }

  document.addEventListener('click', async (ev) => {
    const btn = ev.target.closest('[data-action]');
    if (!btn || !actions[btn.dataset.action]) return;
    ev.preventDefault();
    if (btn.dataset.confirm && btn.dataset.armed !== '1') {
      arm(btn);
      return;
    }
    disarm(btn);
    btn.disabled = true;
    try {
      await actions[btn.dataset.action](btn);
    } catch (e) {
      flash(e.message || String(e), 'error');
    } finally {
      btn.disabled = false;
    }
  });

  actions.logout = async () => {
    await api('POST', '/api/v1/logout');
    location.href = '/login';
  };

  actions['room-delete'] = async (btn) => {
    const room = btn.dataset.room;
    await api('DELETE', '/api/v1/rooms/' + enc(room));
    if (btn.dataset.after) goWith(btn.dataset.after, `Room ${room} deleted.`);
    else reloadWith(`Room ${room} deleted.`);
  };

  actions.kick = async (btn) => {
    const [token, slot] = btn.dataset.socket.split('/');
    await api('DELETE', `/api/v1/sockets/${enc(token)}/${enc(slot)}`);
    flash(`Socket ${btn.dataset.socket} kicked.`);
    const row = btn.closest('tr');
    if (row) row.remove();
  };

  actions['token-delete'] = async (btn) => {
    await api('DELETE', '/api/v1/tokens/' + enc(btn.dataset.token));
    if (btn.dataset.after) goWith(btn.dataset.after, 'Token deleted; its sockets were closed.');
    else reloadWith('Token deleted; its sockets were closed.');
  };

  actions['token-regenerate'] = async (btn) => {
    const t = await api('POST', `/api/v1/tokens/${enc(btn.dataset.token)}/regenerate`);
    showSecret(`New secret for ${t.name || t.id}`, t.secret, tokenHint());
  };

  actions['key-delete'] = async (btn) => {
    await api('DELETE', '/api/v1/api-keys/' + enc(btn.dataset.key));
    reloadWith('API key deleted.');
  };

  // ------------------------------------------------------------ secrets --

  function wsBase() {
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host;
  }

  function tokenHint() {
    return `Connect to ${wsBase()}/ws with the header "Authorization: Bearer <secret>", ` +
      'or send {"type":"auth","token":"<secret>"} as the first message.';
  }

  // showSecret puts a just-created secret in the one-time panel.
  function showSecret(title, secret, hint) {
    const panel = $('#secret-panel');
    $('#secret-title').textContent = title;
    $('#secret-value').textContent = secret;
    $('#secret-hint').textContent = hint || '';
    const copy = $('#copy-secret');
    copy.textContent = 'Copy';
    copy.classList.remove('done');
    panel.hidden = false;
    panel.scrollIntoView({ behavior: 'smooth', block: 'start' });
    copy.focus({ preventScroll: true });
  }

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (e) { /* fall back below */ }
    }
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
    ta.remove();
    return ok;
  }

  actions['copy-secret'] = async (btn) => {
    const value = $('#secret-value');
    if (await copyText(value.textContent)) {
      btn.textContent = 'Copied';
      btn.classList.add('done');
    } else {
      const range = document.createRange();
      range.selectNodeContents(value);
      const sel = getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      btn.textContent = 'Press Ctrl+C';
    }
  };

  actions['secret-done'] = async () => {
    $('#secret-value').textContent = '';
    $('#secret-panel').hidden = true;
    location.reload();
  };

  // --------------------------------------------------------- live counts --

  // setText shows a new value and flashes it when it changed.
  function setText(el, s) {
    if (el.textContent === s) return;
    el.textContent = s;
    el.classList.add('bump');
    setTimeout(() => el.classList.remove('bump'), 800);
  }

  // compact formats a rate: "0", "2.5", "140", "12.3k", "1.2M".
  function compact(n) {
    if (n < 10) return n === 0 ? '0' : n.toFixed(1).replace(/\.0$/, '');
    if (n < 1000) return String(Math.round(n));
    for (const [d, u] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) {
      if (n >= d) return (n / d).toFixed(n / d < 100 ? 1 : 0).replace(/\.0$/, '') + u;
    }
    return String(Math.round(n));
  }

  // bytes formats a byte rate: "0 B", "512 B", "1.2 kB", "3.4 MB".
  function bytes(n) {
    if (n < 1000) return Math.round(n) + ' B';
    for (const [d, u] of [[1e12, 'TB'], [1e9, 'GB'], [1e6, 'MB'], [1e3, 'kB']]) {
      if (n >= d) return (n / d).toFixed(n / d < 100 ? 1 : 0).replace(/\.0$/, '') + ' ' + u;
    }
    return Math.round(n) + ' B';
  }

  // serverPanel returns what updates the admin's server panel from the
  // "server" figures of GET /ui/stats, or null when the page has none.
  // Counters arrive as running totals: a rate is the change since the last
  // sample (the page's first one is in data-total and data-sampled-at)
  // over the time between the two.
  function serverPanel() {
    const panel = $('[data-server-panel]');
    if (!panel) return null;
    const workers = $('[data-server-workers]', panel);
    const workerList = $('[data-worker-list]', panel);
    const partial = $('[data-server-partial]', panel);
    return (f) => {
      if (!f) return;
      $$('[data-server]', panel).forEach((el) => {
        const v = f[el.dataset.server] || 0;
        setText(el, String(v));
        if (el.hasAttribute('data-warn')) el.classList.toggle('warn', v > 0);
      });
      const secs = (f.sampled_at - Number(panel.dataset.sampledAt)) / 1000;
      panel.dataset.sampledAt = String(f.sampled_at);
      $$('[data-rate]', panel).forEach((el) => {
        const total = f[el.dataset.rate] || 0;
        const delta = total - Number(el.dataset.total);
        el.dataset.total = String(total);
        if (!(secs > 0) || delta < 0) return; // no time passed, or a worker restarted
        const rate = delta / secs;
        setText(el, el.dataset.unit === 'bytes' ? bytes(rate) + '/s' : compact(rate) + '/s');
        el.title = `${total.toLocaleString()} in all`;
      });
      const ws = f.workers || [];
      workers.hidden = !ws.length;
      const key = JSON.stringify(ws);
      if (workerList.dataset.key !== key) {
        workerList.dataset.key = key;
        workerList.textContent = '';
        ws.forEach((w) => {
          const chip = document.createElement('span');
          chip.className = 'worker';
          const id = document.createElement('span');
          id.className = 'worker-id';
          id.textContent = `worker ${w.worker}`;
          const n = document.createElement('b');
          n.textContent = String(w.sockets);
          chip.append(id, n);
          workerList.appendChild(chip);
        });
      }
      partial.hidden = !f.partial;
    };
  }

  // Elements with data-stat, data-members or data-token-online (and an
  // admin's server panel) follow GET /ui/stats every few seconds while the
  // page is visible.
  function pollStats() {
    const wanted = $$('[data-stat], [data-members], [data-token-online], [data-server-panel]');
    if (!wanted.length) return;
    const liveBadges = $$('.live');
    const server = serverPanel();
    const set = (el, v) => setText(el, String(v === undefined ? 0 : v));
    const tick = async () => {
      if (document.visibilityState !== 'visible') return;
      try {
        const c = await api('GET', '/ui/stats', undefined, { noRedirect: true });
        $$('[data-stat]').forEach((el) => set(el, c[el.dataset.stat]));
        $$('[data-members]').forEach((el) => set(el, c.members[el.dataset.members]));
        $$('[data-token-online]').forEach((el) => set(el, c.token_sockets[el.dataset.tokenOnline]));
        if (server) server(c.server);
        liveBadges.forEach((b) => b.classList.remove('stale'));
      } catch (e) {
        liveBadges.forEach((b) => b.classList.add('stale'));
      }
    };
    setInterval(tick, 3000);
    document.addEventListener('visibilitychange', tick);
  }

  // ------------------------------------------------------------- pages --

  const pages = {};

  pages.login = () => {
    onSubmit('login', async (form) => {
      await api('POST', '/api/v1/login', { username: str(form, 'username'), password: field(form, 'password').value }, { noRedirect: true });
      location.href = form.dataset.next || '/';
    });
  };

  pages.signup = () => {
    onSubmit('signup', async (form) => {
      const username = str(form, 'username');
      const password = field(form, 'password').value;
      if (password !== field(form, 'password2').value) throw new Error('The passwords differ.');
      await api('POST', '/api/v1/accounts', { username, password }, { noRedirect: true });
      await api('POST', '/api/v1/login', { username, password }, { noRedirect: true });
      goWith('/', `Welcome, ${username}!`);
    });
  };

  pages.dashboard = () => {
    $$('[data-ws-url]').forEach((el) => { el.textContent = wsBase(); });
  };

  // roomBody reads the room-rules fields of a form.
  function roomBody(form, creating) {
    const body = {
      format: str(form, 'format') || 'any',
      public: bool(form, 'public'),
      public_send: bool(form, 'public_send'),
      echo: bool(form, 'echo'),
      presence: bool(form, 'presence'),
    };
    const maxMembers = int(form, 'max_members', 'Max members');
    const maxBytes = int(form, 'max_message_bytes', 'Max message bytes');
    if (maxMembers !== undefined || !creating) body.max_members = maxMembers || 0;
    if (maxBytes !== undefined || !creating) body.max_message_bytes = maxBytes || 0;
    const pw = field(form, 'password').value;
    if (bool(form, 'remove_password')) body.password = '';
    else if (pw !== '') body.password = pw;
    return body;
  }

  pages.rooms = () => {
    onSubmit('room-create', async (form) => {
      const body = roomBody(form, true);
      body.name = str(form, 'name');
      const room = await api('POST', '/api/v1/rooms', body);
      reloadWith(`Room ${room.name} created.`);
    });
  };

  pages.room = () => {
    onSubmit('room-edit', async (form) => {
      await api('PATCH', '/api/v1/rooms/' + enc(form.dataset.room), roomBody(form, false));
      reloadWith('Rules saved; members follow them now.');
    });
    const card = $('[data-members-of]');
    if (!card) return;
    const room = card.dataset.membersOf;
    const rows = $('[data-member-rows]', card);
    const count = $('[data-member-count]', card);
    const live = $('.live', card);
    const render = (socks) => {
      count.textContent = String(socks.length);
      // Keep a row whose kick button is armed, so a refresh does not eat
      // the second click.
      if ($('.armed', rows)) return;
      rows.textContent = '';
      if (!socks.length) {
        const tr = rows.insertRow();
        tr.className = 'empty-row';
        const td = tr.insertCell();
        td.colSpan = 3;
        td.textContent = 'Nobody is connected.';
        return;
      }
      socks.sort((a, b) => (a.id < b.id ? -1 : 1)).forEach((s) => {
        const tr = rows.insertRow();
        const code = document.createElement('code');
        code.textContent = s.id;
        tr.insertCell().appendChild(code);
        tr.insertCell().textContent = s.mode;
        const td = tr.insertCell();
        td.className = 'row-actions';
        const b = document.createElement('button');
        b.type = 'button';
        b.className = 'btn btn-sm btn-danger-ghost';
        b.dataset.action = 'kick';
        b.dataset.socket = s.id;
        b.dataset.confirm = 'Kick?';
        b.textContent = 'Kick';
        td.appendChild(b);
      });
    };
    const tick = async () => {
      if (document.visibilityState !== 'visible') return;
      try {
        render(await api('GET', `/api/v1/rooms/${enc(room)}/sockets`, undefined, { noRedirect: true }));
        live.classList.remove('stale');
      } catch (e) {
        live.classList.add('stale');
      }
    };
    setInterval(tick, 2000);
  };

  // subscriptionFrom reads one row of a subscription table.
  function subscriptionFrom(row) {
    const perm = (p) => $(`[data-perm="${p}"]`, row).checked;
    const formats = [];
    if (perm('text')) formats.push('text');
    if (perm('binary')) formats.push('binary');
    return { room: row.dataset.subRoom, send: perm('send'), receive: perm('receive'), formats };
  }

  pages.tokens = () => {
    onSubmit('token-create', async (form) => {
      const body = {
        name: str(form, 'name'),
        auto_join: bool(form, 'auto_join'),
        can_create_rooms: bool(form, 'can_create_rooms'),
        subscriptions: [],
      };
      const maxConn = int(form, 'max_connections', 'Max connections');
      if (maxConn !== undefined) body.max_connections = maxConn;
      const exp = expiry(form, 'expires_at');
      if (exp) body.expires_at = exp;
      for (const row of $$('tr[data-sub-room]', form)) {
        if (!$('[data-sub-on]', row).checked) continue;
        const sub = subscriptionFrom(row);
        if (!sub.formats.length) throw new Error(`Pick text, binary or both for ${sub.room}.`);
        body.subscriptions.push(sub);
      }
      const t = await api('POST', '/api/v1/tokens', body);
      form.reset();
      $('#token-create').open = false;
      showSecret(`Token ${t.name || t.id} created`, t.secret, tokenHint());
    });
  };

  pages.token = () => {
    const form = $('form[data-form="token-edit"]');
    if (form) {
      const exp = field(form, 'expires_at');
      if (exp.dataset.utc) exp.value = toLocalInput(exp.dataset.utc);
    }
    onSubmit('token-edit', async (f) => {
      const body = {
        name: str(f, 'name'),
        max_connections: int(f, 'max_connections', 'Max connections'),
        auto_join: bool(f, 'auto_join'),
        can_create_rooms: bool(f, 'can_create_rooms'),
        expires_at: expiry(f, 'expires_at'),
      };
      await api('PATCH', '/api/v1/tokens/' + enc(f.dataset.token), body);
      reloadWith('Token settings saved.');
    });
    const table = $('[data-token-subs]');
    if (!table) return;
    const id = table.dataset.tokenSubs;
    const status = $('#sub-status');
    table.addEventListener('change', async (ev) => {
      const row = ev.target.closest('tr[data-sub-room]');
      if (!row) return;
      const on = $('[data-sub-on]', row).checked;
      const perms = $$('[data-perm]', row);
      const sub = subscriptionFrom(row);
      if (on && !sub.formats.length) {
        ev.target.checked = true;
        flash('A subscription needs text, binary or both.', 'error');
        return;
      }
      row.classList.add('saving');
      status.textContent = 'Saving…';
      try {
        if (on) {
          await api('PUT', `/api/v1/tokens/${enc(id)}/subscriptions/${enc(sub.room)}`,
            { send: sub.send, receive: sub.receive, formats: sub.formats });
        } else {
          try {
            await api('DELETE', `/api/v1/tokens/${enc(id)}/subscriptions/${enc(sub.room)}`);
          } catch (e) {
            if (e.status !== 404) throw e;
          }
        }
        perms.forEach((p) => { p.disabled = !on; });
        status.textContent = `Saved ${sub.room} ✓`;
      } catch (e) {
        ev.target.checked = !ev.target.checked;
        status.textContent = '';
        flash(e.message, 'error');
      } finally {
        row.classList.remove('saving');
      }
    });
  };

  pages.keys = () => {
    onSubmit('key-create', async (form) => {
      const k = await api('POST', '/api/v1/api-keys', { name: str(form, 'name') });
      form.reset();
      showSecret(`API key ${k.name || k.id} created`, k.secret,
        'Call the API with the header "Authorization: Bearer <key>".');
    });
  };

  pages.account = () => {
    onSubmit('password', async (form) => {
      const next = field(form, 'new_password').value;
      if (next !== field(form, 'new_password2').value) throw new Error('The new passwords differ.');
      await api('PUT', '/api/v1/me/password', { old_password: field(form, 'old_password').value, new_password: next });
      form.reset();
      flash('Password changed.');
    });
    onSubmit('account-delete', async (form) => {
      if (str(form, 'confirm') !== form.dataset.username) throw new Error('Type your username exactly to confirm.');
      await api('DELETE', '/api/v1/me');
      location.href = '/login';
    });
  };

  pages.admin = () => {
    const toggle = $('[data-open-signup]');
    if (toggle) {
      toggle.addEventListener('change', async () => {
        toggle.disabled = true;
        try {
          const r = await api('PUT', '/api/v1/settings/open-signup', { open: toggle.checked });
          toggle.checked = r.open;
          flash(r.open ? 'Open sign-up is on: anyone may create an account.' : 'Open sign-up is off.');
        } catch (e) {
          toggle.checked = !toggle.checked;
          flash(e.message, 'error');
        } finally {
          toggle.disabled = false;
        }
      });
    }
    onSubmit('account-create', async (form) => {
      const a = await api('POST', '/api/v1/accounts', {
        username: str(form, 'username'),
        password: field(form, 'password').value,
        is_admin: bool(form, 'is_admin'),
      });
      reloadWith(`Account ${a.username} created.`);
    });
  };

  // ------------------------------------------------------------ console --

  pages.console = () => {
    const root = $('#console');
    const room = root.dataset.room;
    const log = $('#console-log');
    const state = $('#console-state');
    const socketLabel = $('#console-socket');
    const input = $('#console-input');
    const kind = $('#console-kind');
    const sendBtn = $('#console-send');
    const reconnectBtn = $('#console-reconnect');
    const maxLines = 500;
    let ws = null;
    let tokenId = '';
    let mySocket = '';
    let leaving = false;
    let refs = 0;
    const pending = new Map(); // ref → log line of our own send

    const setState = (name, text) => {
      root.dataset.state = name;
      state.className = 'pill ' + name;
      state.textContent = text || name;
      sendBtn.disabled = name !== 'online';
      reconnectBtn.hidden = name !== 'closed';
    };

    const time = () => {
      const d = new Date();
      const p = (n) => String(n).padStart(2, '0');
      return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
    };

    // line appends an entry: meta (who/where) and the payload text.
    const line = (cls, meta, text) => {
      const empty = $('.log-empty', log);
      if (empty) empty.remove();
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 40;
      const li = document.createElement('li');
      li.className = cls;
      const t = document.createElement('span');
      t.className = 'log-time';
      t.textContent = time();
      const body = document.createElement('div');
      const m = document.createElement('div');
      m.className = 'log-meta';
      meta.forEach(([c, s]) => {
        const span = document.createElement('span');
        if (c) span.className = c;
        span.textContent = s;
        m.appendChild(span);
      });
      const pre = document.createElement('pre');
      pre.className = 'log-data';
      pre.textContent = text;
      body.append(m, pre);
      li.append(t, body);
      log.appendChild(li);
      while (log.children.length > maxLines) log.firstElementChild.remove();
      if (stick) log.scrollTop = log.scrollHeight;
      return li;
    };

    const system = (text) => line('log-system', [['', 'console']], text);

    const show = (data) => (typeof data === 'string' ? data : JSON.stringify(data, null, 2));

    const onFrame = (msg) => {
      switch (msg.type) {
        case 'welcome':
          mySocket = msg.socket;
          socketLabel.textContent = msg.socket;
          setState('online', 'online');
          system(`Connected as ${msg.socket}; joined ${(msg.rooms || []).map((r) => r.room).join(', ') || 'no room'}.`);
          break;
        case 'message': {
          if (msg.from === mySocket) break; // our own echo: already shown
          line('log-message', [['log-from', msg.from || 'server'], ['', msg.room ? ` → ${msg.room}` : ' (direct)'], ['log-id', msg.id ? ` · ${msg.id}` : '']], show(msg.data));
          break;
        }
        case 'receipt': {
          const li = pending.get(msg.ref);
          pending.delete(msg.ref);
          if (li) $('.log-meta', li).lastChild.textContent = ` · ${msg.id}`;
          break;
        }
        case 'error': {
          const li = pending.get(msg.ref);
          pending.delete(msg.ref);
          if (li) li.className = 'log-own log-error';
          line('log-error', [['', 'error'], ['', ` ${msg.code}`]], msg.message || msg.code);
          break;
        }
        case 'member.joined':
        case 'member.left':
          system(`${msg.socket} ${msg.type === 'member.joined' ? 'joined' : 'left'}.`);
          break;
        case 'room.added':
        case 'room.removed':
        case 'joined':
        case 'left':
          system(`${msg.type} ${msg.room}`);
          break;
        default:
          break;
      }
    };

    // onBinary decodes a binary envelope: header JSON, "\n", payload bytes.
    const onBinary = (buf) => {
      const bytes = new Uint8Array(buf);
      const nl = bytes.indexOf(10);
      let head = {};
      try { head = JSON.parse(new TextDecoder().decode(bytes.subarray(0, nl))); } catch (e) { head = {}; }
      if (head.from && head.from === mySocket) return;
      const payload = bytes.subarray(nl + 1);
      let text;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
      } catch (e) {
        text = Array.from(payload.subarray(0, 64), (b) => b.toString(16).padStart(2, '0')).join(' ') + (payload.length > 64 ? ' …' : '');
      }
      line('log-message log-binary', [['log-from', head.from || 'server'], ['', head.room ? ` → ${head.room}` : ''], ['', ` · binary, ${payload.length} bytes`]], text);
    };

    const dropToken = (keepalive) => {
      if (!tokenId) return;
      const id = tokenId;
      tokenId = '';
      api('DELETE', '/api/v1/tokens/' + enc(id), undefined, { keepalive, noRedirect: true }).catch(() => {});
    };

    const connect = async () => {
      setState('connecting', 'connecting');
      let secret;
      try {
        const t = await api('POST', '/ui/console/' + enc(room));
        tokenId = t.id;
        secret = t.secret;
      } catch (e) {
        setState('closed', 'closed');
        system(`Could not get a console token: ${e.message}`);
        return;
      }
      const sock = new WebSocket(wsBase() + '/ws');
      ws = sock;
      sock.binaryType = 'arraybuffer';
      sock.addEventListener('open', () => {
        sock.send(JSON.stringify({ type: 'auth', token: secret }));
        secret = '';
      });
      sock.addEventListener('message', (ev) => {
        if (typeof ev.data !== 'string') { onBinary(ev.data); return; }
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        onFrame(msg);
      });
      sock.addEventListener('close', (ev) => {
        secret = '';
        if (ws !== sock) return;
        ws = null;
        mySocket = '';
        socketLabel.textContent = '';
        if (leaving) return;
        setState('closed', 'closed');
        system(`Disconnected (code ${ev.code}${ev.reason ? ': ' + ev.reason : ''}).`);
        dropToken(false);
      });
    };

    const send = () => {
      const raw = input.value;
      if (!ws || ws.readyState !== WebSocket.OPEN || raw.trim() === '') return;
      let data = raw;
      if (kind.value === 'json') {
        try { data = JSON.parse(raw); } catch (e) { flash('That is not valid JSON.', 'error'); return; }
      }
      const ref = 'c' + (++refs);
      ws.send(JSON.stringify({ type: 'send', room, data, ref }));
      pending.set(ref, line('log-own', [['log-from', 'you'], ['', ` → ${room}`], ['log-id', ' · sending…']], show(data)));
      input.value = '';
      input.focus();
    };

    onSubmit('console-send', async () => send());
    input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        send();
      }
    });
    actions['console-clear'] = async () => {
      log.textContent = '';
      pending.clear();
    };
    actions['console-reconnect'] = async () => {
      dropToken(false);
      await connect();
    };
    window.addEventListener('pagehide', () => {
      leaving = true;
      if (ws) ws.close(1000, 'console closed');
      dropToken(true);
    });
    window.addEventListener('pageshow', (ev) => {
      if (ev.persisted) location.reload(); // back from the cache: new token
    });
    connect();
  };

  // --------------------------------------------------------------- boot --

  document.addEventListener('DOMContentLoaded', () => {
    showPendingFlash();
    const page = pages[document.body.dataset.page];
    if (page) page();
    pollStats();
  });
})();
