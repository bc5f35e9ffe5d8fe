// Conveyor web UI: plain ES modules, no framework, no build step. Every read and action goes through
// the REST API (docs/api.md) on the same origin, signed in with a Conveyor token kept in
// sessionStorage and sent as the `Token` header. Pages poll the API with If-None-Match: an
// unchanged answer is a body-less 304, and a page is only redrawn when something changed.

const API = '/api/1.0/';
const TOKEN_KEY = 'conveyor.token';
const POLL_MS = Number(new URLSearchParams(location.search).get('poll')) || 2000;

// ------------------------------------------------------------------ HTML with escaping

class Raw {
  constructor(text) {
    this.text = text;
  }
}
const raw = (text) => new Raw(text);
const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escape = (value) => String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
const piece = (value) =>
  value instanceof Raw ? value.text : Array.isArray(value) ? value.map(piece).join('') : value === null || value === undefined || value === false ? '' : escape(value);
/** Tagged template: interpolated values are escaped unless built by `html` or `raw`. */
function html(strings, ...values) {
  let out = strings[0];
  values.forEach((value, i) => (out += piece(value) + strings[i + 1]));
  return new Raw(out);
}

// ------------------------------------------------------------------ API client with ETags

class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

const cache = new Map(); // url → {etag, data}
let changed = false; // set when a GET answered with new data since the last render

const token = () => sessionStorage.getItem(TOKEN_KEY);
function headers(extra = {}) {
  const h = { ...extra };
  if (token()) h.Token = token();
  return h;
}

async function problemOf(res) {
  try {
    return await res.json();
  } catch {
    return { title: res.statusText };
  }
}

/** Longest wait for one GET; the API answers within its 29 s function limit on AWS, far sooner normally. */
const GET_TIMEOUT_MS = 30_000;

/** GET with If-None-Match: a 304 answers from the cache. */
async function get(path) {
  const url = API + path;
  const key = `${token() ?? ''} ${url}`;
  const cached = cache.get(key);
  // Renders are queued one after the other: a request that never answers must not freeze every later page.
  const res = await fetch(url, { headers: headers(cached ? { 'If-None-Match': cached.etag } : {}), cache: 'no-store', signal: AbortSignal.timeout(GET_TIMEOUT_MS) });
  if (res.status === 304 && cached) return cached.data;
  if (!res.ok) {
    cache.delete(key);
    throw new ApiError(res.status, await problemOf(res));
  }
  const data = res.status === 204 ? null : await res.json();
  const etag = res.headers.get('ETag');
  if (etag) cache.set(key, { etag, data });
  changed = true;
  return data;
}

/** Longest wait for an action's answer; the server may still carry the action out after it. */
const SEND_TIMEOUT_MS = 30_000;

async function send(method, path, body) {
  try {
    const res = await fetch(API + path, {
      method,
      headers: headers(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
    });
    if (!res.ok) throw new ApiError(res.status, await problemOf(res));
    return res.status === 204 ? null : await res.json();
  } catch (err) {
    if (err?.name !== 'TimeoutError') throw err;
    throw new Error(`No answer within ${SEND_TIMEOUT_MS / 1000} s; the action may still happen (the page shows it when it does).`);
  }
}

// ------------------------------------------------------------------ formatting

const STATUS_CLASS = (s) => `badge s-${escape(s || 'none')}`;
const badge = (text, kind = text) => html`<span class="${raw(STATUS_CLASS(kind))}">${text}</span>`;
function wrBadge(wr) {
  return wr.status === 'completed' ? badge(`completed: ${wr.result}`, wr.result) : badge(wr.status);
}
const when = (iso) => (iso ? html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}</time>` : '—');
const size = (n) => (n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`);
const jsonBlock = (value) => html`<pre>${JSON.stringify(value ?? null, null, 2)}</pre>`;
/** The worker's name (`worker` is Debusine's integer id). */
const workerName = (wr) => wr.worker_name ?? (wr.worker === null || wr.worker === undefined ? '—' : `#${wr.worker}`);
const wrLink = (id) => html`<a href="#/work-request/${id}">#${id}</a>`;
const artifactLink = (id) => html`<a href="#/artifact/${id}">#${id}</a>`;
const query = (params) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : '';
};
const table = (head, rows, empty = 'Nothing here yet.') =>
  rows.length === 0
    ? html`<p class="note">${empty}</p>`
    : html`<div class="scroll"><table><thead><tr>${head.map((h) => html`<th scope="col">${h}</th>`)}</tr></thead><tbody>${rows}</tbody></table></div>`;

// ------------------------------------------------------------------ session

let me = { user: null, auth: false, is_admin: false };
let workspaces = [];

async function loadSession() {
  // In parallel: the first page waits for both.
  try {
    [me, { results: workspaces }] = await Promise.all([get('whoami/'), get('workspace/')]);
  } catch (err) {
    if (err.status !== 401) throw err;
    sessionStorage.removeItem(TOKEN_KEY); // expired or disabled: carry on as anonymous
    [me, { results: workspaces }] = await Promise.all([get('whoami/'), get('workspace/')]);
  }
  document.getElementById('nav-audit').hidden = !me.is_admin;
}

function renderSession(message = '') {
  const el = document.getElementById('session');
  el.innerHTML = me.auth
    ? html`<span>Signed in as <strong id="whoami">${me.user}</strong>${me.is_admin ? ' (admin)' : ''}</span>
        <button type="button" class="secondary" id="sign-out">Sign out</button>`.text
    : html`<form id="sign-in"><label>Conveyor token<input id="token" name="token" type="password" autocomplete="off" required></label>
        <button type="submit">Sign in</button><span class="error" role="alert">${message}</span></form>`.text;
}

