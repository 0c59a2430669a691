/**
 * The status bar (connection, next retry, paused popups, unsent changes),
 * the banner asking the user to sign in, and the live region that
 * announces new items to screen readers.
 */

import { h, setText, show } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { bannerFor, describeConnection, outboxText, pauseText, storageText } from '../lib/status-text.js';

/** @typedef {import('../state.js').AppState} AppState */

/** @param {{actions: import('../actions.js').Actions, timeOptions?: {locale?: string, timeZone?: string}}} deps */
export function createBanner({ actions }) {
  const title = h('strong', { class: 'banner-title' });
  const message = h('p', { class: 'banner-message' });
  const detail = h('p', { class: 'banner-detail' });
  const button = h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => actions.requestSignIn() } });
  const el = h('section', { class: 'banner', role: 'region', 'aria-label': 'Account', hidden: true },
    icon('warning', 'icon banner-icon'),
    h('div', { class: 'banner-text' }, title, message, detail, h('div', { class: 'banner-actions' }, button)));

  /** @param {AppState} s */
  function update(s) {
    const b = bannerFor(s.status);
    // The settings view has the form itself; the banner would repeat it.
    const visible = Boolean(b) && s.view !== 'settings';
    show(el, visible);
    if (!b) return;
    setText(title, b.title);
    setText(message, b.message);
    setText(detail, b.detail ?? '');
    show(detail, Boolean(b.detail));
    setText(button, b.action);
    el.dataset.kind = b.kind;
  }

  return { el, update };
}

/** @param {{actions: import('../actions.js').Actions, timeOptions?: {locale?: string, timeZone?: string}}} deps */
export function createStatusBar({ actions, timeOptions = {} }) {
  const dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
  // Only the state's name is live: the countdown ticking every second would be noise.
  const label = h('span', { class: 'status-label', 'aria-live': 'polite' });
  const countdown = h('span', { class: 'status-countdown' });
  const detail = h('span', { class: 'status-detail' });
  const paused = h('button', {
    type: 'button', class: 'status-chip', hidden: true,
    on: { click: () => actions.showView('settings') },
  }, icon('pause', 'icon chip-icon'), h('span', {}));
  const outbox = h('span', { class: 'status-chip status-outbox', hidden: true }, icon('clock', 'icon chip-icon'), h('span', {}));
  // Offline, the user need not wait for the next try. Placed before the
  // countdown, whose text changes width at every try ("retrying now…",
  // then "retrying in 15 s (attempt 5)"): after it, the button moved
  // under a click that came as a try ended, and the click was lost.
  const retry = h('button', {
    type: 'button', class: 'btn btn-secondary btn-small status-retry', hidden: true,
    on: { click: () => actions.retryNow() },
  }, 'Retry now');
  const el = h('footer', { class: 'statusbar', 'aria-label': 'Connection status' },
    h('div', { class: 'status-main' }, dot, label, retry, countdown),
    detail,
    h('div', { class: 'status-chips' }, paused, outbox));

  /** @param {AppState} s */
  function update(s) {
    const c = describeConnection(s.status, s.now);
    el.dataset.tone = c.tone;
    setText(label, c.label);
    setText(countdown, c.countdown ? ` · ${c.countdown}` : '');
    show(retry, c.canRetry);
    const storage = storageText(s.status);
    setText(detail, c.detail ?? storage ?? (s.statusError ? s.statusError.message : ''));
    show(detail, Boolean(c.detail || storage || s.statusError));
    const p = pauseText(s.status?.paused_until_ms, s.now, timeOptions);
    show(paused, Boolean(p));
    setText(/** @type {Node} */ (paused.lastChild), p ?? '');
    if (p) paused.setAttribute('aria-label', `${p}. Open settings`);
    const o = outboxText(s.status?.outbox_pending);
    show(outbox, Boolean(o));
    setText(/** @type {Node} */ (outbox.lastChild), o ?? '');
  }

  return { el, update };
}

/** A polite live region; it speaks `announcement.text` each time its seq changes. */
export function createAnnouncer() {
  const el = h('div', { class: 'visually-hidden', role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' });
  let seq = 0;
  /** @param {AppState} s */
  function update(s) {
    if (s.announcement.seq === seq) return;
    seq = s.announcement.seq;
    // Clear then set, so the same sentence twice is spoken twice.
    el.textContent = '';
    setTimeout(() => { el.textContent = s.announcement.text; }, 50);
  }
  return { el, update };
}
