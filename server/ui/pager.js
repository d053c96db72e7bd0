// Cursor paging for the console's tables: the API answers a page with "next" (an opaque
// cursor) when more match; the page keeps the cursors it came through so "Previous" works
// without the server counting anything. The fleet is never fetched whole.
import { h, replace } from './dom.js';

export const PAGE_SIZE = 50;

// pager(load) -> {el, reload()}: load(after) resolves to {items, next} and renders the items;
// el holds the Previous/Next buttons and the page number.
export function pager(load) {
  const stack = [];          // cursors of the pages before this one
  let cursor = null, next = null;
  const info = h('span.muted', { 'aria-live': 'polite' });
  const prev = h('button.secondary', { type: 'button', onclick: () => go(stack.pop() ?? null, false) }, '← Previous');
  const nxt = h('button.secondary', { type: 'button', onclick: () => go(next, true) }, 'Next →');
  const el = h('div.pager', {}, prev, info, nxt);

  async function go(after, forward) {
    if (forward) stack.push(cursor);
    cursor = after;
    const page = await load(after);
    next = page.next || null;
    prev.disabled = stack.length === 0;
    nxt.disabled = !next;
    replace(info, `Page ${stack.length + 1} · ${page.items.length} shown` + (next ? ' · more' : ''));
  }
  return { el, reload: () => { stack.length = 0; return go(null, false); } };
}
