// hopscope live view: one WebSocket to the agent's api/v1/stream (docs/stream-protocol.md), a live list of hop
// traces (newest on top) and a waterfall of the selected trace. Plain browser ES module, no build step. Every
// value from the server reaches the DOM through textContent, dataset or CSSOM numbers, never as markup.

const MAX_ROWS = 500;
const BACKFILL = 100; // recent traces fetched from api/v1/traces when the page opens or the filter changes
const TOKEN_KEY = 'hopscope.token';
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;
const $ = (id) => document.getElementById(id);

const state = {
  ws: null,
  traces: [], // newest first, at most MAX_ROWS
  byId: new Map(),
  pending: [], // arrived but not yet rendered, oldest first
  rebuild: false, // the whole table must be redrawn (filter change, resume after a long pause)
  paused: false,
  selectedId: null,
  received: 0,
  lost: 0,
  filter: {},
  cluster: false,
  generation: 0, // bumps on each filter change; late REST answers for an older filter are ignored
  backoffMs: BACKOFF_MIN_MS,
  retryTimer: 0,
  renderQueued: false,
};

// ---- connection ---------------------------------------------------------------------------------------------

function connect() {
  clearTimeout(state.retryTimer);
  const previous = state.ws;
  state.ws = null; // its close handler then does nothing
  previous?.close();
  const url = new URL('api/v1/stream', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const token = sessionStorage.getItem(TOKEN_KEY);
  // a browser cannot set Authorization on a WebSocket: the token travels as a subprotocol
  const ws = token ? new WebSocket(url, ['hopscope', `hopscope.token.${base64url(token)}`]) : new WebSocket(url);
  state.ws = ws;
  let opened = false;
  setStatus('connecting', 'connecting…');
  ws.onopen = () => {
    opened = true;
    sendFilter();
  };
  ws.onmessage = (ev) => onMessage(ev.data);
  ws.onclose = (ev) => {
    if (state.ws !== ws) return;
    state.ws = null;
    if (opened) retry(`connection closed (${ev.code}${ev.reason ? `: ${ev.reason}` : ''})`);
    else void upgradeFailed();
  };
}

/** The browser hides why an upgrade failed; the REST API answers with the same auth rules. */
async function upgradeFailed() {
  let status = 0;
  try {
    status = (await fetch(apiUrl('api/v1/traces', { limit: '1' }), { headers: authHeaders() })).status;
  } catch {
    // agent unreachable: plain retry
  }
  if (status === 401) return needToken(sessionStorage.getItem(TOKEN_KEY) ? 'the agent rejected this token' : '');
  if (status === 403) return retry('the agent refused this page (origin not allowed)');
  retry(status ? 'the agent refused the stream (too many clients?)' : 'agent unreachable');
}

function retry(why) {
  const wait = Math.round(state.backoffMs * (0.8 + Math.random() * 0.4));
  state.backoffMs = Math.min(state.backoffMs * 2, BACKOFF_MAX_MS);
  setStatus('reconnecting', `${why}; reconnecting in ${(wait / 1000).toFixed(1)} s`);
  state.retryTimer = setTimeout(connect, wait);
}

function needToken(error) {
  setStatus('auth', 'token required');
  $('token-form').hidden = false;
  $('token-error').textContent = error;
  $('token').focus();
}

function setStatus(kind, text) {
  const el = $('status');
  el.dataset.state = kind;
  el.textContent = text;
}

function sendFilter() {
  if (state.ws?.readyState !== WebSocket.OPEN) return;
  // scope "cluster": this agent's traces and those its peer agents stream to it (every node through one agent)
  state.ws.send(JSON.stringify({ filter: state.filter, scope: state.cluster ? 'cluster' : 'node' }));
  const fs = $('filter-state');
  fs.dataset.state = 'pending';
  fs.className = 'muted';
  fs.textContent = 'subscribing…';
}

function onMessage(text) {
  let m;
  try {
    m = JSON.parse(text);
  } catch {
    return;
  }
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'hello':
      state.backoffMs = BACKOFF_MIN_MS;
      setStatus('connected', `connected · ${m.node} · ${m.version} · sampling 1/${m.sample}`);
      break;
    case 'subscribed': {
      const fs = $('filter-state');
      // `filter` as the server parsed it; `limit` does not apply to the stream
      const words = Object.entries(m.filter ?? {})
        .filter(([k, v]) => k !== 'limit' && v !== undefined && v !== null)
        .map(([k, v]) => (k.endsWith('_ns') ? `${k.slice(0, -3)}=${fmtNs(v)}` : `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`));
      fs.dataset.state = 'subscribed';
      fs.className = 'muted';
      fs.textContent = `showing ${words.length ? words.join(' ') : 'everything'}`;
      break;
    }
    case 'trace':
      if (isTrace(m.trace)) addLive(m.trace);
      break;
    case 'dropped':
      state.lost += Number(m.count) || 0;
      $('lost').textContent = String(state.lost);
      $('lost').title = `server total for this client: ${m.total}`;
      break;
    case 'stats':
      $('stats').textContent = `server: sent ${m.sent} · dropped ${m.dropped} · ${Number(m.traces_per_s).toFixed(1)} traces/s · ${m.clients} client(s)`;
      break;
    case 'error': {
      const fs = $('filter-state');
      fs.dataset.state = 'error';
      fs.className = 'error';
      fs.textContent = `filter refused: ${m.error}`;
      break;
    }
  }
}

