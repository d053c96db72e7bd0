// One device: identity, capabilities, labels, its deployments with their latest state and
// the status history of each (per component), the desired-state revision, last seen; and the
// actions its state allows.
import { h, replace, badge, timeEl, fmtTime } from './dom.js';
import { api, errorText } from './api.js';
import { notify } from './app.js';

function dl(rows) {
  return h('dl.props', {}, rows.filter(r => r).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

function capabilitiesView(c) {
  if (!c) return h('p.muted', {}, 'The device has not reported its capabilities yet.');
  const p = c.properties || c;
  const res = p.resources || {};
  const cpus = (res.cpus || []).map(x => `${x.architecture || '?'} × ${x.cores ?? '?'}`).join(', ');
  return [dl([
    ['Vendor', p.vendor], ['Model', p.modelNumber], ['Serial', p.serialNumber],
    ['Roles', (p.roles || []).join(', ') || '—'], ['CPUs', cpus || '—'],
    ['Memory', res.memory || '—'], ['Storage', res.storage || '—'],
  ].filter(r => r[1] !== undefined)),
  h('details', {}, h('summary', {}, 'The whole document'), h('pre', {}, JSON.stringify(c, null, 2)))];
}

function historyTable(items) {
  if (!items.length) return h('p.muted', {}, 'No report yet.');
  return h('table.history', {},
    h('thead', {}, h('tr', {}, ['Reported', 'State', 'Components', 'Error'].map(c => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, items.map(r => h('tr', {},
      h('td', {}, h('span', { title: fmtTime(r.receivedAt) }, fmtTime(r.receivedAt))),
      h('td', {}, badge(r.state)),
      h('td', {}, (r.components || []).length ? h('ul.comps', {}, r.components.map(c =>
        h('li', {}, h('span.mono', {}, c.name), ' ', badge(c.state),
          c.error && c.error.message ? h('span.muted', {}, ' ' + c.error.message) : null))) : '—'),
      h('td', {}, r.error ? `${r.error.code || ''} ${r.error.message || ''}` : '')))));
}

function deploymentRow(dev, d, refresh) {
  const slot = h('td', { colspan: 6 });
  const row = h('tr.history-row', { hidden: true }, slot);
  const toggle = h('button.secondary.small', { type: 'button', 'aria-expanded': 'false',
    onclick: async () => {
      const open = toggle.getAttribute('aria-expanded') === 'true';
      toggle.setAttribute('aria-expanded', String(!open));
      row.hidden = open;
      if (open) return;
      replace(slot, h('p.muted', {}, 'Loading…'));
      try {
        const hist = await api('GET', `/admin/v1/devices/${dev.id}/deployments/${encodeURIComponent(d.deploymentId)}/history`);
        replace(slot, historyTable(hist.items));
      } catch (e) { replace(slot, h('p.notice.error', {}, errorText(e))); }
    } }, 'History');
  const remove = d.name === null ? null : h('button.danger.small', { type: 'button', onclick: async () => {
    if (!confirm(`Remove deployment ${d.deploymentId} from this device?`)) return;
    try {
      await api('DELETE', `/admin/v1/devices/${dev.id}/deployments/${encodeURIComponent(d.deploymentId)}`);
      notify(`Deployment ${d.deploymentId} removed; the device uninstalls it at its next poll.`);
      refresh();
    } catch (e) { notify(errorText(e), 'error'); }
  } }, 'Remove');
  return [h('tr', { 'data-deployment': d.deploymentId },
    h('td.mono', {}, d.deploymentId), h('td', {}, d.name || h('span.muted', {}, 'not deployed by this WFM')),
    h('td', {}, badge(d.state || 'not reported')),
    h('td', {}, d.error && d.error.message ? d.error.message : ''),
    h('td', {}, timeEl(d.updatedAt)), h('td.actions', {}, toggle, ' ', remove)), row];
}

function actions(dev, refresh) {
  const act = (verb, path, method, confirmText) => h('button' + (verb === 'Approve' ? '' : '.danger'), {
    type: 'button', onclick: async () => {
      if (confirmText && !confirm(confirmText)) return;
      try { await api(method, path); notify(`${verb}: done.`); refresh(); }
      catch (e) { notify(errorText(e), 'error'); }
    } }, verb);
  const base = '/admin/v1/devices/' + dev.id;
  return h('div.toolbar', {},
    dev.state === 'pending' ? [act('Approve', base + '/approve', 'POST'), act('Reject', base + '/reject', 'POST')] : null,
    dev.state === 'active' ? [h('a.button', { href: '#/deploy?device=' + dev.id }, 'Deploy to this device'),
      act('Revoke', base, 'DELETE', 'Revoke every credential of this device? It will have to onboard again.')] : null);
}

export async function devicePage(main, args) {
  const id = args[0];
  const refresh = () => devicePage(main, args);
  const dev = await api('GET', '/admin/v1/devices/' + encodeURIComponent(id));
  let labels = null;
  try { labels = await api('GET', `/admin/v1/devices/${id}/labels`); } catch (e) { labels = null; }
  const deps = dev.deployments || [];
  replace(main,
    h('p.crumbs', {}, h('a', { href: '#/devices' }, 'Devices'), ' / ', h('span.mono', {}, dev.id)),
    h('h1', {}, (dev.vendor || 'Device') + ' ' + (dev.modelNumber || ''), ' ', badge(dev.state)),
    actions(dev, refresh),
    h('div.grid2', {},
      h('section', { 'aria-labelledby': 'h-id' }, h('h2', { id: 'h-id' }, 'Identity'), dl([
        ['Client id', h('span.mono', {}, dev.id)], ['State', badge(dev.state)],
        ['Serial', h('span.mono', {}, dev.serialNumber || '—')],
        ['Certificate', h('span.mono.wrap', {}, dev.certificateFingerprint || '—')],
        ['Key id', h('span.mono.wrap', {}, dev.keyId || '—')],
        ['Onboarded', timeEl(dev.createdAt)], ['First token', timeEl(dev.firstAuthAt)],
        ['Last seen', timeEl(dev.lastSeenAt)],
        ['Desired state', dev.revision ? h('span.mono', { title: dev.revision }, dev.revision.slice(0, 12)) : '—'],
      ])),
      h('section', { 'aria-labelledby': 'h-caps' }, h('h2', { id: 'h-caps' }, 'Capabilities'),
        capabilitiesView(dev.capabilities),
        labels ? [h('h3', {}, 'Labels'), h('p.labels', {},
          Object.entries({ ...labels.derivedLabels, ...labels.labels }).map(([k, v]) =>
            h('span.label', {}, k + (v ? '=' + v : ''))))] : null)),
    h('section', { 'aria-labelledby': 'h-deps' },
      h('h2', { id: 'h-deps' }, 'Deployments'),
      deps.length === 0 ? h('p.muted', {}, 'Nothing deployed.') :
        h('table', { 'aria-label': 'Deployments' },
          h('thead', {}, h('tr', {}, ['Deployment', 'Name', 'State', 'Error', 'Updated', ''].map(c =>
            h('th', { scope: 'col' }, c)))),
          h('tbody', {}, deps.map(d => deploymentRow(dev, d, refresh))))));
}
