import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  FIRST_PAGE_REFRESH_LIMIT, MAX_ROWS, PAGE_SIZE, appendPage, applyRefresh, canDecideBooking, canLoadNext, canLoadPrev,
  chatTarget, contextFacts, emptyPager, emptyState, listArgs, messageSenderOf, nextQuery, prependPage, prevQuery,
  refreshQueries, rowCount, rowsMayLoad, scrollIntent, visibleRows,
} from '../app/lib/notification-feed.js';

/** A store like the core's: newest first by local_id, keyset by `before`. */
function fakeStore(ids) {
  let rows = ids.map((id) => ({ local_id: id, title: `n${id}`, kind: 'general', is_read: false, context: {} }));
  return {
    /** @param {{before: number|null, limit: number}} q */
    list: (q) => rows.filter((r) => q.before == null || r.local_id < q.before).sort((a, b) => b.local_id - a.local_id).slice(0, q.limit),
    add: (id) => { rows.push({ local_id: id, title: `n${id}`, kind: 'general', is_read: false, context: {} }); },
    remove: (pred) => { rows = rows.filter((r) => !pred(r)); },
  };
}
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const ids = (p) => visibleRows(p).map((n) => n.local_id);

test('pages load newest first, each starting below the last id of the one before', () => {
  const store = fakeStore(range(1, 120));
  let p = emptyPager();
  assert.deepEqual(nextQuery(p), { before: null, limit: PAGE_SIZE });
  p = appendPage(p, store.list(nextQuery(p))).pager;
  assert.deepEqual(nextQuery(p), { before: 71, limit: PAGE_SIZE });
  p = appendPage(p, store.list(nextQuery(p))).pager;
  p = appendPage(p, store.list(nextQuery(p))).pager;
  assert.deepEqual(ids(p), range(1, 120).reverse());
  assert.equal(canLoadNext(p), false, 'a short page ends the list');
});

test('an empty store gives an empty, finished list (no endless loading)', () => {
  const p = appendPage(emptyPager(), []).pager;
  assert.equal(rowCount(p), 0);
  assert.equal(canLoadNext(p), false);
});

test('a full last page is followed by one empty answer, then the list ends', () => {
  const store = fakeStore(range(1, PAGE_SIZE));
  let p = appendPage(emptyPager(), store.list({ before: null, limit: PAGE_SIZE })).pager;
  assert.equal(canLoadNext(p), true);
  p = appendPage(p, store.list(nextQuery(p))).pager;
  assert.equal(canLoadNext(p), false);
  assert.equal(rowCount(p), PAGE_SIZE);
});

test('100,000 stored items never put more than MAX_ROWS rows on screen, and scrolling back finds them again', () => {
  const store = fakeStore(range(1, 100_000));
  let p = emptyPager();
  for (let i = 0; i < 40; i += 1) {
    p = appendPage(p, store.list(nextQuery(p))).pager;
    assert.ok(rowCount(p) <= MAX_ROWS, `at most ${MAX_ROWS} rows`);
  }
  assert.ok(canLoadPrev(p));
  assert.equal(ids(p)[0], 100_000 - p.start * PAGE_SIZE);
  const bottom = ids(p).at(-1);
  while (canLoadPrev(p)) {
    p = prependPage(p, store.list(prevQuery(p)));
    assert.ok(rowCount(p) <= MAX_ROWS);
  }
  assert.equal(ids(p)[0], 100_000, 'back at the newest');
  const shown = ids(p);
  assert.deepEqual(shown, [...shown].sort((a, b) => b - a), 'still newest first');
  assert.equal(new Set(shown).size, shown.length, 'no duplicates');
  assert.ok(canLoadNext(p), 'and can go down again');
  assert.ok(bottom < shown.at(-1));
});

test('a refresh at the top brings new items in without duplicates or gaps', () => {
  const store = fakeStore(range(1, 200));
  let p = emptyPager();
  p = appendPage(p, store.list(nextQuery(p))).pager;
  p = appendPage(p, store.list(nextQuery(p))).pager;
  store.add(201); store.add(202);
  const answers = refreshQueries(p).map((q) => store.list(q));
  assert.equal(refreshQueries(p)[0].limit, FIRST_PAGE_REFRESH_LIMIT);
  p = applyRefresh(p, answers);
  assert.deepEqual(ids(p), range(101, 202).reverse());
  p = appendPage(p, store.list(nextQuery(p))).pager;
  assert.deepEqual(ids(p).slice(-3), [53, 52, 51], 'paging on continues exactly below');
});

