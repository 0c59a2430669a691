import { test, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { FakeElement, FakeText, installFakeDocument } from './fake-dom.js';
import { h, reconcile } from '../app/lib/dom.js';
import { notificationRow } from '../app/views/notifications.js';
import { conversationItem } from '../app/views/chat.js';

const XSS = '<img src=x onerror=alert(1)>';
/** @type {import('./fake-dom.js').FakeDocument} */
let doc;
beforeEach(() => { doc = installFakeDocument(); });

test('strings become text nodes, never markup', () => {
  const el = /** @type {any} */ (h('p', { class: 'x' }, XSS, ' and ', 3));
  assert.equal(el.childNodes.length, 3);
  assert.ok(el.childNodes.every((n) => n instanceof FakeText));
  assert.equal(el.textContent, `${XSS} and 3`);
  assert.equal(el.innerHTML, '&lt;img src=x onerror=alert(1)&gt; and 3');
  assert.equal(el.descendants().filter((n) => n instanceof FakeElement && n.localName === 'img').length, 0);
});

test('the text prop sets text content, not markup', () => {
  const el = /** @type {any} */ (h('span', { text: XSS }));
  assert.equal(el.innerHTML, '&lt;img src=x onerror=alert(1)&gt;');
});

test('event-handler and style attributes are refused', () => {
  assert.throws(() => h('div', { onclick: 'alert(1)' }), /refusing/);
  assert.throws(() => h('div', { ONERROR: 'x' }), /refusing/);
  assert.throws(() => h('div', { style: 'color:red' }), /refusing/);
  assert.doesNotThrow(() => h('div', { 'aria-label': XSS, role: 'note' }));
});

test('a notification with a hostile title and body renders them as text', () => {
  const n = {
    local_id: 9, server_id: 1, title: XSS, body: '<script>alert(2)</script> body', kind: 'booking',
    context: { status: 'pending', booking_id: 1 }, created_at: '2025-03-12T10:00:00Z', received_at_ms: 0, is_read: false, popped: true, can_decide: true,
  };
  const row = /** @type {any} */ (notificationRow(n, {
    now: Date.UTC(2025, 2, 12, 10, 5), account: { server: 's', username: 'm', user_id: 1, role: 'landlord' },
    decision: undefined, timeOptions: { locale: 'en-GB', timeZone: 'UTC' }, onDecide: () => {},
  }));
  const all = row.descendants();
  assert.equal(all.filter((x) => x instanceof FakeElement && (x.localName === 'img' || x.localName === 'script')).length, 0);
  const title = all.find((x) => x instanceof FakeElement && x.localName === 'h3');
  assert.ok(title.childNodes.some((t) => t instanceof FakeText && t.data === XSS), 'the title is one text node');
  assert.match(row.innerHTML, /&lt;img src=x onerror=alert\(1\)&gt;/);
  assert.match(row.innerHTML, /&lt;script&gt;alert\(2\)&lt;\/script&gt; body/);
  assert.match(row.textContent, /Unread: /, 'unread is said, not only shown');
  assert.match(row.textContent, /5 min ago/);
  assert.match(row.textContent, /Approve/);
  assert.match(row.textContent, /Decline/);
});

test('Approve in a row decides without opening the row', () => {
  const n = { local_id: 4, server_id: 1, title: 'New booking request', body: '', kind: 'booking', context: { status: 'pending' }, created_at: null, received_at_ms: 0, is_read: true, popped: true, can_decide: true };
  const decided = [];
  const row = /** @type {any} */ (notificationRow(n, { now: 0, account: { server: 's', username: 'm', user_id: 1, role: 'landlord' }, decision: undefined, onDecide: (id, a) => decided.push([id, a]) }));
  const buttons = row.descendants().filter((x) => x instanceof FakeElement && x.localName === 'button');
  assert.deepEqual(buttons.map((b) => b.textContent), ['Approve', 'Decline']);
  let stopped = false;
  buttons[1].dispatch('click', { stopPropagation() { stopped = true; } });
  assert.deepEqual(decided, [[4, false]]);
  assert.ok(stopped);
  const done = /** @type {any} */ (notificationRow(n, { now: 0, account: null, decision: { state: 'done', approved: false }, onDecide: () => {} }));
  assert.match(done.textContent, /Declined/);
  assert.equal(done.descendants().filter((x) => x instanceof FakeElement && x.localName === 'button').length, 0);
});

test('a conversation row shows a hostile name as text and "User #N" without one', () => {
  const item = /** @type {any} */ (conversationItem({ otherId: 3, name: XSS, preview: '<b>hi</b>', atMs: 0, unread: 2 }, 1000, () => {}));
  assert.equal(item.descendants().filter((x) => x instanceof FakeElement && (x.localName === 'img' || x.localName === 'b')).length, 0);
  assert.match(item.innerHTML, /&lt;img/);
  assert.match(item.textContent, /Unread: 2/);
});

test('reconcile keeps unchanged rows, rebuilds changed ones, follows the new order and keeps focus', () => {
  const list = /** @type {any} */ (h('div'));
  const cache = new Map();
  const build = (it) => h('p', { dataset: { key: it.id } }, it.text);
  const fns = { key: (it) => it.id, signature: (it) => it.text, build };
  reconcile(list, [{ id: 'a', text: 'A' }, { id: 'b', text: 'B' }, { id: 'c', text: 'C' }], fns, cache);
  const [a, b] = list.children;
  b.focus();
  reconcile(list, [{ id: 'c', text: 'C' }, { id: 'a', text: 'A' }, { id: 'b', text: 'B2' }], fns, cache);
  assert.deepEqual(list.children.map((x) => x.textContent), ['C', 'A', 'B2']);
  assert.equal(list.children[1], a, 'unchanged row kept');
  assert.notEqual(list.children[2], b, 'changed row rebuilt');
  assert.equal(doc.activeElement, list.children[2], 'focus follows the rebuilt row');
  reconcile(list, [{ id: 'a', text: 'A' }], fns, cache);
  assert.deepEqual(list.children.map((x) => x.textContent), ['A']);
  assert.equal(cache.size, 1);
});
