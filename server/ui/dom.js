// Small DOM helpers for the console: every text goes through textContent (never innerHTML),
// so nothing a device or an operator typed can become markup.

// h('tag.class', {attr: value, onclick: fn}, child...): an element. Children are nodes,
// strings (as text) or arrays of them; null and false are skipped.
export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag);
  if (classes.length) el.className = classes.join(' ');
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') { el.value = v; if (tag === 'input') el.defaultValue = v; }
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Replaces el's children.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// "2026-12-04 05:40:12 UTC" for an RFC 3339 time, "never" for null.
export function fmtTime(t) {
  if (!t) return 'never';
  return t.replace('T', ' ').replace('Z', ' UTC');
}

// "3 min ago" for an RFC 3339 time.
export function ago(t) {
  if (!t) return 'never';
  const s = Math.round((Date.now() - Date.parse(t)) / 1000);
  if (s < 0) return 'in ' + fmtSpan(-s);
  return fmtSpan(s) + ' ago';
}

function fmtSpan(s) {
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 86400) return Math.floor(s / 3600) + ' h';
  return Math.floor(s / 86400) + ' d';
}

// A <time> element showing the relative time, the exact one as its title.
export function timeEl(t) {
  return h('time', { datetime: t || null, title: fmtTime(t) }, ago(t));
}

// A coloured badge for a state word (device state, deployment state, rollout state).
export function badge(state) {
  const s = String(state || 'none');
  return h('span.badge.st-' + s.toLowerCase().replace(/[^a-z]/g, ''), {}, s);
}

// A labelled form field: h('label') around the text and the control, with an error slot
// the page fills from a 422's errors (see showFieldErrors).
export function field(label, control, hint) {
  const id = control.id || ('f-' + Math.random().toString(36).slice(2));
  control.id = id;
  const err = h('p.field-error', { id: id + '-err', role: 'alert' });
  const help = hint ? h('p.hint', { id: id + '-hint' }, hint) : null;
  control.setAttribute('aria-describedby', [hint ? id + '-hint' : '', id + '-err'].join(' ').trim());
  return h('div.field', { 'data-field': control.name || null },
    h('label', { for: id }, label), control, help, err);
}

// Puts each {field, message} of a 422 next to the control whose data-pointer (a JSON pointer
// prefix) matches; what matches none goes to the fallback element. Returns how many were shown.
export function showFieldErrors(form, errors, fallback) {
  for (const el of form.querySelectorAll('.field-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  const rest = [];
  let first = null;
  for (const e of errors || []) {
    // The control whose pointer is the longest prefix of the error's field; "" takes any.
    const ctl = [...form.querySelectorAll('[data-pointer]')]
      .map(c => [c, Math.max(-1, ...c.dataset.pointer.split(' ').filter(p =>
        p === '' || e.field === p || e.field.startsWith(p + '/')).map(p => p.length))])
      .filter(([, len]) => len >= 0).sort((a, b) => b[1] - a[1]).map(([c]) => c)[0];
    if (!ctl) { rest.push(e); continue; }
    const slot = document.getElementById(ctl.id + '-err');
    slot.append(h('span', {}, (e.field || '(document)') + ': ' + e.message), ' ');
    ctl.setAttribute('aria-invalid', 'true');
    first = first || ctl;
  }
  if (fallback) replace(fallback, rest.map(e => h('li', {}, (e.field || '(document)') + ': ' + e.message)));
  if (first) first.focus();
  return (errors || []).length;
}
