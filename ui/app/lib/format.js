/**
 * Words and times for the window: labels per notification type, names,
 * relative times, durations. Pure: no DOM, no IPC; `now`, locale and time
 * zone are passed in so tests are deterministic.
 */

/** @typedef {import('../types.js').NotificationKind} NotificationKind */

/**
 * The notification types the core stores (anything else reads as general).
 * @type {readonly NotificationKind[]}
 */
export const KINDS = Object.freeze(['booking', 'message', 'maintenance', 'property', 'review', 'general']);

/** @param {unknown} kind @returns {kind is NotificationKind} */
export function isKind(kind) {
  return typeof kind === 'string' && /** @type {readonly string[]} */ (KINDS).includes(kind);
}

/** @type {Record<string, {label: string, plural: string, popup: string}>} */
const KIND_WORDS = {
  booking: { label: 'Booking', plural: 'Bookings', popup: 'Booking requests and updates' },
  message: { label: 'Message', plural: 'Messages', popup: 'New messages' },
  maintenance: { label: 'Maintenance', plural: 'Maintenance', popup: 'Maintenance requests' },
  property: { label: 'Property', plural: 'Properties', popup: 'Property updates' },
  review: { label: 'Review', plural: 'Reviews', popup: 'Reviews' },
  general: { label: 'General', plural: 'General', popup: 'Other notifications' },
};

/** @param {unknown} kind @returns {NotificationKind} */
export function normalizeKind(kind) {
  return isKind(kind) ? kind : 'general';
}

/** @param {unknown} kind */
export function kindLabel(kind) {
  return KIND_WORDS[normalizeKind(kind)].label;
}

/** @param {unknown} kind */
export function kindPluralLabel(kind) {
  return KIND_WORDS[normalizeKind(kind)].plural;
}

/** What the settings call a type's popups. @param {unknown} kind */
export function popupLabel(kind) {
  return KIND_WORDS[normalizeKind(kind)].popup;
}

/**
 * A person's name for display: the name when there is one, else "User #N".
 * @param {unknown} name
 * @param {unknown} id
 */
export function displayName(name, id) {
  const n = typeof name === 'string' ? name.trim() : '';
  if (n) return n;
  const num = typeof id === 'number' ? id : typeof id === 'string' && id.trim() !== '' ? Number(id) : NaN;
  return Number.isFinite(num) ? `User #${num}` : 'Unknown user';
}

/** One or two letters for an avatar. @param {string} name */
export function initials(name) {
  if (/^User #/.test(name)) return '#';
  const words = name.trim().split(/[\s._-]+/).filter((w) => /\p{L}|\p{N}/u.test(w));
  if (words.length === 0) return '?';
  const first = Array.from(words[0])[0] ?? '';
  const second = words.length > 1 ? (Array.from(words[words.length - 1])[0] ?? '') : '';
  return (first + second).toUpperCase();
}

/**
 * When a notification happened: the server's `created_at` when it parses,
 * else when it arrived here.
 * @param {{created_at?: string|null, received_at_ms: number}} n
 */
export function notificationTimeMs(n) {
  if (typeof n.created_at === 'string') {
    const t = Date.parse(n.created_at);
    if (Number.isFinite(t)) return t;
  }
  return n.received_at_ms;
}

/** @typedef {{locale?: string, timeZone?: string}} TimeOptions */

/** Intl formatters are costly to build and lists format hundreds of times. */
const formatters = new Map();

/**
 * @param {string|undefined} locale @param {Intl.DateTimeFormatOptions} options
 * @returns {Intl.DateTimeFormat}
 */
function dtf(locale, options) {
  const key = JSON.stringify([locale ?? '', options]);
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(locale, options);
    formatters.set(key, f);
  }
  return f;
}

/** @param {number} ms @param {TimeOptions} o @returns {number} days since epoch in that zone */
function dayNumber(ms, o) {
  const parts = dtf('en-US', {
    timeZone: o.timeZone, year: 'numeric', month: 'numeric', day: 'numeric',
  }).formatToParts(new Date(ms));
  /** @param {string} t */
  const get = (t) => Number(parts.find((p) => p.type === t)?.value);
  return Math.round(Date.UTC(get('year'), get('month') - 1, get('day')) / 86_400_000);
}

/** @param {number} ms @param {TimeOptions} o */
function yearOf(ms, o) {
  return dtf('en-US', { timeZone: o.timeZone, year: 'numeric' }).format(new Date(ms));
}

/** "14:05" (or the locale's clock). @param {number} ms @param {TimeOptions} [o] */
export function formatClock(ms, o = {}) {
  return dtf(o.locale, {
    timeZone: o.timeZone, hour: '2-digit', minute: '2-digit',
  }).format(new Date(ms));
}

/**
 * A short time for lists: "Just now", "5 min ago", "14:05", "Yesterday",
 * "Mon", "12 Mar", "12 Mar 2023". A time in the future (clock skew) reads
 * as "Just now".
 * @param {number} ms @param {number} now @param {TimeOptions} [o]
 */
export function formatRelative(ms, now, o = {}) {
  const diff = now - ms;
  if (diff < 60_000) return 'Just now';
  if (diff < 3_600_000) return `${Math.floor(diff / 60_000)} min ago`;
  const days = dayNumber(now, o) - dayNumber(ms, o);
  if (days <= 0) return formatClock(ms, o);
  if (days === 1) return 'Yesterday';
  if (days < 7) return dtf(o.locale, { timeZone: o.timeZone, weekday: 'short' }).format(new Date(ms));
  const sameYear = yearOf(ms, o) === yearOf(now, o);
  return dtf(o.locale, {
    timeZone: o.timeZone, day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }),
  }).format(new Date(ms));
}

