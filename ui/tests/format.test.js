import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asSentence, unreadSentence,
  bookingStatusLabel, displayName, formatCalendarDate, formatDuration, formatRelative, formatUntil, initials,
  kindLabel, normalizeKind, notificationTimeMs, notificationTitle, singleLine,
} from '../app/lib/format.js';

const o = { locale: 'en-GB', timeZone: 'UTC' };
const NOW = Date.UTC(2025, 2, 12, 15, 30); // Wed 12 Mar 2025, 15:30 UTC

test('an unknown notification type reads as general', () => {
  assert.equal(normalizeKind('favourite'), 'general');
  assert.equal(normalizeKind(undefined), 'general');
  assert.equal(normalizeKind('booking'), 'booking');
  assert.equal(kindLabel('maintenance'), 'Maintenance');
});

test('a person without a name is shown as "User #N"', () => {
  assert.equal(displayName(null, 12), 'User #12');
  assert.equal(displayName('   ', 12), 'User #12');
  assert.equal(displayName(undefined, '7'), 'User #7');
  assert.equal(displayName('Amira Haddad', 7), 'Amira Haddad');
  assert.equal(displayName(null, null), 'Unknown user');
});

test('avatars show initials, "#" for the fallback name', () => {
  assert.equal(initials('Amira Haddad'), 'AH');
  assert.equal(initials('maria.santos'), 'MS');
  assert.equal(initials('jonas'), 'J');
  assert.equal(initials('User #12'), '#');
  assert.equal(initials('<>'), '?');
});

test('relative times read naturally', () => {
  assert.equal(formatRelative(NOW - 10_000, NOW, o), 'Just now');
  assert.equal(formatRelative(NOW + 120_000, NOW, o), 'Just now', 'a clock ahead of ours is not "in 2 min"');
  assert.equal(formatRelative(NOW - 5 * 60_000, NOW, o), '5 min ago');
  assert.equal(formatRelative(Date.UTC(2025, 2, 12, 9, 5), NOW, o), '09:05');
  assert.equal(formatRelative(Date.UTC(2025, 2, 11, 23, 0), NOW, o), 'Yesterday');
  assert.equal(formatRelative(Date.UTC(2025, 2, 9, 12, 0), NOW, o), 'Sun');
  assert.equal(formatRelative(Date.UTC(2025, 0, 3, 12, 0), NOW, o), '3 Jan');
  assert.equal(formatRelative(Date.UTC(2023, 11, 24, 12, 0), NOW, o), '24 Dec 2023');
});

test('relative days follow the given time zone', () => {
  // 02:00 UTC on the 12th is still the evening of the 11th in New York.
  const t = Date.UTC(2025, 2, 12, 2, 0);
  assert.equal(formatRelative(t, NOW, { locale: 'en-GB', timeZone: 'UTC' }), '02:00');
  assert.equal(formatRelative(t, NOW, { locale: 'en-GB', timeZone: 'America/New_York' }), 'Yesterday');
});

test('a notification is dated by created_at when it parses, else when it arrived', () => {
  assert.equal(notificationTimeMs({ created_at: '2025-03-12T10:00:00+00:00', received_at_ms: 1 }), Date.UTC(2025, 2, 12, 10));
  assert.equal(notificationTimeMs({ created_at: '2025-03-12T10:00:00Z', received_at_ms: 1 }), Date.UTC(2025, 2, 12, 10));
  assert.equal(notificationTimeMs({ created_at: '{"timestamp": "now"}', received_at_ms: 42 }), 42);
  assert.equal(notificationTimeMs({ created_at: null, received_at_ms: 42 }), 42);
});

test('countdowns are short and never negative', () => {
  assert.equal(formatDuration(-5), 'now');
  assert.equal(formatDuration(0), 'now');
  assert.equal(formatDuration(400), '1 s');
  assert.equal(formatDuration(27_000), '27 s');
  assert.equal(formatDuration(65_000), '1 min 5 s');
  assert.equal(formatDuration(120_000), '2 min');
  assert.equal(formatDuration(12 * 60_000 + 30_000), '12 min');
  assert.equal(formatDuration(63 * 60_000), '1 h 3 min');
  assert.equal(formatDuration(2 * 3_600_000), '2 h');
});

test('"until" names today, tomorrow or the date', () => {
  assert.equal(formatUntil(Date.UTC(2025, 2, 12, 16, 30), NOW, o), 'until 16:30');
  assert.equal(formatUntil(Date.UTC(2025, 2, 13, 8, 0), NOW, o), 'until tomorrow 08:00');
  assert.match(formatUntil(Date.UTC(2025, 2, 15, 8, 0), NOW, o), /^until Sat,? 15 Mar, 08:00$/);
});

test('booking dates are calendar dates, not shifted by the time zone', () => {
  assert.match(formatCalendarDate('2025-06-14', { locale: 'en-GB' }), /^Sat,? 14 Jun 2025$/);
  assert.match(formatCalendarDate('2025-06-14T23:30:00-05:00', { locale: 'en-GB' }), /14 Jun 2025/);
  assert.equal(formatCalendarDate('soon'), 'soon');
  assert.equal(formatCalendarDate({ evil: true }), null);
});

test('titles: the server\'s, else plain words for landlords and tenants', () => {
  assert.equal(notificationTitle({ title: '  Booking approved ', kind: 'booking' }), 'Booking approved');
  assert.equal(notificationTitle({ title: '', kind: 'booking', context: { status: 'pending' } }), 'New booking request');
  assert.equal(notificationTitle({ title: '', kind: 'booking', context: { status: 'declined' } }), 'Booking declined');
  assert.equal(notificationTitle({ title: '', kind: 'message', context: { sender_name: 'Amira' } }), 'New message from Amira');
  assert.equal(notificationTitle({ title: '', kind: 'maintenance', context: {} }), 'New maintenance request');
  assert.equal(notificationTitle({ title: '', kind: 'review', context: null }), 'New review');
  assert.equal(notificationTitle({ title: '', kind: 'weird' }), 'Notification');
});

test('booking statuses are worded for people', () => {
  assert.equal(bookingStatusLabel('pending'), 'Waiting for approval');
  assert.equal(bookingStatusLabel('APPROVED'), 'Approved');
  assert.equal(bookingStatusLabel('rejected'), 'Declined');
  assert.equal(bookingStatusLabel('checked_in'), 'Checked in');
  assert.equal(bookingStatusLabel(''), null);
  assert.equal(bookingStatusLabel(3), null);
});

test('previews fold whitespace and cut long text with an ellipsis', () => {
  assert.equal(singleLine('  a\n\n b\tc '), 'a b c');
  assert.equal(singleLine('abcdefghij', 5), 'abcd…');
  assert.equal(singleLine(null), '');
});

test('the unread count reads as a sentence after the news, or not at all when unknown', () => {
  assert.equal(unreadSentence(4), ' 4 unread.');
  assert.equal(unreadSentence(0), ' Nothing unread.');
  assert.equal(unreadSentence(undefined), '');
  assert.equal(unreadSentence(-1), '');
  assert.equal(unreadSentence(Number.NaN), '');
});

test('a title becomes a sentence without doubling its own punctuation', () => {
  assert.equal(asSentence('New booking request'), 'New booking request.');
  assert.equal(asSentence('Is the flat free in May?'), 'Is the flat free in May?');
  assert.equal(asSentence('Paid. '), 'Paid.');
});
