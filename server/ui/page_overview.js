// Fleet overview: devices by state, onboarding and poll activity, failing deployments, all
// from GET /admin/v1/summary (a few indexed counts, whatever the fleet's size).
import { h, replace, badge, timeEl } from './dom.js';
import { api } from './api.js';

function card(label, value, sub, href) {
  const body = [h('span.card-value', {}, String(value)), h('span.card-label', {}, label),
    sub ? h('span.card-sub', {}, sub) : null];
  return h('li.card', {}, href ? h('a.card-body', { href }, body) : h('div.card-body', {}, body));
}

export async function overviewPage(main) {
  replace(main, h('h1', {}, 'Fleet overview'), h('p.muted', {}, 'Loading…'));
  const s = await api('GET', '/admin/v1/summary');
  const d = s.devices;
  const failing = s.failingDeployments;
  replace(main,
    h('h1', {}, 'Fleet overview'),
    h('section', { 'aria-labelledby': 'h-states' },
      h('h2', { id: 'h-states' }, 'Devices by state'),
      h('ul.cards', {},
        card('devices in total', d.total, null, '#/devices'),
        card('active', d.active, null, '#/devices?state=active'),
        card('pending approval', d.pending, d.pending ? 'waiting for an operator' : null, '#/approvals'),
        card('rejected', d.rejected, null, '#/devices?state=rejected'),
        card('revoked', d.revoked, null, '#/devices?state=revoked'))),
    h('section', { 'aria-labelledby': 'h-activity' },
      h('h2', { id: 'h-activity' }, 'Activity'),
      h('ul.cards', {},
        card('onboarded in the last hour', s.onboarded.lastHour, `${s.onboarded.lastDay} in the last 24 h`),
        card('devices polled in the last 5 min', s.seen.last5Minutes,
          d.active ? `${Math.round(100 * s.seen.last5Minutes / Math.max(d.active, 1))} % of active devices` : null),
        card('failing deployments', failing.total, failing.total ? 'latest report Failed' : 'none'))),
    h('section', { 'aria-labelledby': 'h-failing' },
      h('h2', { id: 'h-failing' }, 'Failing deployments'),
      failing.items.length === 0 ? h('p.muted', {}, 'No deployment is failing.') :
        h('table', {},
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Device'), h('th', { scope: 'col' }, 'Deployment'),
            h('th', { scope: 'col' }, 'State'), h('th', { scope: 'col' }, 'Reported'))),
          h('tbody', {}, failing.items.map(f => h('tr', {},
            h('td', {}, h('a.mono', { href: '#/device/' + f.deviceId }, f.deviceId)),
            h('td.mono', {}, f.deploymentId), h('td', {}, badge('Failed')), h('td', {}, timeEl(f.reportedAt))))))),
    h('p.muted.small', {}, 'Figures as of ', timeEl(s.generatedAt), '.'));
}
