/**
 * The notifications view: filters, the paged list (a feed: arrow keys
 * move between items, Enter opens), an opened item with its context and,
 * for a landlord's pending booking, Approve / Decline. Renders state only.
 */

import { h, reconcile, setText, show, timeBucket } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { isActivation, listTarget, rowHandlesKey } from '../lib/keyboard.js';
import { needsSignIn } from '../lib/status-text.js';
import {
  formatFull, formatRelative, kindLabel, normalizeKind, notificationTimeMs, notificationTitle, singleLine,
} from '../lib/format.js';
import {
  FILTER_OPTIONS, canDecideBooking, canLoadNext, canLoadPrev, chatTarget, contextFacts, emptyState, rowsMayLoad, scrollIntent, visibleRows,
} from '../lib/notification-feed.js';

/**
 * @typedef {import('../state.js').AppState} AppState
 * @typedef {import('../state.js').Decision} Decision
 * @typedef {import('../types.js').StoredNotification} StoredNotification
 * @typedef {import('../types.js').AccountInfo} AccountInfo
 * @typedef {{locale?: string, timeZone?: string}} TimeOptions
 */

/**
 * Names the core knows from chat, to put on ids in a notification's context.
 * @param {import('../types.js').Conversation[]} conversations
 * @returns {(id: number) => string|null}
 */
function knownNames(conversations) {
  return (id) => {
    const c = conversations.find((x) => x.other_id === id);
    return c && typeof c.other_name === 'string' && c.other_name.trim() ? c.other_name : null;
  };
}

/**
 * Approve / Decline buttons, or what came of them.
 * @param {StoredNotification} n @param {Decision|undefined} d
 * @param {(localId: number, approve: boolean) => void} onDecide
 */
export function decisionControls(n, d, onDecide) {
  if (d?.state === 'done') {
    return h('p', { class: `decision decision-${d.approved ? 'approved' : 'declined'}`, role: 'status' },
      icon(d.approved ? 'check' : 'cross', 'icon decision-icon'),
      d.approved ? 'Approved. The tenant will be told.' : 'Declined. The tenant will be told.');
  }
  const busy = d?.state === 'busy';
  /** @param {boolean} approve */
  const click = (approve) => (/** @type {Event} */ e) => { e.stopPropagation(); onDecide(n.local_id, approve); };
  return h('div', { class: 'decision-row' },
    h('div', { class: 'btn-row', role: 'group', 'aria-label': 'Booking request' },
      h('button', { type: 'button', class: 'btn btn-primary btn-small', disabled: busy, on: { click: click(true) } },
        icon('check', 'icon btn-icon'), busy && d?.approved ? 'Approving…' : 'Approve'),
      h('button', { type: 'button', class: 'btn btn-secondary btn-small', disabled: busy, on: { click: click(false) } },
        icon('cross', 'icon btn-icon'), busy && !d?.approved ? 'Declining…' : 'Decline')),
    d?.state === 'error' ? h('p', { class: 'inline-error', role: 'alert' }, d.message ?? 'That did not work.') : null);
}

/**
 * One row of the list. Every piece of server text goes in as a text node.
 * @param {StoredNotification} n
 * @param {{now: number, account: AccountInfo|null|undefined, decision: Decision|undefined, timeOptions?: TimeOptions, onDecide: (id: number, approve: boolean) => void}} o
 */
export function notificationRow(n, o) {
  const kind = normalizeKind(n.kind);
  const at = notificationTimeMs(n);
  const titleId = `note-${n.local_id}-title`;
  const body = singleLine(n.body, 240);
  const decide = canDecideBooking(n) || o.decision?.state === 'done';
  return h('article', {
    class: `note kind-${kind}${n.is_read ? '' : ' unread'}`,
    tabIndex: -1,
    'aria-labelledby': titleId,
    dataset: { key: String(n.local_id) },
  },
  h('span', { class: 'note-icon' }, icon(kind)),
  h('div', { class: 'note-main' },
    h('div', { class: 'note-head' },
      h('h3', { class: 'note-title', id: titleId },
        n.is_read ? null : h('span', { class: 'visually-hidden' }, 'Unread: '),
        notificationTitle(n)),
      h('time', { class: 'note-time', datetime: new Date(at).toISOString(), title: formatFull(at, o.timeOptions) },
        formatRelative(at, o.now, o.timeOptions))),
    body ? h('p', { class: 'note-body' }, body) : null,
    h('div', { class: 'note-meta' },
      h('span', { class: 'kind-tag' }, kindLabel(kind)),
      n.is_read ? null : h('span', { class: 'unread-dot', 'aria-hidden': 'true' })),
    decide ? decisionControls(n, o.decision, o.onDecide) : null));
}

