// Pending approvals: devices that onboarded with a token that does not approve by itself.
// Approve or reject one, or tick several and act on all of them.
import { h, replace } from './dom.js';
import { api, errorText } from './api.js';
import { pager, PAGE_SIZE } from './pager.js';
import { deviceRow, deviceHead } from './page_devices.js';
import { notify } from './app.js';

export async function approvalsPage(main) {
  const body = h('tbody');
  const all = h('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'Select all on this page',
    onchange: () => { for (const c of body.querySelectorAll('input[type=checkbox]')) c.checked = all.checked; } });
  const table = h('table', { 'aria-label': 'Pending devices' }, deviceHead(h('th', { scope: 'col' }, all)), body);
  const p = pager(async (after) => {
    const page = await api('GET', '/admin/v1/devices', { query: { state: 'pending', limit: PAGE_SIZE, after } });
    all.checked = false;
    replace(body, page.items.length ? page.items.map(d => deviceRow(d, h('td', {},
      h('input', { type: 'checkbox', value: d.id, 'aria-label': 'Select ' + d.id })))) :
      h('tr', {}, h('td.muted', { colspan: 8 }, 'No device is waiting for approval.')));
    return page;
  });

  async function act(action) {
    const ids = [...body.querySelectorAll('input[type=checkbox]:checked')].map(c => c.value);
    if (ids.length === 0) { notify('Select at least one device first.', 'error'); return; }
    let done = 0;
    const failed = [];
    for (const id of ids) {
      try { await api('POST', `/admin/v1/devices/${id}/${action}`); done++; }
      catch (e) { failed.push(id.slice(0, 8) + ': ' + errorText(e)); }
    }
    const verb = action === 'approve' ? 'Approved' : 'Rejected';
    notify(`${verb} ${done} device${done === 1 ? '' : 's'}.` + (failed.length ? ' Failed: ' + failed.join('; ') : ''),
      failed.length ? 'error' : null);
    await p.reload();
  }

  replace(main, h('h1', {}, 'Pending approvals'),
    h('p.muted', {}, 'Check the serial number and certificate of each device before approving it.'),
    h('div.toolbar', {},
      h('button', { type: 'button', id: 'approve-selected', onclick: () => act('approve') }, 'Approve selected'),
      h('button.danger', { type: 'button', id: 'reject-selected', onclick: () => act('reject') }, 'Reject selected')),
    table, p.el);
  await p.reload();
}
