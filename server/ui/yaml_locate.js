// Finds the line of a JSON pointer (/spec/deploymentProfile/components/1/name) in block-style
// YAML, so the deploy page can say where in the pasted document a 422's error is. A light
// walk by indentation: flow style or anchors just give no line (the pointer is still shown).
export function yamlLine(text, pointer) {
  const lines = text.split('\n');
  const segs = pointer.split('/').slice(1).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let from = 0, indent = -1, line = -1;
  for (const seg of segs) {
    const found = /^\d+$/.test(seg) ? findItem(lines, from, indent, Number(seg)) : findKey(lines, from, indent, seg);
    if (!found) break;
    [line, indent] = found;
    from = line;
  }
  return line >= 0 ? line + 1 : null;
}

function indentOf(l) { return l.length - l.trimStart().length; }
function blank(l) { const t = l.trim(); return t === '' || t.startsWith('#'); }

// The line of "key:" below from (inside the block deeper than parent), and the key's indent.
function findKey(lines, from, parent, key) {
  for (let i = from; i < lines.length; i++) {
    if (i > from && !blank(lines[i]) && indentOf(lines[i]) <= parent && !isItemOf(lines[i], parent)) return null;
    const m = lines[i].match(/^(\s*(?:-\s+)?)([^:#\s][^:#]*?)\s*:(\s|$)/);
    if (m && m[2].replace(/^["']|["']$/g, '') === key && m[1].length > parent) return [i, m[1].length];
  }
  return null;
}

function isItemOf(l, parent) { return indentOf(l) === parent && l.trimStart().startsWith('- '); }

// The line of the n-th "- " item below from.
function findItem(lines, from, parent, n) {
  let k = -1, itemIndent = null;
  for (let i = from + 1; i < lines.length; i++) {
    if (blank(lines[i])) continue;
    const ind = indentOf(lines[i]);
    if (ind < parent || (ind === parent && !lines[i].trimStart().startsWith('- '))) return null;
    if (lines[i].trimStart().startsWith('- ') && (itemIndent === null || ind === itemIndent)) {
      itemIndent = ind;
      if (++k === n) return [i, ind + 1];
    }
  }
  return null;
}