document.addEventListener('submit', async (event) => {
  if (event.target.id !== 'sign-in') return;
  event.preventDefault();
  const value = event.target.token.value.trim();
  const res = await fetch(API + 'whoami/', { headers: { Token: value } });
  const body = res.ok ? await res.json() : null;
  if (!body?.auth) return renderSession('That token was refused.');
  sessionStorage.setItem(TOKEN_KEY, value);
  await refresh(true);
});
document.addEventListener('click', async (event) => {
  if (event.target.id === 'sign-out') {
    sessionStorage.removeItem(TOKEN_KEY);
    cache.clear();
    await refresh(true);
  }
});

const roleIn = (workspace) => workspaces.find((w) => w.name === workspace)?.role ?? null;
const ROLES = ['viewer', 'uploader', 'contributor', 'owner'];
const roleAtLeast = (workspace, role) => me.is_admin || ROLES.indexOf(roleIn(workspace)) >= ROLES.indexOf(role);
/** The workspace a list shows: the one asked for, else the first the caller can see. */
const workspaceOf = (p) => p.workspace || workspaces[0]?.name || '';
const workspaceSelect = (current) =>
  html`<label>Workspace<select name="workspace">${workspaces.map(
    (w) => html`<option ${w.name === current ? raw('selected') : ''}>${w.name}</option>`,
  )}</select></label>`;

// ------------------------------------------------------------------ pages

async function workspacesPage() {
  return html`<h1>Workspaces</h1>
    ${table(
      ['Name', 'Visibility', 'Your role', 'Default expiry', 'Browse'],
      workspaces.map(
        (w) => html`<tr><td>${w.name}</td><td>${w.public ? 'public' : 'private'}</td><td>${w.role ?? '—'}</td>
          <td>${w.default_expiration_delay ? `${w.default_expiration_delay} s` : 'never'}</td>
          <td><a href="#/artifacts${query({ workspace: w.name })}">artifacts</a> · <a href="#/work-requests${query({ workspace: w.name })}">work requests</a> ·
          <a href="#/workflows${query({ workspace: w.name })}">workflows</a></td></tr>`,
      ),
      me.auth ? 'You are not a member of any workspace.' : 'No public workspace. Sign in to see yours.',
    )}`;
}

async function artifactsPage(p) {
  const workspace = workspaceOf(p);
  const list = await get(`artifact/${query({ workspace, category: p.category, limit: 100 })}`);
  return html`<h1>Artifacts</h1>
    <form class="filters" data-route="artifacts">${workspaceSelect(workspace)}
      <label>Category<input name="category" id="f-category" value="${p.category ?? ''}" placeholder="debian:binary-package"></label>
      <button type="submit">Filter</button></form>
    ${table(
      ['Id', 'Category', 'Workspace', 'Created', 'By', 'Expires'],
      list.results.map(
        (a) => html`<tr><td>${artifactLink(a.id)}</td><td>${a.category}</td><td>${a.workspace}</td><td>${when(a.created_at)}</td>
          <td class="hide-narrow">${a.created_by}</td><td>${a.expire_at ? when(a.expire_at) : 'never'}</td></tr>`,
      ),
      'No artifacts match.',
    )}`;
}

const TEXT_FILE = /\.(txt|log|json|md|dsc|changes|buildinfo|lintian|yaml|yml|csv)$/i;
const textFiles = new Map(); // "id/path" → text (complete files never change)

async function fileBytes(id, path) {
  const res = await fetch(`${API}artifact/${id}/files/${path.split('/').map(encodeURIComponent).join('/')}/`, { headers: headers() });
  if (!res.ok) throw new ApiError(res.status, await problemOf(res));
  return res.blob();
}

async function inlineText(a, path, file) {
  const key = `${a.id}/${path}`;
  if (!textFiles.has(key)) {
    try {
      textFiles.set(key, await (await fileBytes(a.id, path)).text());
    } catch (err) {
      textFiles.set(key, `(could not read: ${err.message})`);
    }
  }
  return html`<h3>${path}</h3><pre class="file-text" data-path="${path}">${textFiles.get(key)}</pre>`;
}

