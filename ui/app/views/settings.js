/**
 * The settings view: account (sign in / out), popups per type and sound,
 * quiet hours, pause, start at login. Each change goes to the core at
 * once and the form then shows what the core kept.
 */

import { h, setText, show } from '../lib/dom.js';
import { KINDS, initials, popupLabel } from '../lib/format.js';
import { pauseText } from '../lib/status-text.js';
import {
  PAUSES, normalizePolicy, roleLabel, toClockInput, validateQuietHours, withPopups,
} from '../lib/settings-rules.js';

/**
 * @typedef {import('../state.js').AppState} AppState
 * @typedef {{locale?: string, timeZone?: string}} TimeOptions
 */

let uid = 0;

/**
 * A labelled text field.
 * @param {string} label @param {Record<string, unknown>} props @param {string} [hint]
 */
function field(label, props, hint) {
  const id = `f-${++uid}`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h('input', { id, class: 'input', ...props, ...(hintId ? { 'aria-describedby': hintId } : {}) });
  const wrap = h('div', { class: 'field' },
    h('label', { class: 'field-label', htmlFor: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  return { wrap, input };
}

/**
 * A checkbox with its label (and an optional hint).
 * @param {string} label @param {(checked: boolean) => void} onChange @param {string} [hint]
 */
function checkbox(label, onChange, hint) {
  const id = `f-${++uid}`;
  const input = h('input', { id, type: 'checkbox', class: 'switch', on: { change: () => onChange(input.checked) } });
  const wrap = h('div', { class: 'check' },
    input,
    h('label', { htmlFor: id }, h('span', { class: 'check-label' }, label), hint ? h('span', { class: 'hint' }, hint) : null));
  return { wrap, input };
}

/** @param {string} title @param {...(Node|null)} children */
function section(title, ...children) {
  const id = `s-${++uid}`;
  return h('section', { class: 'settings-section', 'aria-labelledby': id }, h('h2', { class: 'section-title', id }, title), ...children);
}

/**
 * @param {{store: import('../state.js').Store<AppState>, actions: import('../actions.js').Actions, timeOptions?: TimeOptions}} deps
 */
export function createSettingsView({ store, actions, timeOptions = {} }) {
  const policy = () => normalizePolicy(store.get().settings.settings?.policy);

  // ---- account ----
  const whoAvatar = h('span', { class: 'avatar avatar-large', 'aria-hidden': 'true' });
  const whoName = h('strong', { class: 'who-name' });
  const whoRole = h('span', { class: 'role-tag' });
  const whoServer = h('span', { class: 'who-server' });
  const signOut = h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { void actions.signOut(); } } }, 'Sign out');
  const who = h('div', { class: 'who', hidden: true },
    whoAvatar,
    h('div', { class: 'who-text' }, h('span', { class: 'who-line' }, whoName, whoRole), whoServer),
    signOut);

  const server = field('Server address', { type: 'url', placeholder: 'https://smarthunt.example.com', autocomplete: 'url', spellcheck: false });
  const username = field('Username', { type: 'text', autocomplete: 'username', spellcheck: false });
  const password = field('Password', { type: 'password', autocomplete: 'current-password' });
  const stay = checkbox('Stay signed in', () => {}, 'Keeps your password in the system keychain, so you are not signed out when the session expires.');
  const caFile = field('Certificate file (optional)', { type: 'text', placeholder: '/path/to/server-ca.pem', spellcheck: false },
    'For a server with its own certificate authority: the path of its PEM file.');
  const insecure = checkbox('Allow plain http:// to other computers', () => {}, 'Not recommended: your password would travel unencrypted.');
  const signInError = h('p', { class: 'inline-error', role: 'alert', hidden: true });
  const signInButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Sign in');
  const advanced = h('details', { class: 'advanced' }, h('summary', {}, 'Connection options'), caFile.wrap, insecure.wrap);
  const signInForm = h('form', {
    class: 'signin', 'aria-label': 'Sign in', hidden: true,
    on: {
      submit: (e) => {
        e.preventDefault();
        void actions.signIn({
          server: server.input.value, username: username.input.value, password: password.input.value,
          staySignedIn: stay.input.checked, caFile: caFile.input.value, allowInsecureHttp: insecure.input.checked,
        });
      },
    },
  }, server.wrap, username.wrap, password.wrap, stay.wrap, advanced, signInError, h('div', { class: 'btn-row' }, signInButton));
  const accountIntro = h('p', { class: 'hint section-intro' });

  // ---- popups ----
  /** @type {Record<string, HTMLInputElement>} */
  const popupBoxes = {};
  const popupList = h('div', { class: 'check-grid' }, KINDS.map((k) => {
    const c = checkbox(popupLabel(k), (checked) => { void actions.changePolicy({ muted: withPopups(policy(), k, checked).muted }); });
    popupBoxes[k] = c.input;
    return c.wrap;
  }));
  const sound = checkbox('Play a sound with popups', (checked) => { void actions.changePolicy({ sound: checked }); });
  const popups = h('fieldset', { class: 'fieldset' },
    h('legend', { class: 'legend' }, 'Show popups for'),
    popupList);

  // ---- quiet hours ----
  const quietOn = checkbox('Hold popups during quiet hours', () => saveQuietHours(), 'Notifications are still saved; you get a summary when quiet hours end.');
  const quietStart = field('From', { type: 'time' });
  const quietEnd = field('To', { type: 'time' });
  const quietError = h('p', { class: 'inline-error', role: 'alert', hidden: true });
  for (const f of [quietStart, quietEnd]) f.input.addEventListener('change', () => saveQuietHours());

  function saveQuietHours() {
    const r = validateQuietHours({ enabled: quietOn.input.checked, start: quietStart.input.value, end: quietEnd.input.value });
    quietStart.input.disabled = !quietOn.input.checked;
    quietEnd.input.disabled = !quietOn.input.checked;
    for (const f of [quietStart, quietEnd]) f.input.removeAttribute('aria-invalid');
    if (!r.ok) {
      setText(quietError, r.error);
      show(quietError, true);
      (r.field === 'start' ? quietStart : quietEnd).input.setAttribute('aria-invalid', 'true');
      return;
    }
    show(quietError, false);
    void actions.changePolicy({ quiet_hours: r.value });
  }

  // ---- pause ----
  const pauseState = h('p', { class: 'pause-state' });
  const pauseHour = h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { void actions.pause(PAUSES.hour); } } }, 'Pause for 1 hour');
  const pauseTomorrow = h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { void actions.pause(PAUSES.tomorrow); } } }, 'Pause until tomorrow 08:00');
  const resume = h('button', { type: 'button', class: 'btn btn-primary', on: { click: () => { void actions.pause(PAUSES.resume); } } }, 'Resume now');

  // ---- startup ----
  const autostart = checkbox('Start SmartHunt when I log in', (checked) => { void actions.setAutostart(checked); }, 'It waits in the tray and shows popups as things happen.');

  const saved = h('p', { class: 'saved', role: 'status' });
  const saveError = h('p', { class: 'inline-error', role: 'alert', hidden: true });

  const notificationControls = [popups, sound.wrap];
  // An account's own settings: shown once someone is signed in, so that a
  // first run is the sign-in form alone.
  const accountSettings = [
    section('Popups', ...notificationControls),
    section('Quiet hours', quietOn.wrap, h('div', { class: 'time-row' }, quietStart.wrap, quietEnd.wrap), quietError),
    section('Pause popups', pauseState, h('div', { class: 'btn-row' }, pauseHour, pauseTomorrow, resume)),
    section('Startup', autostart.wrap),
  ];
  const body = h('div', { class: 'settings' },
    section('Account', accountIntro, who, signInForm),
    ...accountSettings,
    saveError, saved);
  const scroller = h('div', { class: 'scroller' }, body);
  const el = h('section', { class: 'panel', id: 'panel-settings', role: 'tabpanel', 'aria-labelledby': 'tab-settings', hidden: true },
    h('h1', { class: 'visually-hidden' }, 'Settings'), h('div', { class: 'pane' }, scroller));

  /** @type {AppState|null} */
  let prev = null;

  /** Sets an input's value from the core unless the user is typing in it. @param {HTMLInputElement} input @param {string} value */
  function fill(input, value) {
    if (document.activeElement !== input && input.value !== value) input.value = value;
  }

  /** @param {AppState} s */
  function renderAccount(s) {
    const st = s.status;
    const state = st?.connection?.state;
    const account = st?.account;
    const signedIn = Boolean(account) && state !== 'signed_out' && state !== 'not_signed_in' && state !== 'keychain_unavailable' && state !== 'config_unreadable';
    show(who, signedIn);
    show(accountIntro, !signedIn);
    show(signInForm, !signedIn);
    for (const s of accountSettings) show(s, signedIn);
    if (signedIn && account) {
      setText(whoName, account.username);
      setText(whoAvatar, initials(account.username));
      const role = roleLabel(account.role);
      setText(whoRole, role ?? '');
      show(whoRole, Boolean(role));
      setText(whoServer, account.server);
      setText(accountIntro, '');
    } else {
      setText(accountIntro, state === 'signed_out'
        ? 'Your session ended. Sign in again to keep getting notifications.'
        : state === 'keychain_unavailable'
          ? 'The system keychain is not available. Unlock it, then sign in.'
          : state === 'config_unreadable'
            ? 'SmartHunt cannot read its settings file. Sign in again to start afresh.'
            : 'Sign in with your SmartHunt account.');
    }
    const set = s.settings.settings;
    if (set !== prev?.settings.settings || st?.account !== prev?.status?.account) {
      fill(server.input, set?.server ?? account?.server ?? '');
      if (!username.input.value && account?.username) fill(username.input, account.username);
      fill(caFile.input, set?.ca_file ?? '');
      if (set) insecure.input.checked = set.allow_insecure_http;
      if (set?.ca_file || set?.allow_insecure_http) advanced.open = true;
    }
    const busy = s.settings.signInBusy;
    signInButton.disabled = busy;
    setText(signInButton, busy ? 'Signing in…' : 'Sign in');
    const err = s.settings.signInError;
    show(signInError, Boolean(err));
    setText(signInError, err?.message ?? '');
    for (const [name, f] of Object.entries({ server, username, password })) {
      if (err?.field === name) f.input.setAttribute('aria-invalid', 'true');
      else f.input.removeAttribute('aria-invalid');
    }
    if (err && err !== prev?.settings.signInError && err.field) {
      const target = { server, username, password, caFile }[err.field];
      if (target) {
        if (err.field === 'caFile') advanced.open = true;
        target.input.focus();
      }
    }
    if (s.settings.signInSeq !== prev?.settings.signInSeq) password.input.value = '';
  }

  /** @param {AppState} s */
  function renderPolicy(s) {
    const set = s.settings.settings;
    const p = normalizePolicy(set?.policy);
    const disabled = !set;
    for (const k of KINDS) {
      popupBoxes[k].checked = !p.muted.includes(k);
      popupBoxes[k].disabled = disabled;
    }
    sound.input.checked = p.sound;
    sound.input.disabled = disabled;
    if (set !== prev?.settings.settings) {
      const focused = [quietOn.input, quietStart.input, quietEnd.input].includes(/** @type {HTMLInputElement} */ (document.activeElement));
      quietOn.input.checked = Boolean(p.quiet_hours);
      if (!focused || !quietStart.input.value) fill(quietStart.input, p.quiet_hours ? toClockInput(p.quiet_hours.start) : quietStart.input.value || '22:00');
      if (!focused || !quietEnd.input.value) fill(quietEnd.input, p.quiet_hours ? toClockInput(p.quiet_hours.end) : quietEnd.input.value || '07:00');
      quietStart.input.disabled = !quietOn.input.checked || disabled;
      quietEnd.input.disabled = !quietOn.input.checked || disabled;
      quietOn.input.disabled = disabled;
      autostart.input.checked = Boolean(set?.autostart);
      autostart.input.disabled = disabled;
    }
    const paused = pauseText(s.status?.paused_until_ms, s.now, timeOptions);
    setText(pauseState, paused ? `${paused}. Notifications are still saved.` : 'Popups are on.');
    pauseState.classList.toggle('is-paused', Boolean(paused));
    show(resume, Boolean(paused));
    for (const b of [pauseHour, pauseTomorrow, resume]) b.disabled = disabled && !s.status;
    show(saveError, Boolean(s.settings.saveError || s.settings.error));
    setText(saveError, (s.settings.saveError ?? s.settings.error)?.message ?? '');
    setText(saved, s.settings.saved ?? '');
  }

  /** @param {AppState} s */
  function update(s) {
    const visible = s.view === 'settings';
    show(el, visible);
    if (!prev || s.status !== prev.status || s.settings !== prev.settings || s.now !== prev.now) {
      renderAccount(s);
      renderPolicy(s);
    }
    if (visible && s.focusRequest && s.focusRequest !== prev?.focusRequest && s.focusRequest.target === 'sign-in') {
      const target = signInForm.hidden ? signOut : (server.input.value ? (username.input.value ? password.input : username.input) : server.input);
      target.focus();
      target.scrollIntoView({ block: 'center' });
    }
    prev = s;
  }

  return { el, update };
}

