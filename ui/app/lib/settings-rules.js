/**
 * Rules of the settings form: quiet-hours times, pause durations, the
 * popup policy's shape, sign-in input. Pure: no DOM, no IPC; time passed in.
 */

import { KINDS, isKind } from './format.js';

/**
 * @typedef {import('../types.js').PolicySettings} PopupPolicy
 * @typedef {import('../types.js').PolicyChange} PolicyChange
 * @typedef {import('../types.js').PauseFor} PauseFor
 * @typedef {import('../types.js').SignInArgs} SignInArgs
 * @typedef {import('../types.js').NotificationKind} NotificationKind
 */

/**
 * The pauses the window offers, as intents: the core works out when each
 * ends ("tomorrow morning" is its rule, shared with the tray).
 * @type {{hour: PauseFor, tomorrow: PauseFor, resume: PauseFor}}
 */
export const PAUSES = Object.freeze({
  hour: { for: 'minutes', minutes: 60 },
  tomorrow: { for: 'tomorrow_morning' },
  resume: { for: 'resume' },
});

/**
 * Minutes of a "HH:MM" (or "HH:MM:SS", as the core may echo) clock time,
 * or null when it is not one.
 * @param {unknown} s
 */
export function parseClock(s) {
  if (typeof s !== 'string') return null;
  const m = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?$/.exec(s.trim());
  if (!m) return null;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const sec = m[3] == null ? 0 : Number(m[3]);
  if (h > 23 || min > 59 || sec > 59) return null;
  return h * 60 + min;
}

/** "HH:MM" for a time input, or '' when the value is not a time. @param {unknown} s */
export function toClockInput(s) {
  const m = parseClock(s);
  if (m == null) return '';
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/**
 * Checks the quiet-hours fields.
 * @param {{enabled: boolean, start: string, end: string}} f
 * @returns {{ok: true, value: {start: string, end: string}|null} | {ok: false, field: 'start'|'end', error: string}}
 */
export function validateQuietHours(f) {
  if (!f.enabled) return { ok: true, value: null };
  const start = parseClock(f.start);
  if (start == null) return { ok: false, field: 'start', error: 'Enter when quiet hours start, for example 22:00.' };
  const end = parseClock(f.end);
  if (end == null) return { ok: false, field: 'end', error: 'Enter when quiet hours end, for example 07:00.' };
  if (start === end) return { ok: false, field: 'end', error: 'Quiet hours must end at a different time than they start.' };
  return { ok: true, value: { start: toClockInput(f.start), end: toClockInput(f.end) } };
}

/** "22:00–07:00 (overnight)" style description. @param {{start: string, end: string}|null|undefined} q */
export function describeQuietHours(q) {
  if (!q) return 'Off';
  const s = parseClock(q.start);
  const e = parseClock(q.end);
  if (s == null || e == null) return 'Off';
  return `${toClockInput(q.start)}–${toClockInput(q.end)}${e < s ? ' (overnight)' : ''}`;
}

/**
 * The policy in the shape set_policy takes: known kinds only, sorted,
 * quiet hours as "HH:MM" or null.
 * @param {Partial<PopupPolicy>|null|undefined} p
 * @returns {PopupPolicy}
 */
export function normalizePolicy(p) {
  const muted = [...new Set((p?.muted ?? []).filter(isKind))]
    .sort((a, b) => KINDS.indexOf(a) - KINDS.indexOf(b));
  const q = p?.quiet_hours;
  const quiet = q && parseClock(q.start) != null && parseClock(q.end) != null
    ? { start: toClockInput(q.start), end: toClockInput(q.end) }
    : null;
  return {
    muted,
    quiet_hours: quiet,
    paused_until_ms: typeof p?.paused_until_ms === 'number' ? p.paused_until_ms : null,
    sound: Boolean(p?.sound),
  };
}

/**
 * A settings change in the shape set_policy takes: only the fields given,
 * each normalized as in {@link normalizePolicy}; never the pause.
 * @param {PolicyChange} c
 * @returns {PolicyChange}
 */
export function normalizeChange(c) {
  const p = normalizePolicy(c);
  /** @type {PolicyChange} */
  const out = {};
  if ('muted' in c) out.muted = p.muted;
  if ('quiet_hours' in c) out.quiet_hours = p.quiet_hours;
  if ('sound' in c) out.sound = p.sound;
  return out;
}

/**
 * The policy with one type's popups on or off.
 * @param {PopupPolicy} p @param {NotificationKind} kind @param {boolean} showPopups
 */
export function withPopups(p, kind, showPopups) {
  const muted = new Set(normalizePolicy(p).muted);
  if (showPopups) muted.delete(kind); else muted.add(kind);
  return normalizePolicy({ ...p, muted: [...muted] });
}

/**
 * Checks the sign-in form and builds sign_in's arguments.
 * @param {{server: string, username: string, password: string, staySignedIn: boolean, caFile: string, allowInsecureHttp: boolean}} f
 * @returns {{ok: true, args: SignInArgs} | {ok: false, field: string, error: string}}
 */
export function validateSignIn(f) {
  const server = (f.server ?? '').trim();
  if (!server) return { ok: false, field: 'server', error: 'Enter the address of your SmartHunt server.' };
  let url;
  try { url = new URL(server); } catch { url = null; }
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || !url.hostname) {
    return { ok: false, field: 'server', error: 'Enter the server address starting with https://, for example https://smarthunt.example.com.' };
  }
  const username = (f.username ?? '').trim();
  if (!username) return { ok: false, field: 'username', error: 'Enter your username.' };
  if (!f.password) return { ok: false, field: 'password', error: 'Enter your password.' };
  const caFile = (f.caFile ?? '').trim();
  return {
    ok: true,
    args: {
      server: server.replace(/\/+$/, ''),
      username,
      password: f.password,
      staySignedIn: Boolean(f.staySignedIn),
      caFile: caFile || null,
      allowInsecureHttp: Boolean(f.allowInsecureHttp),
    },
  };
}

/**
 * Which sign-in field an error from the core is about, to focus it.
 * @param {string} code
 */
export function signInErrorField(code) {
  switch (code) {
    case 'invalid_credentials': return 'password';
    case 'unreachable': case 'bad_input': return 'server';
    default: return null;
  }
}

/** "Landlord" / "Tenant" / "Admin" from a role. @param {unknown} role */
export function roleLabel(role) {
  if (typeof role !== 'string' || !role.trim()) return null;
  const r = role.trim();
  return r.charAt(0).toUpperCase() + r.slice(1).toLowerCase();
}
