// Deploy: an ApplicationDeployment (pasted or uploaded) to one device, through PUT
// /admin/v1/devices/{id}/deployments/{deploymentId}. wfmd validates the document; its 422
// names each bad field by JSON pointer, shown here at the document with its line.
import { h, replace, field, showFieldErrors } from './dom.js';
import { api, errorText, ApiError } from './api.js';
import { notify } from './app.js';
import { yamlLine } from './yaml_locate.js';

// metadata.annotations.id of a pasted document, to fill the deployment id.
function annotatedId(text) {
  const m = text.match(/^\s+id:\s*["']?([A-Za-z0-9_.-]+)["']?\s*$/m);
  return m ? m[1] : '';
}

export async function deployPage(main, args, q) {
  const rest = h('ul.errors', { id: 'deploy-errors' });
  const device = h('input.mono', { name: 'device', required: true, value: q.get('device') || '',
    'data-pointer': '/device', placeholder: 'device client id (uuid)' });
  const depId = h('input.mono', { name: 'deploymentId', required: true, 'data-pointer': '/metadata/annotations/id /deploymentId',
    placeholder: 'e.g. web-frontend' });
  const yaml = h('textarea.mono', { name: 'document', rows: 18, required: true, spellcheck: 'false', 'data-pointer': '',
    placeholder: 'apiVersion: application.margo.org/v1alpha1\nkind: ApplicationDeployment\n…',
    oninput: () => { if (!depId.value) depId.value = annotatedId(yaml.value); } });
  const file = h('input', { type: 'file', id: 'deploy-file', accept: '.yaml,.yml', onchange: async () => {
    if (!file.files[0]) return;
    yaml.value = await file.files[0].text();
    if (!depId.value) depId.value = annotatedId(yaml.value);
  } });
  const result = h('div', { id: 'deploy-result' });
  const form = h('form.card-form', { id: 'deploy-form', onsubmit: async (ev) => {
    ev.preventDefault();
    replace(result);
    const id = device.value.trim(), dep = depId.value.trim();
    try {
      const r = await api('PUT', `/admin/v1/devices/${encodeURIComponent(id)}/deployments/${encodeURIComponent(dep)}`,
        { body: yaml.value, type: 'application/yaml' });
      showFieldErrors(form, [], rest);
      replace(result, h('p.notice', { role: 'status' }, `Committed ${r.deploymentId} (${r.name}) at revision `,
        h('span.mono', {}, r.revision.slice(0, 12)), '. ',
        h('a', { href: '#/device/' + id }, 'Watch it on the device page'), '.'));
    } catch (e) {
      if (e instanceof ApiError && e.status === 422 && e.problem.errors) {
        showFieldErrors(form, e.problem.errors.map(x => {
          const line = x.field ? yamlLine(yaml.value, x.field) : null;
          return line ? { ...x, message: `line ${line}: ${x.message}` } : x;
        }), rest);
      } else if (e instanceof ApiError && e.status === 404 && /device/.test(e.problem.detail || '')) {
        showFieldErrors(form, [{ field: '/device', message: e.problem.detail }], rest);
      } else {
        showFieldErrors(form, [], rest);
        notify(errorText(e), 'error');
      }
    }
  } },
  h('div.row', {}, field('Device', device), field('Deployment id', depId, 'The file name in the device\'s repository; set as metadata.annotations.id.')),
  field('ApplicationDeployment (YAML)', yaml, 'Paste the document, or upload its file.'),
  h('div.field', {}, h('label', { for: 'deploy-file' }, 'Upload a file'), file),
  rest, h('button', { type: 'submit', id: 'deploy-submit' }, 'Deploy'));
  replace(main, h('h1', {}, 'Deploy'),
    h('p.muted', {}, 'Commits the document to the device\'s desired-state repository; the device applies it at its next poll. ',
      'To deploy to many devices in waves, use a rollout (wfmctl rollout create).'),
    form, result);
  if (!device.value) device.focus(); else yaml.focus();
}
