// Devices: the fleet a page at a time (server-side cursor paging), filtered by state,
// vendor, model, last seen, and searched by id or serial number prefix. Filters live in the
// URL (#/devices?state=active&q=ab12) so a view can be bookmarked and shared.
import { h, replace, badge, timeEl, field } from './dom.js';
import { api } from './api.js';
import { pager, PAGE_SIZE } from './pager.js';
import { go } from './app.js';

const STATES = ['', 'pending', 'active', 'rejected', 'revoked'];
const DEPLOY_STATES = ['', 'Pending', 'Installing', 'Installed', 'Failed', 'Removing', 'Removed'];
const QUIET = [['', 'any time'], ['300', '5 minutes'], ['3600', 'an hour'], ['86400', 'a day'], ['604800', 'a week']];

// The admin API's query for the filters (docs/api.md, device list filters).
function apiQuery(q, after) {
  return {
    limit: q.get('limit') || PAGE_SIZE, after,
    state: q.get('state'), vendor: q.get('vendor'), modelNumber: q.get('model'),
    idPrefix: q.get('id'), serialPrefix: q.get('serial'), deploymentState: q.get('deployment'),
    lastSeenBefore: q.get('quiet') ? new Date(Date.now() - Number(q.get('quiet')) * 1000).toISOString().replace(/\.\d+Z$/, 'Z') : null,
  };
}

function filters(q) {
  const form = h('form.filters', { role: 'search', onsubmit: (ev) => {
    ev.preventDefault();
    const f = ev.target;
    go('devices', { id: f.idp.value.trim(), serial: f.serial.value.trim(), state: f.state.value,
      vendor: f.vendor.value.trim(), model: f.model.value.trim(), deployment: f.deployment.value,
      quiet: f.quiet.value });
  } },
  field('Id prefix', h('input.mono', { name: 'idp', type: 'search', value: q.get('id') || '', placeholder: 'e.g. 3f2a' })),
  field('Serial prefix', h('input', { name: 'serial', type: 'search', value: q.get('serial') || '', placeholder: 'e.g. SN-00' })),
  field('State', h('select', { name: 'state' }, STATES.map(s =>
    h('option', { value: s, selected: (q.get('state') || '') === s }, s || 'any')))),
  field('Vendor', h('input', { name: 'vendor', value: q.get('vendor') || '' })),
  field('Model', h('input', { name: 'model', value: q.get('model') || '' })),
  field('Deployment state', h('select', { name: 'deployment' }, DEPLOY_STATES.map(s =>
    h('option', { value: s, selected: (q.get('deployment') || '') === s }, s || 'any')))),
  field('Not seen for', h('select', { name: 'quiet' }, QUIET.map(([v, label]) =>
    h('option', { value: v, selected: (q.get('quiet') || '') === v }, label)))),
  h('div.field.actions', {}, h('button', { type: 'submit' }, 'Filter'),
    h('a.button.secondary', { href: '#/devices' }, 'Clear')));
  return form;
}

export function deviceRow(d, extra) {
  return h('tr', {},
    extra || null,
    h('td', {}, h('a.mono', { href: '#/device/' + d.id, title: d.id }, d.id.slice(0, 8) + '…')),
    h('td', {}, badge(d.state)),
    h('td', {}, d.vendor || ''), h('td', {}, d.modelNumber || ''),
    h('td.mono', {}, d.serialNumber || ''),
    h('td', {}, timeEl(d.lastSeenAt)), h('td', {}, timeEl(d.createdAt)));
}

export function deviceHead(extra) {
  return h('thead', {}, h('tr', {}, extra || null,
    ['Device', 'State', 'Vendor', 'Model', 'Serial', 'Last seen', 'Onboarded']
      .map(c => h('th', { scope: 'col' }, c))));
}

export async function devicesPage(main, args, q) {
  const body = h('tbody');
  const table = h('table', { 'aria-label': 'Devices' }, deviceHead(), body);
  const p = pager(async (after) => {
    const page = await api('GET', '/admin/v1/devices', { query: apiQuery(q, after) });
    replace(body, page.items.length ? page.items.map(d => deviceRow(d)) :
      h('tr', {}, h('td.muted', { colspan: 7 }, 'No device matches.')));
    return page;
  });
  replace(main, h('h1', {}, 'Devices'), filters(q), table, p.el);
  await p.reload();
}
