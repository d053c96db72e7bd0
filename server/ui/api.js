// The console's calls to wfmd's admin API. The session cookie (HttpOnly) goes with every
// request by itself; a request that changes something also carries the session's CSRF token
// in X-CSRF-Token (docs/console.md, "Security model"). No token is kept in storage.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || ('HTTP ' + status));
    this.status = status;
    this.problem = problem || {};
  }
}

export function setCsrf(t) { csrfToken = t; }

// api('GET', '/admin/v1/devices', {query}) -> parsed JSON (null for 204).
// opts: {query: {k: v}, json: value, body: string, type: content type}.
export async function api(method, path, opts = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(opts.query || {}))
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, v);
  const headers = { 'Accept': 'application/json' };
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.body !== undefined) {
    headers['Content-Type'] = opts.type || 'text/plain';
    body = opts.body;
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  const r = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
  if (!r.ok) {
    if (r.status === 401 && !opts.noRedirect) window.dispatchEvent(new CustomEvent('console-logged-out'));
    throw new ApiError(r.status, data);
  }
  return data;
}

// A short sentence for an error, with the problem's detail.
export function errorText(e) {
  if (e instanceof ApiError) {
    const p = e.problem;
    return (p.title ? p.title + ': ' : '') + (p.detail || ('HTTP ' + e.status));
  }
  return String(e && e.message || e);
}