// ---- model --------------------------------------------------------------------------------------------------

function isTrace(t) {
  return t && typeof t === 'object' && typeof t.id === 'string' && Array.isArray(t.hops) && t.src && t.dst;
}

function addLive(t) {
  if (state.byId.has(t.id)) return;
  state.received += 1;
  $('received').textContent = String(state.received);
  state.traces.unshift(t);
  state.byId.set(t.id, t);
  while (state.traces.length > MAX_ROWS) state.byId.delete(state.traces.pop().id);
  state.pending.push(t);
  if (state.pending.length > MAX_ROWS) state.rebuild = true;
  if (state.paused) $('pause').textContent = `Resume (${Math.min(state.pending.length, MAX_ROWS)} new)`;
  else scheduleRender();
}

/** Recent traces for the current filter from the REST API, placed under whatever the stream already brought. */
async function backfill() {
  const generation = state.generation;
  let res;
  try {
    res = await fetch(apiUrl('api/v1/traces', { ...state.filter, limit: String(BACKFILL) }), { headers: authHeaders() });
  } catch {
    return;
  }
  if (generation !== state.generation || !res.ok) return;
  const body = await res.json().catch(() => null);
  if (generation !== state.generation || !Array.isArray(body?.traces)) return;
  for (const t of body.traces) {
    if (!isTrace(t) || state.byId.has(t.id) || state.traces.length >= MAX_ROWS) continue;
    state.traces.push(t);
    state.byId.set(t.id, t);
  }
  state.rebuild = true;
  if (!state.paused) scheduleRender();
}

function applyFilter() {
  const f = {};
  for (const el of $('filters').elements) if (el.name && el.value.trim()) f[el.name] = el.value.trim();
  if (JSON.stringify(f) === JSON.stringify(state.filter)) return;
  state.filter = f;
  state.generation += 1;
  const hash = String(new URLSearchParams(f));
  history.replaceState(null, '', hash ? `#${hash}` : `${location.pathname}${location.search}`);
  state.traces = [];
  state.byId.clear();
  state.pending = [];
  state.rebuild = true;
  scheduleRender();
  sendFilter();
  void backfill();
}

// ---- rendering ----------------------------------------------------------------------------------------------

function scheduleRender() {
  if (state.renderQueued || state.paused) return;
  state.renderQueued = true;
  requestAnimationFrame(render);
}

function render() {
  state.renderQueued = false;
  if (state.paused) return;
  const tbody = $('traces');
  if (state.rebuild) {
    tbody.replaceChildren(...state.traces.map(rowFor));
  } else {
    for (const t of state.pending) if (state.byId.has(t.id)) tbody.prepend(rowFor(t));
    while (tbody.rows.length > MAX_ROWS) tbody.lastElementChild.remove();
  }
  state.pending = [];
  state.rebuild = false;
  $('empty').hidden = state.traces.length > 0;
}