/**
 * @param {{store: import('../state.js').Store<AppState>, actions: import('../actions.js').Actions, timeOptions?: TimeOptions}} deps
 */
export function createNotificationsView({ store, actions, timeOptions = {} }) {
  // ---- toolbar ----
  const kindSelect = h('select', {
    id: 'filter-kind', class: 'select',
    on: { change: () => actions.setFilter({ kind: kindSelect.value || null }) },
  }, FILTER_OPTIONS.map((o) => h('option', { value: o.value }, o.label)));
  const unreadOnly = h('input', {
    type: 'checkbox', id: 'filter-unread', class: 'switch',
    on: { change: () => actions.setFilter({ unreadOnly: unreadOnly.checked }) },
  });
  const markAll = h('button', { type: 'button', class: 'btn btn-secondary btn-small', on: { click: () => actions.markAllRead() } },
    icon('markRead', 'icon btn-icon'), 'Mark all read');
  const markAllError = h('p', { class: 'inline-error toolbar-error', role: 'alert', hidden: true });
  const toolbar = h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Filter notifications' },
    h('label', { class: 'field-inline select-wrap', htmlFor: 'filter-kind' }, h('span', { class: 'visually-hidden' }, 'Type'), kindSelect),
    h('label', { class: 'check-inline', htmlFor: 'filter-unread' }, unreadOnly, h('span', {}, 'Unread only')),
    markAll);

  const newAbove = h('button', { type: 'button', class: 'new-above', hidden: true, on: { click: () => { void actions.showNewest(); scroller.scrollTop = 0; } } },
    'New notifications — show them');

  // ---- list ----
  const feed = h('div', { class: 'feed', role: 'feed', 'aria-label': 'Notifications', 'aria-busy': 'false' });
  const footerText = h('span', {});
  const retry = h('button', { type: 'button', class: 'btn btn-secondary btn-small', hidden: true, on: { click: () => actions.retryFeed() } }, 'Try again');
  const footer = h('div', { class: 'list-footer' }, footerText, retry);
  const emptyTitle = h('h2', { class: 'empty-title' });
  const emptyBody = h('p', { class: 'empty-body' });
  const emptyAction = h('button', { type: 'button', class: 'btn btn-primary', hidden: true });
  const empty = h('div', { class: 'empty', hidden: true }, icon('bell', 'icon empty-icon'), emptyTitle, emptyBody, emptyAction);
  const scroller = h('div', { class: 'scroller feed-scroller' }, feed, footer, empty);
  const listPane = h('div', { class: 'pane' }, toolbar, markAllError, newAbove, scroller);

  // ---- opened item ----
  const detailBody = h('div', { class: 'detail-body' });
  const back = h('button', { type: 'button', class: 'btn btn-ghost btn-small back', on: { click: () => actions.closeNotification() } },
    icon('back', 'icon btn-icon'), 'All notifications');
  const detail = h('section', { class: 'pane detail', hidden: true, 'aria-labelledby': 'detail-title' },
    h('div', { class: 'detail-bar' }, back),
    h('div', { class: 'scroller' }, detailBody));

  const el = h('section', { class: 'panel', id: 'panel-notifications', role: 'tabpanel', 'aria-labelledby': 'tab-notifications' },
    h('h1', { class: 'visually-hidden' }, 'Notifications'), listPane, detail);

  /** @type {Map<string, {el: HTMLElement, sig: string}>} */
  const rows = new Map();
  /** @type {string|null} the row that takes Tab (roving tabindex) */
  let currentKey = null;
  /** @type {AppState|null} */
  let prev = null;
  emptyAction.addEventListener('click', () => { void actions.setFilter({ kind: null, unreadOnly: false }); });

  /** @returns {HTMLElement[]} */
  const rowEls = () => /** @type {HTMLElement[]} */ ([...feed.children]);

  /** @param {HTMLElement} row */
  function makeCurrent(row) {
    const key = row.dataset.key ?? null;
    if (currentKey === key) return;
    for (const r of rowEls()) r.tabIndex = r === row ? 0 : -1;
    currentKey = key;
  }

  feed.addEventListener('focusin', (e) => {
    const row = /** @type {HTMLElement|null} */ (/** @type {HTMLElement} */ (e.target).closest('.note'));
    if (row) makeCurrent(row);
  });

  feed.addEventListener('click', (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest('button, a, input, select, textarea')) return;
    const row = /** @type {HTMLElement|null} */ (target.closest('.note'));
    if (row?.dataset.key) void actions.openNotification(Number(row.dataset.key));
  });

  feed.addEventListener('keydown', (e) => {
    const target = /** @type {HTMLElement} */ (e.target);
    const row = /** @type {HTMLElement|null} */ (target.closest('.note'));
    if (!row || !rowHandlesKey({ targetIsRow: target === row, key: e.key })) return;
    if (isActivation(e.key)) {
      e.preventDefault();
      void actions.openNotification(Number(row.dataset.key));
      return;
    }
    const all = rowEls();
    const i = all.indexOf(row);
    const j = listTarget(e.key, i, all.length);
    if (j == null) return;
    e.preventDefault();
    all[j].focus();
    const { pager } = store.get().notifications;
    if (j === all.length - 1 && i === j && canLoadNext(pager)) {
      // At the end: load more, then move on.
      void actions.loadNext().then(() => requestAnimationFrame(() => {
        const again = rowEls();
        again[Math.min(again.indexOf(row) + 1, again.length - 1)]?.focus();
      }));
    } else if (j === 0 && i === 0 && canLoadPrev(pager)) {
      void actions.loadPrev();
    }
  });

  let scrollPending = false;
  scroller.addEventListener('scroll', () => {
    if (scrollPending) return;
    scrollPending = true;
    requestAnimationFrame(() => { scrollPending = false; maybeLoad(); });
  }, { passive: true });

  function maybeLoad() {
    const n = store.get().notifications;
    if (n.error || n.loading || !listPane.isConnected || listPane.hidden || el.hidden) return;
    if (!rowsMayLoad(n, prev?.notifications.pager)) return;
    const intent = scrollIntent(scroller, { canNext: canLoadNext(n.pager), canPrev: canLoadPrev(n.pager) });
    if (intent === 'next') void actions.loadNext();
    else if (intent === 'prev') void actions.loadPrev();
  }

  /** A row near the top of the viewport and its offset, to keep it still while rows change above it. */
  function anchor() {
    // No rows yet: nothing to keep still (and no layout forced to find out).
    if (rows.size === 0) return null;
    if (scroller.scrollTop < 4) return null; // at the top: let new items show
    const top = scroller.scrollTop;
    for (const r of rowEls()) {
      if (r.offsetTop + r.offsetHeight > top) return { key: r.dataset.key, offset: r.offsetTop - top };
    }
    return null;
  }

  /** @param {AppState} s */
  function renderList(s) {
    const n = s.notifications;
    const items = visibleRows(n.pager);
    const a = anchor();
    const account = s.status?.account;
    /** @param {StoredNotification} it */
    const signature = (it) => JSON.stringify([
      it.title, it.body, it.kind, it.is_read, it.created_at, it.received_at_ms,
      canDecideBooking(it), n.decisions[it.local_id] ?? null,
      formatRelative(notificationTimeMs(it), s.now, timeOptions),
    ]);
    reconcile(feed, items, {
      key: (it) => String(it.local_id),
      signature,
      build: (it) => notificationRow(it, {
        now: s.now, account, decision: n.decisions[it.local_id], timeOptions,
        onDecide: (id, approve) => { void actions.decideBooking(id, approve); },
      }),
    }, rows);
    if (a) {
      const r = rows.get(/** @type {string} */ (a.key))?.el;
      if (r) scroller.scrollTop = r.offsetTop - a.offset;
    }
    // Exactly one row is reachable with Tab.
    const all = rowEls();
    const current = (currentKey != null && rows.get(currentKey)?.el) || all[0];
    for (const r of all) r.tabIndex = r === current ? 0 : -1;
    currentKey = current?.dataset.key ?? null;
  }

  /** @param {AppState} s */
  function renderStates(s) {
    const n = s.notifications;
    const count = feed.childElementCount;
    // A feed holds articles: an empty one is left out rather than read
    // as an empty list (the empty state or the banner says why).
    show(feed, count > 0);
    feed.setAttribute('aria-busy', String(n.loading != null));
    // The core refusing for want of a session is the signed-out state, not a failure.
    const sessionError = n.error?.code === 'not_signed_in' || n.error?.code === 'signed_out' ? n.error.code : null;
    const error = sessionError ? null : n.error;
    const conn = sessionError ?? s.status?.connection?.state;
    const showEmpty = count === 0 && ((n.loaded && !n.error && !canLoadNext(n.pager)) || Boolean(sessionError));
    show(empty, showEmpty);
    if (showEmpty) {
      const e = emptyState(n.filter, conn);
      setText(emptyTitle, e.title);
      setText(emptyBody, e.body);
      show(emptyAction, Boolean(e.action));
      setText(emptyAction, 'Show all notifications');
    }
    let text = '';
    if (error) text = error.message;
    else if (n.loading === 'next' || (!n.loaded && n.loading)) text = 'Loading…';
    else if (count > 0 && !canLoadNext(n.pager)) text = 'That is everything.';
    setText(footerText, text);
    footer.dataset.state = error ? 'error' : n.loading ? 'loading' : 'idle';
    show(footer, Boolean(text));
    show(retry, Boolean(error));
    show(newAbove, n.newAbove && n.pager.start > 0);
    // Nothing to filter or mark before signing in.
    show(toolbar, !sessionError && !needsSignIn(s.status));
    markAll.disabled = n.markAllBusy || (s.status?.unread ?? 0) === 0;
    setText(/** @type {Node} */ (markAll.lastChild), n.markAllBusy ? 'Marking…' : 'Mark all read');
    show(markAllError, Boolean(n.markAllError));
    setText(markAllError, n.markAllError?.message ?? '');
    if (kindSelect.value !== (n.filter.kind ?? '')) kindSelect.value = n.filter.kind ?? '';
    unreadOnly.checked = n.filter.unreadOnly;
  }

  /** @param {AppState} s */
  function renderDetail(s) {
    const n = s.notifications;
    const it = n.opened;
    /** @type {(Node|null)[]} */
    const parts = [];
    if (!it) {
      parts.push(n.openLoading ? h('p', { class: 'muted' }, 'Opening…') : null);
    } else {
      const kind = normalizeKind(it.kind);
      const at = notificationTimeMs(it);
      const account = s.status?.account;
      const known = knownNames(s.chat.conversations);
      const facts = contextFacts(it, account, known);
      const chat = chatTarget(it, account, known);
      const decision = n.decisions[it.local_id];
      parts.push(
        h('div', { class: 'detail-kind' },
          h('span', { class: `note-icon kind-${kind}` }, icon(kind)),
          h('span', { class: 'kind-tag' }, kindLabel(kind)),
          h('time', { class: 'muted', datetime: new Date(at).toISOString() }, formatFull(at, timeOptions))),
        h('h2', { class: 'detail-title', id: 'detail-title', tabIndex: -1 }, notificationTitle(it)),
        it.body ? h('p', { class: 'detail-text' }, it.body) : null,
        facts.length ? h('dl', { class: 'facts' }, facts.map((f) => h('div', { class: 'fact' }, h('dt', {}, f.label), h('dd', {}, f.value)))) : null,
        n.openLoading ? h('p', { class: 'muted' }, 'Loading details…') : null,
        canDecideBooking(it) || decision?.state === 'done'
          ? h('div', { class: 'detail-actions' }, decisionControls(it, decision, (id, approve) => { void actions.decideBooking(id, approve); }))
          : null,
        chat ? h('div', { class: 'detail-actions' },
          h('button', { type: 'button', class: 'btn btn-secondary', on: { click: () => { void actions.openConversation(chat.otherId, chat.name); } } },
            icon('chat', 'icon btn-icon'), chat.label)) : null,
      );
    }
    if (n.openError) parts.push(h('p', { class: 'inline-error', role: 'alert' }, n.openError.message));
    detailBody.replaceChildren(...parts.filter((p) => p != null));
  }

  detail.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { e.preventDefault(); actions.closeNotification(); }
  });

  /** @param {AppState} s */
  function update(s) {
    const visible = s.view === 'notifications';
    show(el, visible);
    const n = s.notifications;
    const p = prev?.notifications;
    const firstRender = prev == null;
    const wasOpen = p?.openId ?? null;
    const detailOpen = n.openId != null;
    show(listPane, !detailOpen);
    show(detail, detailOpen);

    if (firstRender || n.pager !== p?.pager || n.decisions !== p?.decisions || timeBucket(s.now) !== timeBucket(prev?.now) || s.status?.account !== prev?.status?.account) {
      renderList(s);
    }
    renderStates(s);
    if (detailOpen && (firstRender || n.opened !== p?.opened || s.chat.conversations !== prev?.chat.conversations || n.openLoading !== p?.openLoading || n.openError !== p?.openError || n.decisions !== p?.decisions || s.status?.account !== prev?.status?.account)) {
      const hadFocus = detail.contains(document.activeElement);
      renderDetail(s);
      if (visible && (n.openId !== wasOpen || (hadFocus && !detail.contains(document.activeElement)))) {
        /** @type {HTMLElement|null} */ (detailBody.querySelector('.detail-title'))?.focus();
      }
    }
    if (!detailOpen && wasOpen != null && visible) {
      // Back in the list: focus the row that was opened.
      const r = rows.get(String(wasOpen))?.el;
      if (r) { makeCurrent(r); r.focus(); }
    }
    prev = s;
    if (visible && !detailOpen) requestAnimationFrame(maybeLoad);
  }

  return { el, update };
}
