import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ui = fileURLToPath(new URL('..', import.meta.url));

/** @param {string} dir @returns {string[]} */
function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'tests' || name === 'node_modules' ? [] : files(p);
    return /\.(js|html)$/.test(name) ? [p] : [];
  });
}

test('no module writes markup from strings or evaluates code', () => {
  const sinks = /\.innerHTML\s*=|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|DOMParser|createContextualFragment|setAttribute\(\s*['"](style|on)/;
  const found = files(ui).filter((f) => sinks.test(readFileSync(f, 'utf8'))).map((f) => relative(ui, f));
  assert.deepEqual(found, []);
});

test('the pages have no inline scripts, inline styles or remote content (the CSP allows none)', () => {
  for (const f of files(ui).filter((x) => x.endsWith('.html'))) {
    const html = readFileSync(f, 'utf8');
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, `${relative(ui, f)}: inline script`);
    assert.doesNotMatch(html, /\sstyle=|<style/, `${relative(ui, f)}: inline style`);
    assert.doesNotMatch(html, /(src|href)="(https?:)?\/\//, `${relative(ui, f)}: remote content`);
  }
});

test('only ipc.js talks to Tauri (dev/fake-tauri.js plays the shell)', () => {
  const talking = files(ui).filter((f) => /__TAURI__/.test(readFileSync(f, 'utf8'))).map((f) => relative(ui, f)).sort();
  assert.deepEqual(talking, ['app/ipc.js', 'dev/fake-tauri.js']);
});