async function artifactPage(p) {
  const a = await get(`artifact/${p.id}/`);
  const [outgoing, incoming] = await Promise.all([get(`artifact-relation/?artifact=${a.id}`), get(`artifact-relation/?target_artifact=${a.id}`)]);
  const files = Object.entries(a.files ?? {});
  const shown = files.filter(([path, f]) => f.complete && f.size <= 65536 && (TEXT_FILE.test(path) || /^text\//.test(f.content_type ?? '')));
  const texts = await Promise.all(shown.map(([path, f]) => inlineText(a, path, f)));
  return html`<h1>Artifact #${a.id} <small>${a.category}</small></h1>
    <dl><dt>Workspace</dt><dd>${a.workspace}</dd><dt>Created</dt><dd>${when(a.created_at)} by ${a.created_by}</dd>
      <dt>Expires</dt><dd id="expire-at">${a.expire_at ? when(a.expire_at) : 'never'}</dd>
      <dt>Complete</dt><dd>${a.complete ? 'yes' : 'no'}</dd><dt>Immutable</dt><dd>${a.immutable ? 'yes' : 'no'}</dd></dl>
    <h2>Data</h2>${jsonBlock(a.data)}
    <h2>Files</h2>
    ${table(
      ['Path', 'Size', 'SHA-256', 'Type', ''],
      files.map(
        ([path, f]) => html`<tr><td>${path}</td><td>${size(f.size)}</td><td class="hash">${f.checksums?.sha256 ?? ''}</td><td class="hide-narrow">${f.content_type ?? '—'}</td>
          <td>${f.complete ? html`<a class="download" href="${f.url}" data-artifact="${a.id}" data-path="${path}">Download</a>` : 'uploading'}</td></tr>`,
      ),
      'No files.',
    )}
    ${a.complete && files.length > 0 ? html`<p><a class="download" href="${a.download_tar_gz_url}" data-artifact="${a.id}" data-archive="1">Download all (tar.gz)</a></p>` : ''}
    ${texts}
    <h2>Relations</h2>
    ${table(
      ['Direction', 'Type', 'Artifact'],
      [
        ...outgoing.map((r) => html`<tr class="rel-out"><td>this → other</td><td>${r.type}</td><td>${artifactLink(r.target)}</td></tr>`),
        ...incoming.map((r) => html`<tr class="rel-in"><td>other → this</td><td>${r.type}</td><td>${artifactLink(r.artifact)}</td></tr>`),
      ],
      'No relations.',
    )}`;
}

// Downloads carry the Token header, so they are fetched and handed to the browser as a blob.
document.addEventListener('click', async (event) => {
  const link = event.target.closest?.('a.download');
  if (!link || !token()) return; // anonymous: a plain link works for public workspaces
  event.preventDefault();
  const res = await fetch(link.href, { headers: headers() });
  if (!res.ok) return alert(`Download failed: HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement('a');
  a.href = url;
  a.download = link.dataset.path?.split('/').pop() ?? `artifact-${link.dataset.artifact}.tar.gz`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

const STATUSES = ['blocked', 'pending', 'running', 'completed', 'aborted'];
const WORKER_FILTER_PAGES = 5;

async function workRequestsPage(p) {
  const workspace = workspaceOf(p);
  // The API filters by status and task; it has no worker filter, so that one is applied here, over
  // up to WORKER_FILTER_PAGES pages of 100 (newest first) until 100 requests of that worker are found.
  const onWorker = (wr) => !p.worker || wr.worker_name === p.worker || String(wr.worker) === p.worker;
  const rows = [];
  let cursor;
  for (let pages = 0; pages < (p.worker ? WORKER_FILTER_PAGES : 1) && rows.length < 100; pages++) {
    const list = await get(`work-request/${query({ workspace, status: p.status, task_name: p.task_name, limit: 100, cursor })}`);
    rows.push(...list.results.filter(onWorker));
    cursor = list.cursor;
    if (!cursor) break;
  }
  return html`<h1>Work requests</h1>
    <form class="filters" data-route="work-requests">${workspaceSelect(workspace)}
      <label>Status<select name="status"><option value="">(any)</option>${STATUSES.map((s) => html`<option ${s === p.status ? raw('selected') : ''}>${s}</option>`)}</select></label>
      <label>Task<input name="task_name" id="f-task" value="${p.task_name ?? ''}" placeholder="noop"></label>
      <label>Worker<input name="worker" id="f-worker" value="${p.worker ?? ''}" placeholder="name"></label>
      <button type="submit">Filter</button></form>
    ${table(
      ['Id', 'Task', 'Status', 'Worker', 'Created', 'Priority'],
      rows.map(
        (wr) => html`<tr data-id="${wr.id}"><td>${wrLink(wr.id)}</td><td>${wr.task_type}/${wr.task_name}</td><td>${wrBadge(wr)}</td>
          <td class="worker">${workerName(wr)}</td><td class="hide-narrow">${when(wr.created_at)}</td><td>${wr.effective_priority}</td></tr>`,
      ),
      'No work requests match.',
    )}`;
}

async function workRequestPage(p) {
  const wr = await get(`work-request/${p.id}/`);
  const mine = me.user !== null && wr.created_by === `user:${me.user}`;
  const unfinished = ['pending', 'blocked', 'running'].includes(wr.status);
  const canAbort = me.auth && unfinished && (mine || roleAtLeast(wr.workspace, 'owner'));
  const canRetry = me.auth && !unfinished && wr.superseded_by === null && (wr.status === 'aborted' || ['failure', 'error'].includes(wr.result)) && roleAtLeast(wr.workspace, 'contributor');
  const canPrioritise = me.auth && unfinished && (me.is_admin || mine);
  return html`<h1>Work request #${wr.id} <small>${wr.task_type}/${wr.task_name}</small></h1>
    <p id="wr-status">${wrBadge(wr)}</p>
    ${canRetry || canAbort || canPrioritise
      ? html`<div class="actions" data-id="${wr.id}">
          ${canRetry ? html`<button type="button" data-action="retry">Retry</button>` : ''}
          ${canAbort ? html`<button type="button" class="danger" data-action="abort">Abort</button>` : ''}
          ${canPrioritise
            ? html`<label>Priority adjustment<input type="number" id="priority" value="${wr.priority_adjustment}" ${me.is_admin ? '' : raw('max="0"')}></label>
                <button type="button" class="secondary" data-action="priority">Set priority</button>`
            : ''}
          <span class="error" role="alert" id="action-error"></span></div>`
      : ''}
    <dl><dt>Workspace</dt><dd>${wr.workspace}</dd><dt>Created</dt><dd>${when(wr.created_at)} by ${wr.created_by}</dd>
      <dt>Worker</dt><dd id="wr-worker">${workerName(wr)}</dd><dt>Started</dt><dd>${when(wr.started_at)}</dd><dt>Completed</dt><dd>${when(wr.completed_at)}</dd>
      <dt>Duration</dt><dd>${wr.duration === null ? '—' : `${wr.duration} s`}</dd>
      <dt>Priority</dt><dd id="wr-priority">${wr.priority_base} + ${wr.priority_adjustment} = ${wr.effective_priority}</dd>
      ${wr.aborted_by ? html`<dt>Aborted by</dt><dd>${wr.aborted_by}</dd>` : ''}
      ${wr.parent ? html`<dt>Parent</dt><dd>${wrLink(wr.parent)}</dd>` : ''}
      ${wr.task_type === 'Workflow' ? html`<dt>Graph</dt><dd><a href="#/workflow/${wr.id}">workflow graph</a></dd>` : ''}
      ${wr.supersedes ? html`<dt>Supersedes</dt><dd>${wrLink(wr.supersedes)}</dd>` : ''}
      ${wr.superseded_by ? html`<dt>Superseded by</dt><dd id="superseded-by">${wrLink(wr.superseded_by)}</dd>` : ''}
      <dt>Dependencies</dt><dd>${wr.dependencies.length ? wr.dependencies.map((d) => html`${wrLink(d)} `) : 'none'}</dd>
      <dt>Output artifacts</dt><dd id="wr-artifacts">${wr.artifacts.length ? wr.artifacts.map((a) => html`${artifactLink(a)} `) : 'none'}</dd></dl>
    ${wr.status === 'running' || (wr.logtail ?? []).length ? html`<h2>Log tail${wr.status === 'running' ? ' (live)' : ''}</h2><pre id="logtail">${(wr.logtail ?? []).join('\n') || '(nothing yet)'}</pre>` : ''}
    <h2>Task data</h2>${jsonBlock(wr.task_data)}
    <h2>Dynamic data</h2>${jsonBlock(wr.dynamic_task_data)}
    <h2>Output data</h2>${jsonBlock(wr.output_data)}
    ${wr.workflow_data ? html`<h2>Workflow data</h2>${jsonBlock(wr.workflow_data)}` : ''}`;
}

document.addEventListener('click', async (event) => {
  const button = event.target.closest?.('button[data-action]');
  if (!button) return;
  const id = button.closest('[data-id]').dataset.id;
  const action = button.dataset.action;
  // An answer can come long after the click (a busy server): by then the user may be on another
  // page, which the answer must not take over (no jump back, no error shown on the wrong page).
  const clickedOn = location.hash;
  const stillThere = () => location.hash === clickedOn;
  try {
    if (action === 'retry') {
      const next = await send('POST', `work-request/${id}/retry/`);
      // A workflow is retried in place (same id); any other request has a successor to follow.
      if (stillThere() && String(next.id) !== id) location.hash = `#/work-request/${next.id}`;
    } else if (action === 'abort') {
      await send('POST', `work-request/${id}/abort/`);
    } else if (action === 'priority') {
      await send('PATCH', `work-request/${id}/`, { priority_adjustment: Number(document.getElementById('priority').value) });
    }
    await refresh(false);
  } catch (err) {
    const el = document.getElementById('action-error');
    if (el && stillThere()) el.textContent = err.message;
  }
});

async function workflowsPage(p) {
  const workspace = workspaceOf(p);
  const list = await get(`work-request/${query({ workspace, limit: 200 })}`);
  const roots = list.results.filter((wr) => wr.task_type === 'Workflow' && wr.parent === null);
  const byRun = new Map();
  for (const wr of roots) {
    const name = wr.run?.name ?? wr.task_name;
    if (!byRun.has(name)) byRun.set(name, []);
    byRun.get(name).push(wr);
  }
  const rows = [...byRun].flatMap(([name, runs]) =>
    runs
      .sort((a, b) => a.id - b.id)
      .map(
        (wr) => html`<tr><td>${name}</td><td>${wr.run ? `${wr.run.name}.${wr.run.number}` : '—'}</td><td><a href="#/workflow/${wr.id}">#${wr.id} ${wr.task_name}</a></td>
          <td>${wrBadge(wr)}</td><td>${wr.run?.status ?? '—'}</td><td class="hide-narrow">${when(wr.created_at)}</td></tr>`,
      ),
  );
  return html`<h1>Workflows</h1>
    <form class="filters" data-route="workflows">${workspaceSelect(workspace)}<button type="submit">Filter</button></form>
    <p class="note">Run numbers: each start of a template is the next run (1, 2, …); a retry restarts the same run in place with the next minor number (1.1).</p>
    ${table(['Template', 'Run', 'Workflow', 'Status', 'Run status', 'Created'], rows, 'No workflows yet.')}`;
}

/** Every descendant of a workflow tree, with its depth in the nesting. */
function flatten(nodes, depth = 0, out = []) {
  for (const node of nodes) {
    out.push({ wr: node.work_request, depth });
    flatten(node.children ?? [], depth + 1, out);
  }
  return out;
}

const COLOURS = { success: '#146c2e', failure: '#b3261e', error: '#b3261e', skipped: '#5f6368', running: '#0b57d0', pending: '#7a4d00', blocked: '#7a4d00', aborted: '#5f6368' };
const colourOf = (wr) => COLOURS[wr.status === 'completed' ? wr.result : wr.status] ?? '#5f6368';

/** Columns by dependency depth (a request sits right of everything it waits for), rows in order. */
function graphSvg(nodes, provides = new Map()) {
  const byId = new Map(nodes.map((n) => [n.wr.id, n]));
  const level = new Map();
  const levelOf = (n, seen = new Set()) => {
    if (level.has(n.wr.id)) return level.get(n.wr.id);
    if (seen.has(n.wr.id)) return 0;
    seen.add(n.wr.id);
    const parentLevel = n.wr.parent && byId.has(n.wr.parent) ? levelOf(byId.get(n.wr.parent), seen) + 1 : 0;
    const deps = n.wr.dependencies.filter((d) => byId.has(d)).map((d) => levelOf(byId.get(d), seen) + 1);
    const value = Math.max(parentLevel, ...deps, 0);
    level.set(n.wr.id, value);
    return value;
  };
  const columns = [];
  for (const n of nodes) (columns[levelOf(n)] ??= []).push(n);
  const W = 190, H = 64, GX = 50, GY = 16;
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(n.wr.id, { x: 10 + x * (W + GX), y: 10 + y * (H + GY) })));
  const width = 20 + columns.length * (W + GX) - GX;
  const height = 20 + Math.max(...columns.map((c) => c.length)) * (H + GY) - GY;
  const edges = nodes.flatMap((n) => {
    const to = pos.get(n.wr.id);
    const from = [...n.wr.dependencies.filter((d) => pos.has(d)).map((d) => [d, 'dep']), ...(n.wr.parent && pos.has(n.wr.parent) ? [[n.wr.parent, 'child']] : [])];
    return from.map(([id, kind]) => {
      const f = pos.get(id);
      return html`<line class="edge-${kind}" x1="${f.x + W}" y1="${f.y + H / 2}" x2="${to.x}" y2="${to.y + H / 2}" stroke="${kind === 'dep' ? '#1a1a1a' : '#9aa0a6'}" stroke-width="1.5" ${kind === 'child' ? raw('stroke-dasharray="4 3"') : ''} marker-end="url(#arrow)"/>`;
    });
  });
  const boxes = nodes.map((n) => {
    const { x, y } = pos.get(n.wr.id);
    const label = n.wr.workflow_data?.display_name ?? n.wr.task_name;
    const state = n.wr.status === 'completed' ? n.wr.result : n.wr.status;
    return html`<a href="#/work-request/${n.wr.id}" class="node" data-id="${n.wr.id}" aria-label="#${n.wr.id} ${label}: ${state}">
      <rect x="${x}" y="${y}" width="${W}" height="${H}" rx="6" fill="${colourOf(n.wr)}"/>
      <title>#${n.wr.id} ${label} (${n.wr.task_type}/${n.wr.task_name}): ${state}</title>
      <text x="${x + 8}" y="${y + 19}" fill="#fff">#${n.wr.id} ${label.slice(0, 24)}</text>
      <text x="${x + 8}" y="${y + 37}" fill="#fff">${n.wr.task_name.slice(0, 16)} · ${state}</text>
      ${provides.has(n.wr.id) ? html`<text class="provides" x="${x + 8}" y="${y + 55}" fill="#fff">⇒ ${provides.get(n.wr.id).join(', ').slice(0, 26)}</text>` : ''}</a>`;
  });
  return html`<svg class="graph" role="img" aria-label="Workflow graph" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#1a1a1a"/></marker></defs>
    ${edges}${boxes}</svg>`;
}

