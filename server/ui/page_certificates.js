// Pre-registered device certificates: a device whose certificate is listed here may onboard
// without an enrollment token. Add one (paste or upload the PEM), list, remove.
import { h, replace, timeEl, field, showFieldErrors } from './dom.js';
import { api, errorText, ApiError } from './api.js';
import { notify } from './app.js';

export async function certificatesPage(main) {
  const body = h('tbody');
  const rest = h('ul.errors');
  const pem = h('textarea.mono', { name: 'certificate', rows: 6, required: true, 'data-pointer': '/certificate',
    placeholder: '-----BEGIN CERTIFICATE-----' });
  const file = h('input', { type: 'file', accept: '.pem,.crt,.cer', onchange: async () => {
    if (file.files[0]) pem.value = await file.files[0].text();
  } });
  async function load() {
    const page = await api('GET', '/admin/v1/certificates', { query: { limit: 100 } });
    replace(body, page.items.length ? page.items.map(c => h('tr', {},
      h('td.mono.wrap', {}, c.fingerprint), h('td', {}, c.description || ''), h('td', {}, timeEl(c.createdAt)),
      h('td.actions', {}, h('button.danger.small', { type: 'button', 'aria-label': 'Remove ' + c.fingerprint,
        onclick: async () => {
          try { await api('DELETE', '/admin/v1/certificates/' + c.fingerprint); notify('Certificate removed.'); load(); }
          catch (e) { notify(errorText(e), 'error'); }
        } }, 'Remove')))) :
      h('tr', {}, h('td.muted', { colspan: 4 }, 'No certificate is pre-registered.')));
  }
  const form = h('form.card-form', { onsubmit: async (ev) => {
    ev.preventDefault();
    try {
      const c = await api('POST', '/admin/v1/certificates', { json: { certificate: pem.value, description: form.description.value } });
      showFieldErrors(form, [], rest);
      form.reset();
      notify(`Certificate ${c.fingerprint.slice(0, 16)}… registered (${c.subject}).`);
      load();
    } catch (e) {
      if (e instanceof ApiError && e.problem.errors) showFieldErrors(form, e.problem.errors, rest);
      else notify(errorText(e), 'error');
    }
  } },
  h('h2', {}, 'Pre-register a certificate'),
  field('Certificate (PEM)', pem, 'Paste the device certificate, or choose its file below.'),
  h('div.field', {}, h('label', {}, 'Or upload ', file)),
  field('Description', h('input', { name: 'description', 'data-pointer': '/description' })),
  rest, h('button', { type: 'submit' }, 'Register'));
  replace(main, h('h1', {}, 'Pre-registered certificates'), form,
    h('table', { 'aria-label': 'Certificates' },
      h('thead', {}, h('tr', {}, ['SHA-256 fingerprint', 'Description', 'Added', ''].map(c => h('th', { scope: 'col' }, c)))),
      body));
  await load();
}
