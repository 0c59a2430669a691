import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PAUSES, describeQuietHours, normalizeChange, normalizePolicy, parseClock, roleLabel, signInErrorField, toClockInput,
  validateQuietHours, validateSignIn, withPopups,
} from '../app/lib/settings-rules.js';

test('clock times parse as HH:MM, also with the seconds the core may echo', () => {
  assert.equal(parseClock('22:00'), 22 * 60);
  assert.equal(parseClock('07:05:00'), 7 * 60 + 5);
  assert.equal(parseClock('7:05'), 7 * 60 + 5);
  assert.equal(parseClock('24:00'), null);
  assert.equal(parseClock('12:60'), null);
  assert.equal(parseClock('noon'), null);
  assert.equal(parseClock(''), null);
  assert.equal(toClockInput('7:05:00'), '07:05');
  assert.equal(toClockInput(null), '');
});

test('quiet hours: off, valid (also overnight), or an error on the field at fault', () => {
  assert.deepEqual(validateQuietHours({ enabled: false, start: '', end: '' }), { ok: true, value: null });
  assert.deepEqual(validateQuietHours({ enabled: true, start: '22:00', end: '07:00' }), { ok: true, value: { start: '22:00', end: '07:00' } });
  assert.deepEqual(validateQuietHours({ enabled: true, start: '13:00:00', end: '14:30' }), { ok: true, value: { start: '13:00', end: '14:30' } });
  const noStart = validateQuietHours({ enabled: true, start: '', end: '07:00' });
  assert.equal(noStart.ok, false);
  assert.equal(noStart.ok === false && noStart.field, 'start');
  const same = validateQuietHours({ enabled: true, start: '22:00', end: '22:00' });
  assert.equal(same.ok === false && same.field, 'end');
  assert.match(same.ok === false ? same.error : '', /different time/);
  assert.equal(describeQuietHours({ start: '22:00:00', end: '07:00:00' }), '22:00–07:00 (overnight)');
  assert.equal(describeQuietHours(null), 'Off');
});

test('the pauses offered are intents: the core works out when each ends', () => {
  assert.deepEqual(PAUSES.hour, { for: 'minutes', minutes: 60 });
  assert.deepEqual(PAUSES.tomorrow, { for: 'tomorrow_morning' });
  assert.deepEqual(PAUSES.resume, { for: 'resume' });
});

test('a settings change carries only the fields it names, normalized, and never the pause', () => {
  assert.deepEqual(normalizeChange({ sound: 1 }), { sound: true });
  assert.deepEqual(normalizeChange({ muted: ['review', 'bogus', 'booking'] }), { muted: ['booking', 'review'] });
  assert.deepEqual(normalizeChange({ quiet_hours: null }), { quiet_hours: null });
  assert.deepEqual(normalizeChange({ quiet_hours: { start: '22:00:00', end: '07:00' } }), { quiet_hours: { start: '22:00', end: '07:00' } });
  assert.deepEqual(normalizeChange(/** @type {any} */ ({ paused_until_ms: 5 })), {});
});

test('the policy sent to the core has known kinds only, sorted, and HH:MM quiet hours', () => {
  assert.deepEqual(normalizePolicy({ muted: ['review', 'bogus', 'booking', 'review'], quiet_hours: { start: '22:00:00', end: '07:00:00' }, paused_until_ms: 5, sound: 1 }), {
    muted: ['booking', 'review'], quiet_hours: { start: '22:00', end: '07:00' }, paused_until_ms: 5, sound: true,
  });
  assert.deepEqual(normalizePolicy(null), { muted: [], quiet_hours: null, paused_until_ms: null, sound: false });
  assert.equal(normalizePolicy({ quiet_hours: { start: 'x', end: '07:00' } }).quiet_hours, null);
});

test('turning a type\'s popups off mutes it; on unmutes it; the rest is kept', () => {
  const p = normalizePolicy({ muted: ['review'], quiet_hours: null, paused_until_ms: 99, sound: true });
  assert.deepEqual(withPopups(p, 'message', false).muted, ['message', 'review']);
  assert.deepEqual(withPopups(p, 'review', true).muted, []);
  assert.equal(withPopups(p, 'review', true).paused_until_ms, 99);
  assert.equal(withPopups(p, 'review', true).sound, true);
});

test('sign-in input is checked before it goes to the core', () => {
  const base = { server: 'https://smarthunt.example.com/', username: ' maria ', password: 'pw', staySignedIn: true, caFile: ' ', allowInsecureHttp: false };
  const ok = validateSignIn(base);
  assert.deepEqual(ok, { ok: true, args: { server: 'https://smarthunt.example.com', username: 'maria', password: 'pw', staySignedIn: true, caFile: null, allowInsecureHttp: false } });
  assert.equal(validateSignIn({ ...base, caFile: '/etc/ca.pem' }).ok && validateSignIn({ ...base, caFile: '/etc/ca.pem' }).args.caFile, '/etc/ca.pem');
  const bad = (f) => { const r = validateSignIn({ ...base, ...f }); return r.ok ? null : r.field; };
  assert.equal(bad({ server: '' }), 'server');
  assert.equal(bad({ server: 'smarthunt.example.com' }), 'server');
  assert.equal(bad({ server: 'ftp://x' }), 'server');
  assert.equal(bad({ username: '  ' }), 'username');
  assert.equal(bad({ password: '' }), 'password');
  assert.equal(bad({ server: 'http://127.0.0.1:8000' }), null, 'the loopback rule is the core\'s to apply');
});

test('sign-in errors point at the field to fix', () => {
  assert.equal(signInErrorField('invalid_credentials'), 'password');
  assert.equal(signInErrorField('unreachable'), 'server');
  assert.equal(signInErrorField('keychain'), null);
  assert.equal(roleLabel('landlord'), 'Landlord');
  assert.equal(roleLabel(null), null);
});