test('a burst larger than the refresh restarts at the newest page instead of leaving a gap', () => {
  const store = fakeStore(range(1, 100));
  let p = appendPage(emptyPager(), store.list({ before: null, limit: PAGE_SIZE })).pager;
  p = appendPage(p, store.list(nextQuery(p))).pager;
  for (const id of range(101, 400)) store.add(id);
  p = applyRefresh(p, refreshQueries(p).map((q) => store.list(q)));
  assert.deepEqual(ids(p), range(351, 400).reverse());
  assert.deepEqual(nextQuery(p), { before: 351, limit: PAGE_SIZE });
});

test('a refresh of an unread-only list drops items read elsewhere and never repeats a row', () => {
  const store = fakeStore(range(1, 150));
  let p = emptyPager();
  for (let i = 0; i < 3; i += 1) p = appendPage(p, store.list(nextQuery(p))).pager;
  store.remove((r) => r.local_id % 2 === 0); // read: gone from the unread-only answer
  p = applyRefresh(p, refreshQueries(p).map((q) => store.list(q)));
  const shown = ids(p);
  assert.equal(new Set(shown).size, shown.length);
  assert.ok(shown.every((id) => id % 2 === 1));
  assert.deepEqual(shown, range(1, 150).filter((i) => i % 2).reverse());
});

test('the first refresh of an empty list is its first page', () => {
  const store = fakeStore(range(1, 70));
  const p = applyRefresh(emptyPager(), refreshQueries(emptyPager()).map((q) => store.list(q)));
  assert.equal(rowCount(p), PAGE_SIZE);
  assert.deepEqual(nextQuery(p), { before: 21, limit: PAGE_SIZE });
});

test('scrolling near the end asks for more; near the top of a shifted window asks for the page above', () => {
  const m = { scrollTop: 0, clientHeight: 500, scrollHeight: 3000 };
  assert.equal(scrollIntent({ ...m, scrollTop: 2200 }, { canNext: true, canPrev: false }), 'next');
  assert.equal(scrollIntent({ ...m, scrollTop: 2200 }, { canNext: false, canPrev: false }), null);
  assert.equal(scrollIntent({ ...m, scrollTop: 100 }, { canNext: true, canPrev: true }), 'prev');
  assert.equal(scrollIntent({ ...m, scrollTop: 1000 }, { canNext: true, canPrev: true }), null);
  assert.equal(scrollIntent({ scrollTop: 0, clientHeight: 500, scrollHeight: 300 }, { canNext: true, canPrev: false }), 'next', 'a short list fills the window');
});

test('scrolling decides nothing before the first page is on the screen', () => {
  const empty = emptyPager();
  // At the start the list is empty and its first page is being asked for:
  // an empty list "near its end" must not ask for a second.
  assert.equal(rowsMayLoad({ loaded: false, pager: empty }, empty), false);
  // The first page has come but is rendered a frame later: the rows on
  // screen are still the empty list's.
  const first = appendPage(empty, fakeStore([3, 2, 1]).list({ before: null, limit: PAGE_SIZE })).pager;
  assert.equal(rowsMayLoad({ loaded: true, pager: first }, empty), false);
  assert.equal(rowsMayLoad({ loaded: true, pager: first }, first), true, 'rendered: the rows may ask for more');
});

test('filters become list_notifications arguments', () => {
  assert.deepEqual(listArgs({ kind: null, unreadOnly: false }, { before: null, limit: 50 }), { kind: null, unreadOnly: false, before: null, limit: 50 });
  assert.deepEqual(listArgs({ kind: 'booking', unreadOnly: true }, { before: 99, limit: 50 }), { kind: 'booking', unreadOnly: true, before: 99, limit: 50 });
});