/** Every number a run has had: a retry restarts it in place with the next minor number, so "2.2" was "2" and "2.1" first. */
function runAttempts(number) {
  const [major, minor = '0'] = String(number).split('.');
  return [major, ...Array.from({ length: Number(minor) }, (_, i) => `${major}.${i + 1}`)];
}

async function workflowPage(p) {
  const tree = await get(`workflow/${p.id}/`);
  const root = tree.workflow;
  const nodes = flatten([{ work_request: root, children: tree.children }]);
  // The workflow's internal collection: promises of its children's outputs, then the artifacts themselves.
  let items = [];
  if (root.internal_collection) {
    const answer = await get(`collection/${root.internal_collection}/items/?limit=1000`);
    items = answer.results ?? answer;
  }
  // A promise names the child that will fulfil it; a fulfilled one is the artifact that child made.
  const producerOf = (i) => i.data?.promise_work_request_id ?? nodes.find((n) => i.artifact && n.wr.artifacts.includes(i.artifact))?.wr.id;
  const provides = new Map();
  for (const i of items) {
    const id = producerOf(i);
    if (id) provides.set(id, [...(provides.get(id) ?? []), i.name]);
  }
  let history = [];
  if (root.run) {
    const list = await get(`work-request/${query({ workspace: root.workspace, task_name: root.task_name, limit: 200 })}`);
    history = list.results.filter((wr) => wr.run?.name === root.run.name).sort((a, b) => a.id - b.id);
  }
  return html`<h1>Workflow #${root.id} <small>${root.task_name}${root.run ? ` · run ${root.run.name}.${root.run.number}` : ''}</small></h1>
    <p>${wrBadge(root)} ${root.run ? html`run status <strong>${root.run.status}</strong>` : ''}
      · <a href="#/work-request/${root.id}">details, retry and abort</a></p>
    <div class="scroll">${graphSvg(nodes, provides)}</div>
    <p class="note">Solid arrows: dependencies; dashed: parent workflow to child; ⇒ the internal collection items (promises, then artifacts) a step provides. Green success, red failure or error, blue running, brown pending or blocked, grey aborted or skipped.</p>
    <h2>Steps</h2>
    ${table(
      ['Id', 'Step', 'Task', 'Status', 'Waits for', 'Worker'],
      nodes.map(
        (n) => html`<tr class="step"><td>${wrLink(n.wr.id)}</td><td>${'· '.repeat(n.depth)}${n.wr.workflow_data?.display_name ?? n.wr.workflow_data?.step ?? '—'}</td>
          <td>${n.wr.task_type}/${n.wr.task_name}</td><td>${wrBadge(n.wr)}</td><td>${n.wr.dependencies.map((d) => html`${wrLink(d)} `)}</td><td>${workerName(n.wr)}</td></tr>`,
      ),
    )}
    <h2>Promises and results</h2>
    ${table(
      ['Name', 'Category', 'State', 'Artifact', 'From'],
      items.map((i) => {
        const producer = producerOf(i);
        return html`<tr class="promise" data-name="${i.name}"><td>${i.name}</td><td>${i.data?.promise_category ?? i.category}</td>
          <td>${i.artifact ? badge('fulfilled', 'success') : badge('promised', 'pending')}</td>
          <td class="artifact">${i.artifact ? artifactLink(i.artifact) : '—'}</td><td class="promiser">${producer ? wrLink(producer) : '—'}</td></tr>`;
      }),
      'The workflow has no internal collection items yet.',
    )}
    ${history.length
      ? html`<h2>Runs of ${root.run.name}</h2>${table(
          ['Run', 'Workflow', 'Status'],
          history.flatMap((wr) =>
            runAttempts(wr.run.number).map((number, i, all) =>
              i < all.length - 1
                ? html`<tr class="run" data-run="${number}"><td>${wr.run.name}.${number}</td><td><a href="#/workflow/${wr.id}">#${wr.id}</a></td><td>retried as ${wr.run.name}.${all[i + 1]}</td></tr>`
                : html`<tr class="run" data-run="${number}"${wr.id === root.id ? raw(' aria-current="true"') : ''}><td>${wr.run.name}.${number}</td><td><a href="#/workflow/${wr.id}">#${wr.id}</a></td><td>${wrBadge(wr)} ${wr.run.status}</td></tr>`,
            ),
          ),
        )}
        <p class="note">A retry restarts a run in place (same workflow id) with the next minor number: run 1, retried, is 1.1, then 1.2.</p>`
      : ''}`;
}

