// Audit log: every change made through the admin API (or this console), who made it, from
// where, and how it ended; filtered by operator, device and time, a page at a time.
import { h, replace, badge, fmtTime, field } from './dom.js';
import { api } from './api.js';
import { pager, PAGE_SIZE } from './pager.js';
import { go } from './app.js';

export async function auditPage(main, args, q) {
  const body = h('tbody');
  const form = h('form.filters', { role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    go('audit', { operator: form.operator.value.trim(), device: form.device.value.trim() });
  } },
  field('Operator', h('input', { name: 'operator', value: q.get('operator') || '' })),
  field('Device', h('input.mono', { name: 'device', value: q.get('device') || '' })),
  h('div.field.actions', {}, h('button', { type: 'submit' }, 'Filter'), h('a.button.secondary', { href: '#/audit' }, 'Clear')));
  const p = pager(async (after) => {
    const page = await api('GET', '/admin/v1/audit', { query: { limit: PAGE_SIZE, after,
      operator: q.get('operator'), device: q.get('device') } });
    replace(body, page.items.length ? page.items.map(e => h('tr', {},
      h('td', {}, fmtTime(e.at || e.time || e.createdAt)),
      h('td', {}, e.operator || ''), h('td', {}, e.role || ''),
      h('td.mono', {}, `${e.method || ''} ${e.route || e.path || ''}`),
      h('td.mono.wrap', {}, e.target || e.deviceId || (e.targets ? JSON.stringify(e.targets) : '')),
      h('td.mono', {}, e.address || e.clientAddr || ''),
      h('td', {}, badge(String(e.status || e.outcome || ''))))) :
      h('tr', {}, h('td.muted', { colspan: 7 }, 'No entry matches.')));
    return page;
  });
  replace(main, h('h1', {}, 'Audit log'), form,
    h('table', { 'aria-label': 'Audit log' },
      h('thead', {}, h('tr', {}, ['When', 'Operator', 'Role', 'Request', 'Target', 'From', 'Outcome'].map(c =>
        h('th', { scope: 'col' }, c)))), body), p.el);
  await p.reload();
}