test('empty states say why the list is empty', () => {
  // Signed out, the banner says so (once) and offers the sign-in; the list only says what will be here.
  assert.equal(emptyState({ kind: null, unreadOnly: false }, 'signed_out').action, null);
  assert.doesNotMatch(emptyState({ kind: null, unreadOnly: false }, 'not_signed_in').title, /signed/i);
  assert.match(emptyState({ kind: null, unreadOnly: false }, 'reconnecting').body, /offline/);
  assert.equal(emptyState({ kind: null, unreadOnly: true }, 'connected').title, 'You are all caught up');
  assert.equal(emptyState({ kind: 'booking', unreadOnly: true }, 'connected').title, 'No unread bookings notifications');
  assert.equal(emptyState({ kind: 'review', unreadOnly: false }, 'connected').action, 'clear_filter');
  assert.equal(emptyState({ kind: null, unreadOnly: false }, 'connected').title, 'No notifications yet');
});

const landlord = { server: 's', username: 'maria', user_id: 1, role: 'landlord' };
const tenant = { server: 's', username: 'amira', user_id: 7, role: 'tenant' };
const pendingBooking = {
  local_id: 5, kind: 'booking', title: 'New booking request', body: '', is_read: false, created_at: null, received_at_ms: 0,
  server_id: 1, popped: true,
  context: { booking_id: 512, status: 'pending', tenant_id: 7, landlord_id: 1, property_title: 'Sunny flat', check_in_date: '2025-06-14' },
};

test('Approve / Decline follow the core\'s answer, not a rule of the page', () => {
  assert.equal(canDecideBooking({ ...pendingBooking, can_decide: true }), true);
  assert.equal(canDecideBooking({ ...pendingBooking, can_decide: false }), false);
  assert.equal(canDecideBooking(pendingBooking), false, 'no answer from the core: nothing to decide');
});

test('an opened booking shows its context, with names when known', () => {
  const facts = contextFacts(pendingBooking, landlord, (id) => (id === 7 ? 'Amira Haddad' : null));
  const byLabel = Object.fromEntries(facts.map((f) => [f.label, f.value]));
  assert.equal(byLabel.Booking, '#512');
  assert.equal(byLabel.Status, 'Waiting for approval');
  assert.equal(byLabel.Property, 'Sunny flat');
  assert.equal(byLabel.Tenant, 'Amira Haddad');
  assert.equal(byLabel.Landlord, undefined, 'not myself');
  assert.match(byLabel['Check-in'], /2025/);
  const unknown = Object.fromEntries(contextFacts(pendingBooking, landlord).map((f) => [f.label, f.value]));
  assert.equal(unknown.Tenant, 'User #7');
});

test('a review shows its stars and nothing the core did not type', () => {
  // The core reads `data` (junk left out: smarthunt-core's
  // protocol::NotificationContext); the page shows what it typed.
  const n = { ...pendingBooking, kind: 'review', context: { rating: 4, review_id: 3 } };
  const facts = contextFacts(n, landlord);
  assert.deepEqual(facts.map((f) => f.label), ['Rating']);
  assert.match(facts[0].value, /4 of 5/);
  assert.deepEqual(contextFacts({ ...pendingBooking, context: undefined }, landlord), [], 'no context: no facts');
});

test('a message notification opens its sender\'s conversation', () => {
  const msg = { ...pendingBooking, kind: 'message', context: { sender_id: 7, sender_name: 'Amira' } };
  assert.deepEqual(messageSenderOf(msg), { otherId: 7, name: 'Amira' });
  assert.deepEqual(messageSenderOf({ ...msg, context: { sender_id: 12 } }), { otherId: 12, name: 'User #12' });
  assert.equal(messageSenderOf({ ...msg, context: {} }), null);
  assert.equal(messageSenderOf(pendingBooking), null);
});

test('a booking offers a chat with the other side', () => {
  assert.deepEqual(chatTarget(pendingBooking, landlord), { otherId: 7, name: 'User #7', label: 'Message the tenant' });
  assert.deepEqual(chatTarget(pendingBooking, tenant, () => 'Maria'), { otherId: 1, name: 'Maria', label: 'Message the landlord' });
  assert.equal(chatTarget({ ...pendingBooking, context: {} }, landlord), null);
});
