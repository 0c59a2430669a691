/**
 * The chat view: conversations (one per person), a thread, and a
 * composer. Pending messages are marked as such; incoming ones appear as
 * the core reports them. Renders state only.
 */

import { h, reconcile, setText, show, timeBucket } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { listTarget } from '../lib/keyboard.js';
import { composerKeyAction, conversationRows, nameOf, threadRows } from '../lib/conversations.js';
import { formatRelative, initials } from '../lib/format.js';

/**
 * @typedef {import('../state.js').AppState} AppState
 * @typedef {import('../lib/conversations.js').ConversationRow} ConversationRow
 * @typedef {{locale?: string, timeZone?: string}} TimeOptions
 */

/** Composer height grows with its lines up to this many. */
const COMPOSER_MAX_ROWS = 5;

/** @param {string} name */
function avatar(name) {
  return h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(name));
}

/**
 * One conversation in the list.
 * @param {ConversationRow} c @param {number} now @param {(id: number, name: string) => void} onOpen @param {TimeOptions} [timeOptions]
 */
export function conversationItem(c, now, onOpen, timeOptions = {}) {
  const button = h('button', {
    type: 'button', class: `conv${c.unread ? ' unread' : ''}`, tabIndex: -1,
    dataset: { key: String(c.otherId) },
    on: { click: () => onOpen(c.otherId, c.name) },
  },
  avatar(c.name),
  h('span', { class: 'conv-main' },
    h('span', { class: 'conv-head' },
      h('span', { class: 'conv-name' }, c.name),
      h('span', { class: 'conv-time' }, c.atMs ? formatRelative(c.atMs, now, timeOptions) : '')),
    h('span', { class: 'conv-preview' }, c.preview)),
  c.unread ? h('span', { class: 'badge' }, h('span', { class: 'visually-hidden' }, 'Unread: '), String(c.unread)) : null);
  return h('li', { class: 'conv-item', dataset: { key: String(c.otherId) } }, button);
}

/**
 * @param {{store: import('../state.js').Store<AppState>, actions: import('../actions.js').Actions, timeOptions?: TimeOptions}} deps
 */
