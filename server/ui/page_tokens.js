// Enrollment tokens: create one (the token is shown once, with a copy button: wfmd keeps only
// its hash), list them, revoke one.
import { h, replace, badge, timeEl, field, showFieldErrors } from './dom.js';
import { api, errorText, ApiError } from './api.js';
import { notify } from './app.js';

function shownOnce(t) {
  const out = h('input.mono', { id: 'new-token', readonly: true, value: t.token, 'aria-label': 'The new enrollment token' });
  const copy = h('button', { type: 'button', id: 'copy-token', onclick: async () => {
    try { await navigator.clipboard.writeText(t.token); copy.textContent = 'Copied'; }
    catch (e) { out.select(); copy.textContent = 'Press Ctrl+C'; }
  } }, 'Copy');
  return h('section.once', { 'aria-labelledby': 'h-once' },
    h('h2', { id: 'h-once' }, 'New token ', h('span.mono', {}, t.id)),
    h('p', {}, 'Copy it now: it is shown only this once. Give it to the device ',
      '(margo-agent --enrollment-token-file).'),
    h('div.copy', {}, out, copy));
}

function createForm(onCreated) {
  const rest = h('ul.errors');
  const form = h('form.card-form', { onsubmit: async (ev) => {
    ev.preventDefault();
    const f = ev.target;
    try {
      const t = await api('POST', '/admin/v1/enrollment-tokens', { json: {
        description: f.description.value, ttlSeconds: Number(f.ttlHours.value) * 3600,
        maxUses: Number(f.maxUses.value), autoApprove: f.autoApprove.checked } });
      showFieldErrors(f, [], rest);
      f.reset();
      onCreated(t);
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors) showFieldErrors(f, e.problem.errors, rest);
      else notify(errorText(e), 'error');
    }
  } },
  h('h2', {}, 'Create a token'),
  h('div.row', {},
    field('Description', h('input', { name: 'description', 'data-pointer': '/description', placeholder: 'line 3 gateways' })),
    field('Valid for (hours)', h('input', { name: 'ttlHours', type: 'number', min: 1, value: 24, 'data-pointer': '/ttlSeconds' })),
    field('Uses', h('input', { name: 'maxUses', type: 'number', min: 1, value: 1, 'data-pointer': '/maxUses' }))),
  h('div.check', {}, h('input', { type: 'checkbox', name: 'autoApprove', id: 'autoApprove' }),
    h('label', { for: 'autoApprove' }, 'Approve devices that use it without asking an operator')),
  rest, h('button', { type: 'submit', id: 'create-token' }, 'Create token'));
  return form;
}

export async function tokensPage(main) {
  const once = h('div');
  const body = h('tbody');
  async function load() {
    const page = await api('GET', '/admin/v1/enrollment-tokens', { query: { limit: 100 } });
    replace(body, page.items.length ? page.items.slice().reverse().map(t => h('tr', {},
      h('td.mono', {}, t.id), h('td', {}, t.description || ''), h('td', {}, badge(t.state)),
      h('td', {}, `${t.uses} / ${t.maxUses}`), h('td', {}, t.autoApprove ? 'yes' : 'no'),
      h('td', {}, timeEl(t.expiresAt)),
      h('td.actions', {}, t.state === 'active' ? h('button.danger.small', { type: 'button',
        'aria-label': 'Revoke token ' + t.id, onclick: async () => {
          try { await api('DELETE', '/admin/v1/enrollment-tokens/' + t.id); notify(`Token ${t.id} revoked.`); load(); }
          catch (e) { notify(errorText(e), 'error'); }
        } }, 'Revoke') : null))) :
      h('tr', {}, h('td.muted', { colspan: 7 }, 'No enrollment token yet.')));
  }
  replace(main, h('h1', {}, 'Enrollment tokens'),
    createForm((t) => { replace(once, shownOnce(t)); document.getElementById('new-token').focus(); load(); }),
    once,
    h('h2', {}, 'Tokens'),
    h('table', { 'aria-label': 'Enrollment tokens' },
      h('thead', {}, h('tr', {}, ['Id', 'Description', 'State', 'Used', 'Auto-approve', 'Expires', ''].map(c =>
        h('th', { scope: 'col' }, c)))), body));
  await load();
}