function rowFor(t) {
  const tr = document.createElement('tr');
  tr.tabIndex = 0;
  tr.dataset.traceId = t.id;
  tr.dataset.path = String(t.path);
  tr.dataset.outcome = String(t.outcome);
  tr.dataset.protocol = String(t.protocol);
  if (t.id === state.selectedId) tr.classList.add('selected');
  const cross = t.path === 'cross-node';
  const outcome = t.reason ? `${t.outcome} (${t.reason})` : String(t.outcome);
  tr.append(
    cell('time', hopTime(t.hops[0]), t.hops[0] ? `t=${t.hops[0].t} ns` : ''),
    endpointCell('src', t.src, cross),
    cell('arrow', '→'),
    endpointCell('dst', t.dst, cross, t.service),
    cell('protocol', t.protocol),
    cell('path', t.path, `reported by ${t.node}`),
    cell('outcome', outcome, outcome, `outcome-${t.outcome}`),
    cell('latency', fmtNs(t.latency_ns), `${t.latency_ns} ns`, 'num'),
  );
  return tr;
}

function cell(col, text, title = '', cls = '') {
  const td = document.createElement('td');
  td.dataset.col = col;
  td.textContent = String(text ?? '');
  if (title) td.title = title;
  if (cls) td.className = cls;
  return td;
}

function endpointCell(col, e, showNode, service) {
  const td = cell(col, endpointName(e), `${e.ip}${e.port !== undefined ? `:${e.port}` : ''}`);
  if (showNode && e.node) td.append(span('node', ` @${e.node}`));
  if (service) td.append(span('service', ` via ${service.namespace}/${service.name}`));
  return td;
}

/** namespace/name for a pod, else IP[:port]. */
function endpointName(e) {
  if (e.pod) return `${e.namespace ?? '?'}/${e.pod}`;
  return e.port !== undefined ? `${e.ip}:${e.port}` : String(e.ip);
}

function span(cls, text) {
  const s = document.createElement('span');
  s.className = cls;
  s.textContent = text;
  return s;
}

function select(id) {
  const t = state.byId.get(id);
  if (!t) return;
  state.selectedId = id;
  for (const tr of $('traces').querySelectorAll('tr.selected')) tr.classList.remove('selected');
  $('traces').querySelector(`tr[data-trace-id="${CSS.escape(id)}"]`)?.classList.add('selected');
  showWaterfall(t);
}

/** Each hop is a bar from the previous hop to this one: it starts at the previous hop's offset and is delta long. */
function showWaterfall(t) {
  const box = $('waterfall');
  box.dataset.traceId = t.id;
  let at = 0;
  const offsets = t.hops.map((h) => (at += Math.max(0, Number(h.delta_ns) || 0)));
  const total = Math.max(at, Number(t.latency_ns) || 0, 1);

  const title = document.createElement('h2');
  title.textContent = `${endpointName(t.src)} → ${endpointName(t.dst)}`;
  const meta = span('meta', [t.protocol, t.path, t.reason ? `${t.outcome} (${t.reason})` : t.outcome, fmtNs(t.latency_ns), packetText(t.packet), `id ${t.id}`].filter(Boolean).join(' · '));
  const axis = document.createElement('div');
  axis.className = 'axis';
  for (let i = 0; i <= 4; i++) {
    const tick = span('tick', fmtNs(Math.round((total * i) / 4)));
    tick.style.left = `${i * 25}%`;
    axis.append(tick);
  }
  const hops = t.hops.map((h, i) => {
    const delta = Math.max(0, Number(h.delta_ns) || 0);
    const row = document.createElement('div');
    row.className = 'hop';
    Object.assign(row.dataset, { kind: String(h.kind), direction: String(h.direction), node: String(h.node), interface: String(h.interface), deltaNs: String(delta) });
    const bar = document.createElement('div');
    bar.className = `bar kind-${h.kind}`;
    bar.style.left = `${((offsets[i] - delta) / total) * 100}%`;
    bar.style.width = `${(delta / total) * 100}%`;
    const track = document.createElement('div');
    track.className = 'track';
    track.append(bar);
    const label = span('label', `${i + 1}. ${h.kind} ${h.direction} `);
    // an encapsulated hop (the outer packet at an overlay node's uplink) says so
    label.append(span('where', `${h.interface}${typeof h.encap === 'string' ? ` (${h.encap})` : ''} @${h.node}`));
    // a Service's NAT rewrote the packet on the way into this hop: say what and to which addresses
    if (typeof h.nat === 'string') {
      const to = [h.saddr !== undefined ? `src ${h.saddr}${h.sport !== undefined ? `:${h.sport}` : ''}` : '', h.daddr !== undefined ? `dst ${h.daddr}${h.dport !== undefined ? `:${h.dport}` : ''}` : ''].filter(Boolean).join(' ');
      label.append(span('nat', ` ${h.nat}${to ? ` (${to})` : ''}`));
    }
    row.append(label, span('delta', `+${(delta / 1000).toFixed(3)} µs`), span('offset', `at ${(offsets[i] / 1000).toFixed(3)} µs`), track);
    row.title = `t=${h.t} ns`;
    return row;
  });
  box.replaceChildren(title, meta, axis, ...hops);
}

