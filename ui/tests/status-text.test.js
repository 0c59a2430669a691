import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountKey, bannerFor, describeConnection, isSignedIn, needsTick, outboxText, pauseText, storageText } from '../app/lib/status-text.js';

const NOW = Date.UTC(2025, 2, 12, 15, 30);
const status = (connection, extra = {}) => ({ connection, unread: 0, account: { server: 'https://s', username: 'maria', user_id: 1, role: 'landlord' }, outbox_pending: 0, paused_until_ms: null, ...extra });

test('connected and connecting read plainly', () => {
  assert.deepEqual(describeConnection(status({ state: 'connected', variant: 'documented' }), NOW), { tone: 'ok', label: 'Connected', countdown: null, detail: null, canRetry: false });
  assert.equal(describeConnection(status({ state: 'connected', variant: 'legacy' }), NOW).label, 'Connected');
  assert.equal(describeConnection(status({ state: 'connecting' }), NOW).label, 'Connecting…');
  assert.equal(describeConnection(null, NOW).label, 'Starting…');
  assert.equal(describeConnection(status({ state: 'something_new' }), NOW).label, 'Starting…');
});

test('offline counts down to the next retry, then says it is retrying', () => {
  const s = status({ state: 'reconnecting', attempt: 3, retry_at_ms: NOW + 27_000, last_error: 'connection refused' });
  const c = describeConnection(s, NOW);
  assert.equal(c.tone, 'warn');
  assert.equal(c.label, 'Offline');
  assert.equal(c.countdown, 'retrying in 27 s (attempt 3)');
  assert.equal(c.detail, 'Last error: connection refused');
  assert.equal(describeConnection(s, NOW + 26_000).countdown, 'retrying in 1 s (attempt 3)');
  assert.equal(describeConnection(s, NOW + 27_000).countdown, 'retrying now…');
  assert.equal(describeConnection(s, NOW + 90_000).countdown, 'retrying now…');
  assert.equal(describeConnection(status({ state: 'reconnecting', attempt: 1, retry_at_ms: NOW + 95_000 }), NOW).countdown, 'retrying in 1 min 35 s');
  assert.ok(needsTick(s, NOW));
  // Offline, and only then, the user may try now.
  assert.equal(c.canRetry, true);
  for (const state of ['connected', 'connecting', 'signed_out', 'not_signed_in', 'keychain_unavailable', 'stopped']) {
    assert.equal(describeConnection(status({ state }), NOW).canRetry, false, state);
  }
});

test('signed out, not signed in and a locked keychain raise a banner with a sign-in action', () => {
  const out = bannerFor(status({ state: 'signed_out', reason: 'HTTP 403' }));
  assert.equal(out.title, 'You have been signed out');
  assert.equal(out.detail, 'HTTP 403');
  assert.equal(out.action, 'Sign in again');
  assert.equal(bannerFor(status({ state: 'not_signed_in' }, { account: null })).action, 'Sign in');
  const kc = bannerFor(status({ state: 'keychain_unavailable', message: 'collection locked' }));
  assert.match(kc.title, /keychain/);
  assert.equal(kc.detail, 'collection locked');
  const cfg = bannerFor(status({ state: 'config_unreadable', message: '/d/config.json is damaged' }));
  assert.match(cfg.title, /cannot read its settings/);
  assert.equal(cfg.detail, '/d/config.json is damaged');
  assert.equal(describeConnection(status({ state: 'config_unreadable', message: 'x' }), NOW).label, 'Settings unreadable');
  assert.equal(bannerFor(status({ state: 'connected' })), null);
  assert.equal(bannerFor(status({ state: 'reconnecting', retry_at_ms: NOW })), null);
});

test('paused popups and unsent changes are mentioned only when true', () => {
  const o = { locale: 'en-GB', timeZone: 'UTC' };
  assert.equal(pauseText(NOW + 3_600_000, NOW, o), 'Popups paused until 16:30');
  assert.equal(pauseText(NOW - 1, NOW, o), null);
  assert.equal(pauseText(null, NOW, o), null);
  assert.ok(needsTick(status({ state: 'connected' }, { paused_until_ms: NOW + 1000 }), NOW));
  assert.equal(needsTick(status({ state: 'connected' }), NOW), false);
  assert.equal(outboxText(0), null);
  assert.equal(storageText(status({ state: 'connected' })), null);
  assert.match(storageText(status({ state: 'connected' }, { storage_error: 'database or disk is full' })), /cannot be saved.*disk is full.*still pop up/);
  assert.equal(outboxText(1), '1 change waiting to be sent');
  assert.equal(outboxText(3), '3 changes waiting to be sent');
});

test('account identity and signed-in state', () => {
  assert.equal(isSignedIn(status({ state: 'connected' })), true);
  assert.equal(isSignedIn(status({ state: 'reconnecting' })), true);
  assert.equal(isSignedIn(status({ state: 'signed_out' })), false);
  assert.equal(isSignedIn(status({ state: 'connected' }, { account: null })), false);
  assert.equal(accountKey(status({ state: 'connected' })), 'maria@https://s');
  assert.equal(accountKey(null), '');
});
