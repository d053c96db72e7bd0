// Rollouts (docs/fleet.md): the list, and one rollout's waves with counts per state and a
// progress bar each; pause, resume and abort for operators.
import { h, replace, badge, timeEl } from './dom.js';
import { api, errorText } from './api.js';
import { notify } from './app.js';

const STATES = ['', 'running', 'waiting', 'paused', 'rolling-back', 'completed', 'aborted', 'superseded'];

export async function rolloutsPage(main, args, q) {
  const state = q.get('state') || '';
  const list = await api('GET', '/admin/v1/rollouts', { query: { state } });
  const sel = h('select', { id: 'rollout-state', onchange: () => { location.hash = '#/rollouts' + (sel.value ? '?state=' + sel.value : ''); } },
    STATES.map(s => h('option', { value: s, selected: s === state }, s || 'any')));
  replace(main, h('h1', {}, 'Rollouts'),
    h('div.filters', {}, h('div.field', {}, h('label', { for: 'rollout-state' }, 'State'), sel)),
    h('table', { 'aria-label': 'Rollouts' },
      h('thead', {}, h('tr', {}, ['Rollout', 'Deployment', 'Selector', 'State', 'Wave', 'Devices', 'Updated'].map(c =>
        h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.items.length ? list.items.map(r => h('tr', {},
        h('td', {}, h('a.mono', { href: '#/rollout/' + r.id }, r.id.slice(0, 8) + '…')),
        h('td.mono', {}, r.deploymentId), h('td.mono', {}, r.selector), h('td', {}, badge(r.state)),
        h('td', {}, `${Math.min(r.currentWave + 1, r.waves)} of ${r.waves}`), h('td', {}, r.devices),
        h('td', {}, timeEl(r.updatedAt)))) :
        h('tr', {}, h('td.muted', { colspan: 7 }, 'No rollout. Start one with wfmctl rollout create.')))),
    h('p.muted.small', {}, 'Rollouts are created with wfmctl rollout create (docs/fleet.md).'));
}

function waveRow(r, w) {
  const done = w.installed + w.failed + w.skipped + w.rolledBack;
  const label = w.wave === 0 && r.canary ? 'Canary' : 'Wave ' + (w.wave + 1);
  return h('tr', { 'aria-current': w.wave === r.currentWave ? 'step' : null },
    h('th', { scope: 'row' }, label),
    h('td', {}, h('progress', { max: Math.max(w.devices, 1), value: w.installed,
      'aria-label': `${label}: ${w.installed} of ${w.devices} installed` }),
      h('span.small', {}, ` ${w.devices ? Math.round(100 * w.installed / w.devices) : 0} %`)),
    ['devices', 'waiting', 'deploying', 'installed', 'failed', 'notReported', 'rolledBack'].map(k =>
      h('td.num' + (k === 'failed' && w[k] ? '.bad' : ''), {}, String(w[k]))),
    h('td.num', {}, String(done)));
}

function controls(r, refresh) {
  const act = (verb, path, body, cls, confirmText) => h('button' + (cls || ''), { type: 'button', onclick: async () => {
    if (confirmText && !confirm(confirmText)) return;
    try { await api('POST', `/admin/v1/rollouts/${r.id}/${path}`, body ? { json: body } : {}); notify(`Rollout ${verb.toLowerCase()}d.`); refresh(); }
    catch (e) { notify(errorText(e), 'error'); }
  } }, verb);
  const live = ['running', 'waiting', 'paused'].includes(r.state);
  return h('div.toolbar', {},
    r.state === 'running' || r.state === 'waiting' ? act('Pause', 'pause') : null,
    r.state === 'paused' || r.state === 'waiting' ? act('Resume', 'resume') : null,
    live ? act('Abort', 'abort', null, '.danger', 'Abort this rollout? Devices keep what they have.') : null,
    live ? act('Abort and roll back', 'abort', { rollback: true }, '.danger',
      'Abort and put every device of this rollout back on its previous version?') : null);
}

export async function rolloutPage(main, args) {
  const refresh = () => rolloutPage(main, args);
  const r = await api('GET', '/admin/v1/rollouts/' + encodeURIComponent(args[0]));
  const total = r.waveStatus.reduce((a, w) => a + w.installed, 0);
  replace(main,
    h('p.crumbs', {}, h('a', { href: '#/rollouts' }, 'Rollouts'), ' / ', h('span.mono', {}, r.id)),
    h('h1', {}, 'Rollout of ', h('span.mono', {}, r.deploymentId), ' ', badge(r.state)),
    r.reason ? h('p.notice', {}, r.reason) : null,
    controls(r, refresh),
    h('p', {}, h('progress.big', { max: Math.max(r.devices, 1), value: total, 'aria-label': 'Installed overall' }),
      ` ${total} of ${r.devices} devices installed`),
    h('dl.props.inline', {},
      h('dt', {}, 'Selector'), h('dd.mono', {}, r.selector),
      h('dt', {}, 'Waves'), h('dd', {}, `${r.waves} (canary ${r.canary}, batch ${r.batchPercent ? r.batchPercent + ' %' : r.batch})`),
      h('dt', {}, 'Success threshold'), h('dd', {}, r.successThreshold + ' %'),
      h('dt', {}, 'Wave timeout'), h('dd', {}, r.waveTimeoutSeconds + ' s'),
      h('dt', {}, 'Advance'), h('dd', {}, r.autoAdvance ? 'automatic' : 'manual (Resume)'),
      h('dt', {}, 'Started'), h('dd', {}, timeEl(r.createdAt))),
    h('h2', {}, 'Waves'),
    h('table.waves', { 'aria-label': 'Waves' },
      h('thead', {}, h('tr', {}, ['Wave', 'Progress', 'Devices', 'Waiting', 'Deploying', 'Installed', 'Failed',
        'Not reported', 'Rolled back', 'Done'].map(c => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, r.waveStatus.map(w => waveRow(r, w)))));
}