/** "Tue 12 Mar 2024, 14:05". @param {number} ms @param {TimeOptions} [o] */
export function formatFull(ms, o = {}) {
  return dtf(o.locale, {
    timeZone: o.timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
    hour: '2-digit', minute: '2-digit',
  }).format(new Date(ms));
}

/** A day heading in a chat thread: "Today", "Yesterday", "Tue 12 Mar". @param {number} ms @param {number} now @param {TimeOptions} [o] */
export function formatDayHeading(ms, now, o = {}) {
  const days = dayNumber(now, o) - dayNumber(ms, o);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  const sameYear = yearOf(ms, o) === yearOf(now, o);
  return dtf(o.locale, {
    timeZone: o.timeZone, weekday: 'short', day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }),
  }).format(new Date(ms));
}

/** Stable key of the calendar day of `ms` in the zone. @param {number} ms @param {TimeOptions} [o] */
export function dayKey(ms, o = {}) {
  return String(dayNumber(ms, o));
}

/**
 * A calendar date from booking data ("2024-03-12") as "Tue 12 Mar 2024",
 * without shifting it through a time zone. Anything else is returned as
 * given (it is shown as text), or null when it is not a string.
 * @param {unknown} value @param {TimeOptions} [o]
 */
export function formatCalendarDate(value, o = {}) {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const s = String(value);
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (!m) return s;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(ms)) return s;
  return dtf(o.locale, {
    timeZone: 'UTC', weekday: 'short', day: 'numeric', month: 'short', year: 'numeric',
  }).format(new Date(ms));
}

/**
 * A countdown: "now", "8 s", "1 min 5 s", "12 min", "1 h 3 min".
 * @param {number} ms
 */
export function formatDuration(ms) {
  if (!(ms > 0)) return 'now';
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/**
 * "until 15:30" today, "until tomorrow 08:00", else "until Tue 12 Mar, 08:00".
 * @param {number} ms @param {number} now @param {TimeOptions} [o]
 */
export function formatUntil(ms, now, o = {}) {
  const days = dayNumber(ms, o) - dayNumber(now, o);
  if (days <= 0) return `until ${formatClock(ms, o)}`;
  if (days === 1) return `until tomorrow ${formatClock(ms, o)}`;
  const date = dtf(o.locale, {
    timeZone: o.timeZone, weekday: 'short', day: 'numeric', month: 'short',
  }).format(new Date(ms));
  return `until ${date}, ${formatClock(ms, o)}`;
}

/** Whitespace folded to single spaces, cut to `max` characters with "…". @param {unknown} text @param {number} [max] */
export function singleLine(text, max = 140) {
  const s = typeof text === 'string' ? text.replace(/\s+/g, ' ').trim() : '';
  const chars = Array.from(s);
  return chars.length > max ? chars.slice(0, max - 1).join('').trimEnd() + '…' : s;
}

/** A count with its noun: "1 message", "3 messages". @param {number} n @param {string} one @param {string} [many] */
export function plural(n, one, many = `${one}s`) {
  return `${n} ${n === 1 ? one : many}`;
}

/** `text` ending as a sentence: a full stop added unless it has one (or ?, !, …). @param {string} text */
export function asSentence(text) {
  const t = text.trim();
  return /[.!?…]$/.test(t) ? t : `${t}.`;
}

/**
 * The unread count as a screen reader should hear it after news:
 * " 4 unread." (with its leading space), " Nothing unread." or "" when
 * the count is not known.
 * @param {unknown} n
 */
export function unreadSentence(n) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return '';
  return n === 0 ? ' Nothing unread.' : ` ${n} unread.`;
}

/** @param {unknown} status */
export function bookingStatusLabel(status) {
  if (typeof status !== 'string' || !status.trim()) return null;
  switch (status.trim().toLowerCase()) {
    case 'pending': return 'Waiting for approval';
    case 'approved': case 'confirmed': return 'Approved';
    case 'declined': case 'rejected': return 'Declined';
    case 'cancelled': case 'canceled': return 'Cancelled';
    case 'completed': return 'Completed';
    default: {
      const s = status.trim().replace(/_/g, ' ');
      return s.charAt(0).toUpperCase() + s.slice(1);
    }
  }
}

/**
 * The title to show: the server's, or a plain one from the type and data
 * when the server sent none.
 * @param {{title?: unknown, kind?: unknown, context?: {status?: string|null, sender_name?: string|null}|null}} n
 */
export function notificationTitle(n) {
  const t = typeof n.title === 'string' ? n.title.trim() : '';
  if (t) return t;
  const context = n.context && typeof n.context === 'object' ? n.context : {};
  const status = typeof context.status === 'string' ? context.status.toLowerCase() : '';
  switch (normalizeKind(n.kind)) {
    case 'booking':
      if (status === 'pending') return 'New booking request';
      if (status === 'approved' || status === 'confirmed') return 'Booking approved';
      if (status === 'declined' || status === 'rejected') return 'Booking declined';
      if (status === 'cancelled' || status === 'canceled') return 'Booking cancelled';
      return 'Booking update';
    case 'message': {
      const name = typeof context.sender_name === 'string' ? context.sender_name.trim() : '';
      return name ? `New message from ${name}` : 'New message';
    }
    case 'maintenance':
      return status && status !== 'pending' && status !== 'open' ? 'Maintenance request updated' : 'New maintenance request';
    case 'property': return 'Property update';
    case 'review': return 'New review';
    default: return 'Notification';
  }
}