export function createChatView({ store, actions, timeOptions = {} }) {
  // ---- conversation list ----
  const list = h('ul', { class: 'conv-list', 'aria-label': 'Conversations' });
  const listError = h('p', { class: 'inline-error', role: 'alert', hidden: true });
  const emptyBody = h('p', { class: 'empty-body' });
  const empty = h('div', { class: 'empty', hidden: true },
    icon('chat', 'icon empty-icon'),
    h('h2', { class: 'empty-title' }, 'No conversations yet'),
    emptyBody);
  const listPane = h('div', { class: 'pane' }, h('div', { class: 'scroller' }, listError, list, empty));

  // ---- thread ----
  const threadName = h('h2', { class: 'thread-name', id: 'thread-name', tabIndex: -1 });
  const threadAvatar = h('span', { class: 'avatar', 'aria-hidden': 'true' });
  const back = h('button', {
    type: 'button', class: 'btn btn-ghost btn-icon-only', 'aria-label': 'Back to conversations',
    on: { click: () => actions.closeConversation() },
  }, icon('back'));
  const older = h('button', { type: 'button', class: 'btn btn-ghost btn-small older', hidden: true, on: { click: () => { void loadOlder(); } } }, 'Show older messages');
  // A list of messages inside a live log (a role on the list itself would
  // take its list semantics away); the scroller takes the keyboard's focus,
  // so the arrow keys and Page Up/Down scroll the thread.
  const messages = h('ol', { class: 'messages' });
  const log = h('div', { role: 'log', 'aria-live': 'polite', 'aria-relevant': 'additions', 'aria-labelledby': 'thread-name' }, messages);
  const threadStatus = h('p', { class: 'muted thread-status', hidden: true });
  const threadScroller = h('div', { class: 'scroller thread-scroller', role: 'region', tabIndex: 0, 'aria-labelledby': 'thread-name' }, older, threadStatus, log);
  const composer = h('textarea', {
    id: 'composer', class: 'composer-input', rows: 1, placeholder: 'Write a message…', autocomplete: 'off', spellcheck: true,
  });
  const composerLabel = h('label', { class: 'visually-hidden', htmlFor: 'composer' });
  const send = h('button', { type: 'submit', class: 'btn btn-primary btn-icon-only send', 'aria-label': 'Send' }, icon('send'));
  const sendError = h('p', { class: 'inline-error composer-error', role: 'alert', hidden: true });
  const form = h('form', { class: 'composer', on: { submit: (e) => { e.preventDefault(); void submit(); } } },
    composerLabel, composer, send);
  const threadPane = h('section', { class: 'pane thread', hidden: true, 'aria-labelledby': 'thread-name' },
    h('div', { class: 'thread-bar' }, back, threadAvatar, threadName),
    threadScroller, sendError, form);

  const el = h('section', { class: 'panel', id: 'panel-chat', role: 'tabpanel', 'aria-labelledby': 'tab-chat', hidden: true },
    h('h1', { class: 'visually-hidden' }, 'Chat'), listPane, threadPane);

  /** @type {Map<string, {el: HTMLElement, sig: string}>} */
  const convCache = new Map();
  /** @type {Map<string, {el: HTMLElement, sig: string}>} */
  const msgCache = new Map();
  /** @type {AppState|null} */
  let prev = null;
  let currentKey = /** @type {string|null} */ (null);
  let lastOpenedKey = /** @type {string|null} */ (null);

  async function submit() {
    const ok = await actions.sendMessage(composer.value);
    if (ok) composer.focus();
  }

  function fitComposer() {
    const lines = composer.value.split('\n').length;
    composer.rows = Math.min(Math.max(lines, 1), COMPOSER_MAX_ROWS);
  }

  composer.addEventListener('input', fitComposer);
  composer.addEventListener('keydown', (e) => {
    if (composerKeyAction(e) === 'send') { e.preventDefault(); void submit(); }
  });

  async function loadOlder() {
    const before = threadScroller.scrollHeight - threadScroller.scrollTop;
    await actions.loadOlderMessages();
    requestAnimationFrame(() => { threadScroller.scrollTop = threadScroller.scrollHeight - before; });
  }

  threadScroller.addEventListener('scroll', () => {
    const c = store.get().chat;
    if (threadScroller.scrollTop < 80 && !c.threadLoading && !c.threadExhausted && c.thread.length > 0) void loadOlder();
  }, { passive: true });

  /** @returns {HTMLButtonElement[]} */
  const convButtons = () => /** @type {HTMLButtonElement[]} */ ([...list.querySelectorAll('.conv')]);

  list.addEventListener('keydown', (e) => {
    const all = convButtons();
    const i = all.indexOf(/** @type {HTMLButtonElement} */ (document.activeElement));
    if (i < 0) return;
    const j = listTarget(e.key, i, all.length);
    if (j == null) return;
    e.preventDefault();
    all[j].focus();
  });
  list.addEventListener('focusin', (e) => {
    const b = /** @type {HTMLElement} */ (e.target).closest('.conv');
    if (!(b instanceof HTMLElement)) return;
    currentKey = b.dataset.key ?? null;
    for (const x of convButtons()) x.tabIndex = x === b ? 0 : -1;
  });
  threadPane.addEventListener('keydown', (e) => {
    if (e.key === 'Escape' && e.target !== composer) { e.preventDefault(); actions.closeConversation(); }
  });

  /** @param {AppState} s */
  function renderList(s) {
    const rows = conversationRows(s.chat.conversations);
    reconcile(list, rows, {
      key: (c) => String(c.otherId),
      signature: (c) => JSON.stringify([c.name, c.preview, c.unread, c.atMs ? formatRelative(c.atMs, s.now, timeOptions) : '']),
      build: (c) => conversationItem(c, s.now, (id, name) => { void actions.openConversation(id, name); }, timeOptions),
    }, convCache);
    const buttons = convButtons();
    const current = buttons.find((b) => b.dataset.key === currentKey) ?? buttons[0];
    for (const b of buttons) b.tabIndex = b === current ? 0 : -1;
    const signedOut = s.chat.error?.code === 'not_signed_in' || s.chat.error?.code === 'signed_out';
    show(empty, s.chat.loaded && rows.length === 0 && (!s.chat.error || signedOut));
    setText(emptyBody, signedOut
      ? 'Your conversations will appear here once you are signed in.'
      : 'Messages between you and your tenants or landlords will appear here.');
    show(listError, Boolean(s.chat.error) && !signedOut);
    setText(listError, s.chat.error?.message ?? '');
  }

  /** @param {AppState} s */
  function renderThread(s) {
    const c = s.chat;
    if (c.otherId == null) return;
    const name = nameOf(c.otherId, c.conversations, c.nameHint);
    setText(threadName, name);
    setText(threadAvatar, initials(name));
    setText(composerLabel, `Message to ${name}`);
    const nearBottom = threadScroller.scrollHeight - threadScroller.scrollTop - threadScroller.clientHeight < 80;
    const rows = threadRows(c.thread, { meId: s.status?.account?.user_id, otherId: c.otherId, now: s.now, ...timeOptions });
    const lastBefore = messages.lastElementChild;
    reconcile(messages, rows, {
      key: (r) => r.key,
      signature: (r) => r.type === 'day' ? r.label : JSON.stringify([r.mine, r.content, r.pending, r.time, r.startsGroup]),
      build: (r) => r.type === 'day'
        ? h('li', { class: 'day' }, h('span', {}, r.label))
        : h('li', { class: `msg ${r.mine ? 'mine' : 'theirs'}${r.pending ? ' pending' : ''}${r.startsGroup ? ' group-start' : ''}` },
          h('span', { class: 'visually-hidden' }, r.mine ? 'You: ' : `${name}: `),
          h('p', { class: 'bubble' }, r.content),
          h('span', { class: 'msg-meta' },
            r.pending ? icon('clock', 'icon meta-icon') : null,
            r.pending ? 'Sending… ' : null,
            h('time', { datetime: new Date(r.atMs).toISOString() }, r.time))),
    }, msgCache);
    const grew = messages.lastElementChild !== lastBefore;
    if (grew && (nearBottom || lastOpenedKey !== String(c.otherId) || c.sentSeq !== prev?.chat.sentSeq)) {
      threadScroller.scrollTop = threadScroller.scrollHeight;
    }
    lastOpenedKey = String(c.otherId);
    show(older, !c.threadExhausted && c.thread.length > 0 && !c.threadLoading);
    const status = c.threadError?.message ?? (c.threadLoading && c.thread.length === 0 ? 'Loading messages…'
      : c.thread.length === 0 && !c.threadLoading ? `No messages with ${name} yet. Say hello!` : '');
    setText(threadStatus, status);
    show(threadStatus, Boolean(status));
    threadStatus.classList.toggle('inline-error', Boolean(c.threadError));
    send.disabled = c.sending;
    show(sendError, Boolean(c.sendError));
    setText(sendError, c.sendError?.message ?? '');
  }

  /** @param {AppState} s */
  function update(s) {
    const visible = s.view === 'chat';
    show(el, visible);
    const c = s.chat;
    const p = prev?.chat;
    const open = c.otherId != null;
    show(listPane, !open);
    show(threadPane, open);
    const newMinute = timeBucket(s.now) !== timeBucket(prev?.now);
    if (!prev || c.conversations !== p?.conversations || c.error !== p?.error || c.loaded !== p?.loaded || newMinute) renderList(s);
    if (open && c.otherId !== p?.otherId) {
      // Another conversation: start empty, with an empty draft.
      messages.replaceChildren();
      msgCache.clear();
      composer.value = '';
      fitComposer();
      lastOpenedKey = null;
    }
    if (open && (!prev || c !== p || newMinute || s.status?.account !== prev.status?.account)) renderThread(s);
    if (open && c.sentSeq !== p?.sentSeq && p) { composer.value = ''; fitComposer(); }
    if (visible && open && (c.otherId !== p?.otherId || c.composeSeq !== p?.composeSeq)) composer.focus();
    if (visible && !open && p?.otherId != null) {
      const b = convButtons().find((x) => x.dataset.key === String(p.otherId));
      b?.focus();
    }
    prev = s;
  }

  return { el, update };
}
