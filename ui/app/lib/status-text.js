/**
 * What the status bar and banners say about the engine: connection state,
 * the next retry, paused popups, unsent messages. Pure: `now` is passed in.
 */

import { formatDuration, formatUntil, plural } from './format.js';

/**
 * @typedef {import('../types.js').EngineStatus} EngineStatus
 * @typedef {'ok'|'busy'|'warn'|'error'|'off'} Tone
 * @typedef {{tone: Tone, label: string, countdown: string|null, detail: string|null, canRetry: boolean}} ConnectionText
 */

/**
 * The connection in a few words. `label` changes only when the state
 * changes (it is announced); `countdown` is the part that ticks.
 * @param {EngineStatus|null|undefined} status @param {number} now
 * @returns {ConnectionText}
 */
export function describeConnection(status, now) {
  // Offline: the user may try now rather than wait for the next retry.
  return { ...connectionWords(status, now), canRetry: status?.connection?.state === 'reconnecting' };
}

/**
 * @param {EngineStatus|null|undefined} status @param {number} now
 * @returns {Omit<ConnectionText, 'canRetry'>}
 */
function connectionWords(status, now) {
  const c = status?.connection;
  switch (c?.state) {
    case 'connected':
      return {
        tone: 'ok', label: 'Connected', countdown: null,
        detail: c.variant === 'legacy' ? 'This server sends some updates late; the app checks for them regularly.' : null,
      };
    case 'connecting':
      return { tone: 'busy', label: 'Connecting…', countdown: null, detail: null };
    case 'reconnecting': {
      const at = Number(c.retry_at_ms);
      const left = Number.isFinite(at) ? at - now : 0;
      const attempt = Number(c.attempt) > 1 ? ` (attempt ${c.attempt})` : '';
      return {
        tone: 'warn',
        label: 'Offline',
        countdown: left > 500 ? `retrying in ${formatDuration(left)}${attempt}` : 'retrying now…',
        detail: typeof c.last_error === 'string' && c.last_error ? `Last error: ${c.last_error}` : null,
      };
    }
    case 'not_signed_in':
      return { tone: 'off', label: 'Not signed in', countdown: null, detail: null };
    case 'signed_out':
      // The banner tells why and what to do; the bar stays short.
      return { tone: 'error', label: 'Signed out', countdown: null, detail: null };
    case 'keychain_unavailable':
      return { tone: 'error', label: 'Keychain unavailable', countdown: null, detail: null };
    case 'config_unreadable':
      return { tone: 'error', label: 'Settings unreadable', countdown: null, detail: null };
    case 'stopped':
      return { tone: 'off', label: 'Stopped', countdown: null, detail: null };
    case 'starting':
    default:
      return { tone: 'busy', label: 'Starting…', countdown: null, detail: null };
  }
}

/**
 * True while the user must sign in (again) before anything else works:
 * not signed in, signed out, no keychain, unreadable settings.
 * @param {EngineStatus|null|undefined} status
 */
export function needsSignIn(status) {
  return bannerFor(status) != null;
}

/**
 * The banner over every view when the user must act, or null.
 * @param {EngineStatus|null|undefined} status
 * @returns {{kind: string, title: string, message: string, detail: string|null, action: string}|null}
 */
export function bannerFor(status) {
  const c = status?.connection;
  switch (c?.state) {
    case 'not_signed_in':
      return {
        kind: 'not_signed_in',
        title: 'You are not signed in',
        message: 'Sign in to get booking requests, messages and maintenance updates.',
        detail: null,
        action: 'Sign in',
      };
    case 'signed_out':
      return {
        kind: 'signed_out',
        title: 'You have been signed out',
        message: 'The server no longer accepts your session. Sign in again to keep getting notifications.',
        detail: typeof c.reason === 'string' && c.reason ? c.reason : null,
        action: 'Sign in again',
      };
    case 'keychain_unavailable':
      return {
        kind: 'keychain_unavailable',
        title: 'The system keychain is not available',
        message: 'SmartHunt keeps your sign-in only in the system keychain. Unlock it (or start a keyring), then sign in again.',
        detail: typeof c.message === 'string' && c.message ? c.message : null,
        action: 'Sign in',
      };
    case 'config_unreadable':
      return {
        kind: 'config_unreadable',
        title: 'SmartHunt cannot read its settings',
        message: 'Its settings file is damaged, so notifications are paused. The file is kept as it is; signing in again starts afresh.',
        detail: typeof c.message === 'string' && c.message ? c.message : null,
        action: 'Sign in again',
      };
    default:
      return null;
  }
}

/**
 * "Popups paused until 15:30", or null when not paused.
 * @param {number|null|undefined} pausedUntilMs @param {number} now
 * @param {{locale?: string, timeZone?: string}} [o]
 */
export function pauseText(pausedUntilMs, now, o = {}) {
  if (pausedUntilMs == null || !(pausedUntilMs > now)) return null;
  return `Popups paused ${formatUntil(pausedUntilMs, now, o)}`;
}

/**
 * What to say while the local store cannot be written, or null.
 * @param {EngineStatus|null|undefined} status
 */
export function storageText(status) {
  const e = status?.storage_error;
  return typeof e === 'string' && e
    ? `Notifications cannot be saved on this computer (${e}). They still pop up; free some disk space.`
    : null;
}

/** "2 messages waiting to be sent", or null. @param {number|null|undefined} n */
export function outboxText(n) {
  const k = Number(n) || 0;
  return k > 0 ? `${plural(k, 'change')} waiting to be sent` : null;
}

/**
 * Whether the status bar needs a tick every second (a countdown runs).
 * @param {EngineStatus|null|undefined} status @param {number} now
 */
export function needsTick(status, now) {
  if (status?.connection?.state === 'reconnecting') return true;
  return status?.paused_until_ms != null && status.paused_until_ms > now;
}

/** True when the core has an account and a session it can use. @param {EngineStatus|null|undefined} status */
export function isSignedIn(status) {
  const s = status?.connection?.state;
  return Boolean(status?.account) && s !== 'not_signed_in' && s !== 'signed_out';
}

/** A key that changes when another account signs in. @param {EngineStatus|null|undefined} status */
export function accountKey(status) {
  const a = status?.account;
  return a ? `${a.username}@${a.server}` : '';
}
