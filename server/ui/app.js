// The console's shell: login, the navigation, and a router over location.hash
// (#/devices?state=pending) that hands each page its element and query.
import { h, replace } from './dom.js';
import { api, setCsrf, errorText } from './api.js';
import { overviewPage } from './page_overview.js';
import { devicesPage } from './page_devices.js';
import { devicePage } from './page_device.js';
import { approvalsPage } from './page_approvals.js';
import { tokensPage } from './page_tokens.js';
import { certificatesPage } from './page_certificates.js';
import { deployPage } from './page_deploy.js';
import { rolloutsPage, rolloutPage } from './page_rollouts.js';
import { auditPage } from './page_audit.js';

const pages = [
  { path: 'overview', title: 'Overview', render: overviewPage },
  { path: 'devices', title: 'Devices', render: devicesPage },
  { path: 'approvals', title: 'Pending approvals', render: approvalsPage },
  { path: 'deploy', title: 'Deploy', render: deployPage },
  { path: 'rollouts', title: 'Rollouts', render: rolloutsPage },
  { path: 'tokens', title: 'Enrollment tokens', render: tokensPage },
  { path: 'certificates', title: 'Certificates', render: certificatesPage },
  { path: 'audit', title: 'Audit log', render: auditPage },
];
const hidden = [
  { path: 'device', title: 'Device', render: devicePage },
  { path: 'rollout', title: 'Rollout', render: rolloutPage },
];

const app = document.getElementById('app');
let session = null;

// The page and its arguments from the hash: #/device/ID?x=1 -> {page, args: [ID], query}.
function route() {
  const [path, qs] = location.hash.replace(/^#\/?/, '').split('?');
  const [name, ...args] = path.split('/').map(decodeURIComponent);
  const page = [...pages, ...hidden].find(p => p.path === name) || pages[0];
  return { page, args, query: new URLSearchParams(qs || '') };
}

// Sets the hash for a page with a query (empty values dropped).
export function go(path, query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) if (v) q.set(k, v);
  const s = q.toString();
  location.hash = '#/' + path + (s ? '?' + s : '');
}

// A notice at the top of the page (role=status), e.g. "Approved 3 devices".
export function notify(text, kind) {
  const el = document.getElementById('notice');
  if (!el) return;
  replace(el, text ? h('p.notice' + (kind === 'error' ? '.error' : ''), {}, text) : null);
}

export function currentSession() { return session; }

function nav(current) {
  return h('nav.side', { 'aria-label': 'Console' },
    h('div.brand', {}, h('span.logo', { 'aria-hidden': 'true' }, 'M'), 'margo-fleet'),
    h('ul', {}, pages.map(p => h('li', {},
      h('a', { href: '#/' + p.path, 'aria-current': p === current ? 'page' : null }, p.title)))),
    h('div.who', {},
      h('p', {}, h('span.muted', {}, 'Signed in as '), h('strong', { id: 'who' }, session.operator)),
      h('p', {}, h('span.muted', {}, 'Role '), h('span.role', { id: 'role' }, session.role)),
      h('button.secondary', { type: 'button', id: 'logout', onclick: logout }, 'Log out')));
}

// moveFocus: after a navigation, focus goes to the new page (keyboard and screen reader users
// land on its content, not on the link they left).
async function render(moveFocus) {
  if (!session) return;
  const { page, args, query } = route();
  const main = h('main', { id: 'main', tabindex: '-1' });
  const shown = page.path === 'device' || page.path === 'rollout' ?
    pages.find(p => p.path === page.path + 's') : page;
  replace(app, nav(shown), h('div.content', {}, h('div', { id: 'notice', role: 'status' }), main));
  app.className = '';
  document.title = page.title + ' · margo-fleet';
  try {
    await page.render(main, args, query);
    if (moveFocus === true && !main.contains(document.activeElement)) main.focus();
  } catch (e) {
    replace(main, h('h1', {}, page.title), h('p.notice.error', { role: 'alert' }, errorText(e)));
  }
}

function loginPage(message) {
  const input = h('input', { type: 'password', name: 'token', id: 'token', required: true,
    autocomplete: 'off', spellcheck: 'false' });
  const err = h('p.field-error', { id: 'token-err', role: 'alert' }, message || '');
  input.setAttribute('aria-describedby', 'token-hint token-err');
  const form = h('form.login', { onsubmit: login },
    h('h1', {}, h('span.logo', { 'aria-hidden': 'true' }, 'M'), 'margo-fleet console'),
    h('label', { for: 'token' }, 'Operator token'), input,
    h('p.hint', { id: 'token-hint' }, 'Your wfmadm_ or operator token (wfmctl operator add). ' +
      'It is sent once and exchanged for a session cookie; the console never stores it.'),
    err, h('button', { type: 'submit' }, 'Log in'));
  replace(app, h('main.login-wrap', { id: 'main' }, form));
  app.className = '';
  document.title = 'Log in · margo-fleet';
  input.focus();
}

async function login(ev) {
  ev.preventDefault();
  const form = ev.target;
  const token = form.token.value.trim();
  try {
    session = await api('POST', '/admin/v1/session', { json: { token }, noRedirect: true });
    form.token.value = '';
    setCsrf(session.csrfToken);
    render();
  } catch (e) {
    form.token.value = '';
    replace(document.getElementById('token-err'), errorText(e));
    form.token.setAttribute('aria-invalid', 'true');
    form.token.focus();
  }
}

async function logout() {
  try { await api('DELETE', '/admin/v1/session', { noRedirect: true }); } catch (e) { /* ended */ }
  session = null;
  setCsrf(null);
  loginPage('You are logged out.');
}

window.addEventListener('hashchange', () => render(true));
window.addEventListener('console-logged-out', () => {
  session = null;
  setCsrf(null);
  loginPage('Your session ended; log in again.');
});

(async function start() {
  try {
    session = await api('GET', '/admin/v1/session', { noRedirect: true });
    setCsrf(session.csrfToken);
    render();
  } catch (e) {
    loginPage('');
  }
})();