const MACHINE_CLASS = { ONLINE: 'success', QUIESCING: 'pending', OFFLINE: 'aborted' };
/** Launchpad's machine state: ONLINE, QUIESCING, or OFFLINE with its reason. */
const machineBadge = (w) => badge(w.state === 'OFFLINE' && w.offline_reason ? `OFFLINE (${w.offline_reason})` : w.state, MACHINE_CLASS[w.state]);
/** The transitions docs/api.md allows from each state ("Machines"). */
const MACHINE_ACTIONS = { ONLINE: ['quiesce', 'offline'], QUIESCING: ['online', 'offline'], OFFLINE: ['online'] };
const MACHINE_LABEL = { online: 'Online', offline: 'Offline', quiesce: 'Quiesce' };

function workerButtons(w) {
  return html`${w.enabled ? html`<button type="button" class="danger" data-worker-action="disable">Disable</button>` : html`<button type="button" data-worker-action="enable">Enable</button>`}
    ${(MACHINE_ACTIONS[w.state] ?? []).map((action) => html` <button type="button" class="secondary" data-machine-action="${action}">${MACHINE_LABEL[action]}</button>`)}`;
}

async function workersPage() {
  const list = await get('worker/');
  return html`<h1>Workers</h1>
    <span class="error" role="alert" id="action-error"></span>
    ${table(
      ['Name', 'Type', 'Token', 'Machine', 'Current work', 'Last seen', 'Concurrency', ...(me.is_admin ? ['Actions'] : [])],
      list.results.map(
        (w) => html`<tr data-worker="${w.name}"><td>${w.name}</td><td class="hide-narrow">${w.worker_type}</td><td class="connection">${w.enabled ? '' : badge('disabled', 'aborted')} ${w.connected ? badge('connected', 'success') : badge('disconnected', 'aborted')}</td>
          <td class="machine">${machineBadge(w)}</td>
          <td>${(w.current_work ?? []).length ? w.current_work.map((id) => html`${wrLink(id)} `) : 'idle'}</td><td class="hide-narrow">${when(w.last_seen_at)}</td><td>${w.assigned ?? 0}/${w.concurrency}</td>
          ${me.is_admin ? html`<td class="actions-cell">${workerButtons(w)}</td>` : ''}</tr>`,
      ),
      'No workers registered.',
    )}
    ${me.is_admin
      ? html`<p class="note">Disabling a worker stops its token and gives its work back (running requests are retried elsewhere).
          Quiesce: the worker takes no new work, finishes what it runs, then goes OFFLINE (QUIESCED); Offline stops it taking work at once (its running work carries on); Online lets it take work again.</p>`
      : ''}`;
}