// ---- formatting and helpers ---------------------------------------------------------------------------------

function fmtNs(ns) {
  const n = Number(ns);
  if (!Number.isFinite(n)) return '?';
  if (n < 1e3) return `${n} ns`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} µs`;
  if (n < 1e9) return `${(n / 1e6).toFixed(2)} ms`;
  return `${(n / 1e9).toFixed(2)} s`;
}

function hopTime(hop) {
  try {
    const d = new Date(Number(BigInt(hop.t) / 1_000_000n));
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
  } catch {
    return '?';
  }
}

function packetText(p) {
  if (!p || typeof p !== 'object') return '';
  if (p.icmp_echo) return `echo id ${p.icmp_echo.id} seq ${p.icmp_echo.seq}`;
  if (p.flow_label !== undefined) return `${p.tcp_flags ? `${p.tcp_flags} seq ${p.tcp_seq} ` : ''}flow label ${p.flow_label}`;
  if (p.tcp_flags) return `${p.tcp_flags} seq ${p.tcp_seq}`;
  return p.ip_id !== undefined ? `ip id ${p.ip_id}` : '';
}

function apiUrl(path, params) {
  const url = new URL(path, location.href);
  url.search = new URLSearchParams(params).toString();
  return url;
}

function authHeaders() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function base64url(text) {
  let bin = '';
  for (const b of new TextEncoder().encode(text)) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ---- wiring -------------------------------------------------------------------------------------------------

function init() {
  // filters from the URL (shareable links, Grafana panel links): the query string, e.g.
  // ?pod=default%2Fpod-1-1&path=cross-node, then the hash, which the page itself keeps current
  for (const params of [new URLSearchParams(location.search), new URLSearchParams(location.hash.slice(1))]) {
    for (const el of $('filters').elements) if (el.name && params.has(el.name)) el.value = params.get(el.name);
  }
  for (const el of $('filters').elements) if (el.name && el.value.trim()) state.filter[el.name] = el.value.trim();

  let debounce = 0;
  $('filters').addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(applyFilter, 400); // also keeps subscriptions far under the server's 5 per second
  });
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  $('f-cluster').checked = new URLSearchParams(location.search).get('scope') === 'cluster';
  state.cluster = $('f-cluster').checked;
  $('f-cluster').addEventListener('change', () => {
    state.cluster = $('f-cluster').checked;
    sendFilter();
  });

  $('pause').addEventListener('click', () => {
    state.paused = !state.paused;
    $('pause').setAttribute('aria-pressed', String(state.paused));
    $('pause').textContent = state.paused ? 'Resume (0 new)' : 'Pause';
    document.body.classList.toggle('paused', state.paused);
    if (!state.paused) scheduleRender();
  });

  const pick = (e) => {
    const tr = e.target.closest('tr[data-trace-id]');
    if (tr) select(tr.dataset.traceId);
  };
  $('traces').addEventListener('click', pick);
  $('traces').addEventListener('keydown', (e) => e.key === 'Enter' && pick(e));

  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const token = $('token').value.trim();
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    $('token').value = '';
    $('token-form').hidden = true;
    state.backoffMs = BACKOFF_MIN_MS;
    connect();
    void backfill();
  });

  connect();
  void backfill();
}

init();
