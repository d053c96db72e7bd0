// Audit log: every change made through the admin API (or this console), who made it, from
// where, and how it ended; filtered by operator, device and time, a page at a time.
import { h, replace, fmtTime, field } from './dom.js';
import { api } from './api.js';
import { pager, PAGE_SIZE } from './pager.js';
import { go } from './app.js';

// A datetime-local value (the browser's local time) as RFC 3339 UTC.
function utc(v) { return v ? new Date(v).toISOString().replace(/\.\d+Z$/, 'Z') : null; }

export async function auditPage(main, args, q) {
  const body = h('tbody');
  const form = h('form.filters', { role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    go('audit', { operator: form.operator.value.trim(), device: form.device.value.trim(),
      since: form.since.value, until: form.until.value });
  } },
  field('Operator', h('input', { name: 'operator', value: q.get('operator') || '' })),
  field('Device id', h('input.mono', { name: 'device', value: q.get('device') || '' })),
  field('From', h('input', { name: 'since', type: 'datetime-local', value: q.get('since') || '' })),
  field('Until', h('input', { name: 'until', type: 'datetime-local', value: q.get('until') || '' })),
  h('div.field.actions', {}, h('button', { type: 'submit' }, 'Filter'), h('a.button.secondary', { href: '#/audit' }, 'Clear')));
  const p = pager(async (after) => {
    const page = await api('GET', '/admin/v1/audit', { query: { limit: PAGE_SIZE, after,
      operator: q.get('operator'), deviceId: q.get('device'), since: utc(q.get('since')), until: utc(q.get('until')) } });
    replace(body, page.items.length ? page.items.map(e => h('tr', {},
      h('td', {}, fmtTime(e.at)), h('td', {}, e.operator),
      h('td.mono', {}, `${e.method} ${e.path}`),
      h('td', {}, e.deviceId ? h('a.mono', { href: '#/device/' + e.deviceId }, e.deviceId.slice(0, 8) + '…') : ''),
      h('td.mono.wrap', {}, e.target || ''),
      h('td.mono', {}, e.clientAddress),
      h('td', {}, h('span.badge' + (e.status < 300 ? '.st-active' : e.status < 500 ? '.st-rejected' : '.st-failed'), {}, String(e.status))))) :
      h('tr', {}, h('td.muted', { colspan: 7 }, 'No entry matches.')));
    return page;
  });
  replace(main, h('h1', {}, 'Audit log'), form,
    h('table', { 'aria-label': 'Audit log' },
      h('thead', {}, h('tr', {}, ['When', 'Operator', 'Request', 'Device', 'Target', 'From', 'Status'].map(c =>
        h('th', { scope: 'col' }, c)))), body), p.el);
  await p.reload();
}