/** A button's action through the API, then a redraw; a refusal is shown in #action-error. */
function onButton(selector, act) {
  document.addEventListener('click', async (event) => {
    const button = event.target.closest?.(selector);
    if (!button) return;
    const clickedOn = location.hash; // a late refusal is not shown on a page the user moved on to
    try {
      await act(button);
      await refresh(false);
    } catch (err) {
      const el = document.getElementById('action-error');
      if (el && location.hash === clickedOn) el.textContent = err.message;
    }
  });
}

onButton('button[data-worker-action]', (button) =>
  send('POST', `worker/${encodeURIComponent(button.closest('[data-worker]').dataset.worker)}/${button.dataset.workerAction}/`, {}),
);
onButton('button[data-machine-action]', (button) =>
  send('POST', `worker/${encodeURIComponent(button.closest('[data-worker]').dataset.worker)}/${button.dataset.machineAction}/`, {}),
);

async function auditPage(p) {
  if (!me.is_admin) return notFound('The audit log is for administrators.');
  const page = await get(`audit/${query({ limit: 50, cursor: p.cursor })}`);
  return html`<h1>Audit log</h1>
    ${table(
      ['When', 'Actor', 'Action', 'Details'],
      page.results.map((e) => html`<tr class="audit"><td>${when(e.at)}</td><td>${e.actor}</td><td>${e.action}</td><td><code>${JSON.stringify(e.details)}</code></td></tr>`),
      'No audit entries.',
    )}
    ${p.cursor ? html`<a href="#/audit">Newest</a> ` : ''}${page.cursor ? html`<a href="#/audit${query({ cursor: page.cursor })}" id="audit-older">Older entries</a>` : ''}`;
}

// ------------------------------------------------------------------ recurring jobs and quotas

const REVIEW_CLASS = { REVIEWED: 'success', FAILING: 'failure', NEW: 'pending', SUSPENDED: 'aborted', INVALID: 'aborted' };
const RESULT_CLASS = (status) => (/^SUCCESS/.test(status) ? 'success' : 'failure');
const jobTarget = (job) => job.target?.url ?? job.target?.template ?? JSON.stringify(job.target);
const jobLink = (job) => html`<a href="#/recurring-job/${job.id}">#${job.id}</a>`;
/** Launchpad's event data items, as "NAME: value" lines. */
const eventItems = (items) =>
  Object.entries(items ?? {})
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join('\n');

