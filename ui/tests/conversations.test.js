import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_MESSAGE_CHARS, appendOlder, checkDraft, composerKeyAction, conversationRows, nameOf, threadRows, totalUnread,
} from '../app/lib/conversations.js';

const o = { locale: 'en-GB', timeZone: 'UTC' };

test('conversations are one row per person, most recent first, "User #N" without a name', () => {
  const rows = conversationRows([
    { other_id: 12, other_name: null, last_content: 'Is it pet friendly?', last_at_ms: 100, unread: 0 },
    { other_id: 7, other_name: 'Amira Haddad', last_content: 'See you\nthen', last_at_ms: 300, unread: 2 },
    { other_id: 15, other_name: ' ', last_content: 'Thanks', last_at_ms: 200, unread: 0 },
  ]);
  assert.deepEqual(rows.map((r) => [r.otherId, r.name, r.preview, r.unread]), [
    [7, 'Amira Haddad', 'See you then', 2],
    [15, 'User #15', 'Thanks', 0],
    [12, 'User #12', 'Is it pet friendly?', 0],
  ]);
});

test('two entries for one person merge: latest message, summed unread, the real name', () => {
  const rows = conversationRows([
    { other_id: 7, other_name: null, last_content: 'new', last_at_ms: 300, unread: 1 },
    { other_id: 7, other_name: 'Amira', last_content: 'old', last_at_ms: 100, unread: 2 },
  ]);
  assert.equal(rows.length, 1);
  assert.deepEqual([rows[0].name, rows[0].preview, rows[0].unread], ['Amira', 'new', 3]);
  assert.equal(totalUnread([{ other_id: 1, other_name: 'a', last_content: '', last_at_ms: 1, unread: 4 }, { other_id: 2, other_name: null, last_content: '', last_at_ms: 2, unread: 1 }]), 5);
});

test('a thread\'s name comes from the list, else a hint, else "User #N"', () => {
  const convs = [{ other_id: 7, other_name: 'Amira', last_content: '', last_at_ms: 1, unread: 0 }];
  assert.equal(nameOf(7, convs, 'ignored'), 'Amira');
  assert.equal(nameOf(9, convs, 'Jonas'), 'Jonas');
  assert.equal(nameOf(9, convs), 'User #9');
});

const msg = (id, from, to, at, extra = {}) => ({ local_id: id, server_id: id, sender_id: from, recipient_id: to, content: `m${id}`, sent_at: null, pending: false, at_ms: at, is_read: true, ...extra });

test('a thread reads oldest first with day headings; mine by my user id; pending kept visible', () => {
  const day1 = Date.UTC(2025, 2, 11, 10);
  const day2 = Date.UTC(2025, 2, 12, 9);
  const rows = threadRows([
    msg(4, 1, 7, day2 + 60_000, { pending: true, server_id: null }),
    msg(3, 7, 1, day2),
    msg(2, 7, 1, day1 + 60_000),
    msg(1, 1, 7, day1),
  ], { meId: 1, otherId: 7, now: day2 + 120_000, ...o });
  assert.deepEqual(rows.map((r) => (r.type === 'day' ? `[${r.label}]` : `${r.mine ? 'me' : 'them'}:${r.content}${r.pending ? '*' : ''}`)),
    ['[Yesterday]', 'me:m1', 'them:m2', '[Today]', 'them:m3', 'me:m4*']);
  const m3 = rows.find((r) => r.type === 'message' && r.content === 'm3');
  assert.equal(m3.startsGroup, true, 'a new day starts a new group');
});

test('without my id, anything not from the other person is mine', () => {
  const rows = threadRows([msg(1, 3, 7, 0), msg(2, 7, 3, 1)], { meId: null, otherId: 7, now: 10, ...o });
  assert.deepEqual(rows.filter((r) => r.type === 'message').map((r) => r.mine), [true, false]);
});

test('older pages join without duplicates', () => {
  const t = appendOlder([msg(5, 1, 7, 5), msg(4, 1, 7, 4)], [msg(4, 1, 7, 4), msg(3, 1, 7, 3)]);
  assert.deepEqual(t.map((m) => m.local_id), [5, 4, 3]);
});

test('the composer refuses empty and overlong messages and trims the rest', () => {
  assert.deepEqual(checkDraft('  hi there \n'), { ok: true, content: 'hi there' });
  assert.equal(checkDraft('   ').ok, false);
  assert.equal(checkDraft('x'.repeat(MAX_MESSAGE_CHARS + 1)).ok, false);
  assert.equal(checkDraft('x'.repeat(MAX_MESSAGE_CHARS)).ok, true);
});

test('Enter sends, Shift+Enter and IME composition do not', () => {
  assert.equal(composerKeyAction({ key: 'Enter' }), 'send');
  assert.equal(composerKeyAction({ key: 'Enter', shiftKey: true }), null);
  assert.equal(composerKeyAction({ key: 'Enter', isComposing: true }), null);
  assert.equal(composerKeyAction({ key: 'a' }), null);
});
