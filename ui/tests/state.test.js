import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstScreenReady, initialState } from '../app/state.js';

const status = { connection: { state: 'connected', variant: 'documented' }, unread: 0, account: null, outbox_pending: 0, paused_until_ms: null };

test('the first screen waits for the status and, on the list, its first page', () => {
  const s = initialState(0);
  assert.equal(firstScreenReady(s), false, 'nothing known yet');
  const known = { ...s, status };
  assert.equal(firstScreenReady(known), false, 'the list has no page yet');
  assert.equal(firstScreenReady({ ...known, notifications: { ...s.notifications, loaded: true } }), true);
  const refused = { code: 'not_signed_in', message: 'You are not signed in.' };
  assert.equal(firstScreenReady({ ...known, notifications: { ...s.notifications, error: refused } }), true, 'why there is none is shown too');
});

test('other views and a status that cannot be had are drawn at once', () => {
  const s = initialState(0);
  assert.equal(firstScreenReady({ ...s, status, view: 'settings' }), true, 'the sign-in form needs no list');
  assert.equal(firstScreenReady({ ...s, status, view: 'chat' }), true);
  assert.equal(firstScreenReady({ ...s, view: 'settings' }), false, 'the status decides what settings show');
  assert.equal(firstScreenReady({ ...s, statusError: { code: 'internal', message: 'The SmartHunt app has stopped.' }, notifications: { ...s.notifications, loaded: true } }), true);
});