async function recurringJobsPage(p) {
  const workspace = workspaceOf(p);
  const list = await get(`recurring-job/${query({ workspace, limit: 100 })}`);
  return html`<h1>Recurring jobs</h1>
    <form class="filters" data-route="recurring-jobs">${workspaceSelect(workspace)}<button type="submit">Filter</button></form>
    ${table(
      ['Id', 'Kind', 'Target', 'Review status', 'Next due', 'Run', 'Failures in a row', 'Interval'],
      list.results.map(
        (job) => html`<tr data-id="${job.id}"><td>${jobLink(job)}</td><td>${job.kind}</td><td class="hash">${jobTarget(job)}</td>
          <td>${badge(job.review_status, REVIEW_CLASS[job.review_status])}</td><td>${when(job.next_due)}</td>
          <td>${job.run ? job.run.state : '—'}</td><td class="failures">${job.consecutive_failures}</td>
          <td class="hide-narrow">${job.effective_update_interval} s</td></tr>`,
      ),
      'No recurring jobs in this workspace.',
    )}
    <p class="note">Back-off: after n failures in a row the next run waits the interval × 2<sup>n−1</sup>; the 5th failure makes the job FAILING until an owner tries again.</p>`;
}

async function recurringJobPage(p) {
  const job = await get(`recurring-job/${p.id}/`);
  const events = await get(`recurring-job/${p.id}/events/${query({ limit: 100 })}`);
  // The API's rules (docs/api.md): contributors request a run of a REVIEWED job that has none
  // requested or running; owners review (NEW → REVIEWED) and try a FAILING job again.
  const canRequest = me.auth && roleAtLeast(job.workspace, 'contributor') && job.review_status === 'REVIEWED' && job.run?.state !== 'RUNNING' && !job.run?.requesting_user;
  const isOwner = me.auth && roleAtLeast(job.workspace, 'owner');
  const canReview = isOwner && job.review_status === 'NEW';
  const canTryAgain = isOwner && job.review_status === 'FAILING';
  return html`<h1>Recurring job #${job.id} <small>${job.kind}</small></h1>
    <p id="job-status">${badge(job.review_status, REVIEW_CLASS[job.review_status])}</p>
    ${canRequest || canReview || canTryAgain
      ? html`<div class="actions" data-job="${job.id}">
          ${canRequest ? html`<button type="button" data-job-action="request">Request a run now</button>` : ''}
          ${canReview ? html`<button type="button" class="secondary" data-job-action="review">Mark reviewed</button>` : ''}
          ${canTryAgain ? html`<button type="button" data-job-action="try-again">Try again</button>` : ''}
          <span class="error" role="alert" id="action-error"></span></div>`
      : ''}
    <dl><dt>Workspace</dt><dd>${job.workspace}</dd><dt>Owner</dt><dd>${job.owner}</dd><dt>Target</dt><dd>${jobTarget(job)}</dd>
      <dt>Interval</dt><dd>${job.effective_update_interval} s${job.update_interval === null ? ' (default)' : ''}</dd>
      <dt>Next due</dt><dd id="next-due">${when(job.next_due)}</dd>
      <dt>Failures in a row</dt><dd id="failures">${job.consecutive_failures}</dd>
      <dt>Last success</dt><dd>${when(job.date_last_successful)}</dd><dt>Created</dt><dd>${when(job.date_created)}</dd>
      <dt>Run</dt><dd id="job-run">${job.run
        ? html`${job.run.state}, due ${when(job.run.date_due)}${job.run.requesting_user ? ` (requested by ${job.run.requesting_user})` : ''}${job.run.work_request ? html` · ${wrLink(job.run.work_request)}` : ''}${job.run.machine ? ` on ${job.run.machine}` : ''}`
        : 'none'}</dd></dl>
    ${job.run?.logtail ? html`<h2>Log tail</h2><pre>${job.run.logtail}</pre>` : ''}
    <h2>Last results</h2>
    ${(job.last_results ?? []).length
      ? job.last_results.map(
          (r) => html`<section class="result"><h3>${badge(r.status, RESULT_CLASS(r.status))} ${when(r.date_job_finished)} <small>${r.job_duration_seconds} s${r.machine ? ` on ${r.machine}` : ''}${r.requesting_user ? `, requested by ${r.requesting_user}` : ''}</small></h3>
            ${r.log_artifact ? html`<p>Log: ${artifactLink(r.log_artifact)}${r.output_artifact ? html` · output ${artifactLink(r.output_artifact)}` : ''}</p>` : ''}
            <pre class="log-excerpt">${r.log_excerpt || '(no log excerpt)'}</pre></section>`,
        )
      : html`<p class="note">No run has finished yet.</p>`}
    <h2>Events</h2>
    ${table(
      ['When', 'Event', 'By', 'Machine', 'Details'],
      events.results.map(
        (e) => html`<tr class="event"><td>${when(e.date)}</td><td>${e.type}</td><td>${e.person ?? '—'}</td><td>${e.machine ?? '—'}</td><td><pre>${eventItems(e.items)}</pre></td></tr>`,
      ),
      'No events.',
    )}`;
}

onButton('button[data-job-action]', async (button) => {
  const id = button.closest('[data-job]').dataset.job;
  const action = button.dataset.jobAction;
  if (action === 'review') await send('PATCH', `recurring-job/${id}/`, { review_status: 'REVIEWED' });
  else await send('POST', `recurring-job/${id}/${action}/`);
});

const HEALTH_CLASS = { healthy: 'success', warning: 'pending', critical: 'failure' };

async function quotaPage() {
  if (!me.auth) return html`<h1>Quota</h1><p class="note">Sign in to see your quota.</p>`;
  const { quota } = await get('user/quota/');
  const row = (name, what, q) =>
    html`<tr data-resource="${name}"><th scope="row">${what}</th><td class="usage">${q.usage.human_readable}</td>
      <td class="limit">${q.limit ? q.limit.human_readable : 'unlimited'}</td>
      <td class="health">${q.health ? badge(q.health, HEALTH_CLASS[q.health]) : '—'}</td>
      <td>${q.limit && q.limit.raw > 0 ? html`<meter min="0" max="${q.limit.raw}" low="${q.limit.raw * 0.8}" high="${q.limit.raw}" optimum="0" value="${Math.min(q.usage.raw, q.limit.raw)}">${Math.round((100 * q.usage.raw) / q.limit.raw)} %</meter>` : ''}</td></tr>`;
  return html`<h1>Quota</h1>
    <p>Usage of <strong>${me.user}</strong> against the limits an administrator set.</p>
    ${table(['Resource', 'Used', 'Limit', 'Health', ''], [row('cpu', 'CPU time', quota.cpu), row('disk', 'Disk', quota.disk)])}
    <p class="note">Health: warning from 80 % of a limit, critical from 100 % (new artifacts and work requests are then refused). Usage is updated within seconds of a change and recomputed hourly.</p>`;
}

function notFound(message = 'There is no such page.') {
  return html`<h1>Not found</h1><p>${message}</p><p><a href="#/">Back to the workspaces</a></p>`;
}

const ROUTES = [
  [/^\/$/, workspacesPage, '#/'],
  [/^\/artifacts$/, artifactsPage, '#/artifacts'],
  [/^\/artifact\/(?<id>\d+)$/, artifactPage, '#/artifacts'],
  [/^\/work-requests$/, workRequestsPage, '#/work-requests'],
  [/^\/work-request\/(?<id>\d+)$/, workRequestPage, '#/work-requests'],
  [/^\/workflows$/, workflowsPage, '#/workflows'],
  [/^\/workflow\/(?<id>\d+)$/, workflowPage, '#/workflows'],
  [/^\/workers$/, workersPage, '#/workers'],
  [/^\/audit$/, auditPage, '#/audit'],
  [/^\/recurring-jobs$/, recurringJobsPage, '#/recurring-jobs'],
  [/^\/recurring-job\/(?<id>\d+)$/, recurringJobPage, '#/recurring-jobs'],
  [/^\/quota$/, quotaPage, '#/quota'],
];

// Filter forms navigate (so the URL can be shared), dropping empty fields.
document.addEventListener('submit', (event) => {
  const route = event.target.dataset?.route;
  if (!route) return;
  event.preventDefault();
  location.hash = `#/${route}${query(Object.fromEntries(new FormData(event.target)))}`;
});

// ------------------------------------------------------------------ rendering and polling

let lastHtml = '';
let rendering = false;
let queue = Promise.resolve();

/** Renders the current page; calls are queued so that a navigation during a poll is not lost. */
function refresh(navigated) {
  queue = queue.then(() => render(navigated));
  return queue;
}

/** A form control's identity across re-renders: its id, else its filter form's route and its name. */
const controlKey = (control) => control.id || (control.form?.dataset.route ? `${control.form.dataset.route}/${control.name}` : '');
const formControls = (root) => [...root.querySelectorAll('input, select, textarea')].filter((c) => controlKey(c) !== '');

async function render(navigated) {
  rendering = true;
  const main = document.getElementById('main');
  try {
    changed = false;
    await loadSession();
    const hash = location.hash.replace(/^#/, '') || '/';
    const [path, search = ''] = hash.split('?');
    const params = Object.fromEntries(new URLSearchParams(search));
    const route = ROUTES.find(([pattern]) => pattern.test(path));
    let content;
    if (!route) content = notFound();
    else {
      try {
        content = await route[1]({ ...params, ...(path.match(route[0]).groups ?? {}) });
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        content = err.status === 404 || err.status === 403 ? notFound(err.message) : html`<h1>Error</h1><p class="error">${err.message}</p>`;
      }
    }
    for (const a of document.querySelectorAll('nav a')) {
      if (route && a.getAttribute('href') === route[2]) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    if (navigated) renderSession();
    if (navigated || content.text !== lastHtml) {
      const focused = document.activeElement?.id;
      // What the user is typing or choosing survives a poll's re-render (filters' selects too).
      const values = formControls(main).map((c) => [controlKey(c), c.value]);
      main.innerHTML = content.text;
      lastHtml = content.text;
      if (!navigated) {
        const fresh = new Map(formControls(main).map((c) => [controlKey(c), c]));
        for (const [key, value] of values) {
          const control = fresh.get(key);
          if (control && key !== 'priority') control.value = value;
        }
        if (focused) document.getElementById(focused)?.focus();
      }
      document.title = `${main.querySelector('h1')?.textContent ?? 'Conveyor'} · Conveyor`;
    }
    document.getElementById('live').textContent = `Updated ${new Date().toLocaleTimeString()}`;
    if (!document.body.dataset.ready) document.body.dataset.readyAt = String(Math.round(performance.now()));
    document.body.dataset.ready = '1';
  } catch (err) {
    main.innerHTML = html`<h1>Error</h1><p class="error">${err.message}</p>`.text;
  } finally {
    rendering = false;
  }
}

window.addEventListener('hashchange', async () => {
  await refresh(true);
  document.getElementById('main').focus({ preventScroll: true });
});
setInterval(() => {
  if (!document.hidden && !rendering) refresh(false);
}, POLL_MS);
refresh(true);
