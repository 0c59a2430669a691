/**
 * Intents: what the window asks of the core, and how the core's answers
 * and events land in the store. Every change is followed by a re-query;
 * nothing here computes what the core knows. No DOM.
 */

import { toIpcError } from './ipc.js';
import { checkDraft, appendOlder } from './lib/conversations.js';
import { asSentence, notificationTitle, unreadSentence } from './lib/format.js';
import {
  appendPage, applyRefresh, bookingIdOf, canLoadNext, canLoadPrev, emptyPager, listArgs,
  messageSenderOf, nextQuery, prependPage, prevQuery, refreshQueries, visibleRows,
} from './lib/notification-feed.js';
import { normalizeChange, signInErrorField, validateSignIn } from './lib/settings-rules.js';
import { accountKey, isSignedIn, needsSignIn } from './lib/status-text.js';

/** Messages per thread page. */
export const THREAD_PAGE = 50;
/** A refreshed thread re-reads at most this many messages. */
const THREAD_REFRESH_MAX = 500;
/** New notifications arriving within this time are announced together. */
const ANNOUNCE_BATCH_MS = 400;
/** window_opened at most this often when the window is shown again. */
const WINDOW_OPENED_MIN_INTERVAL_MS = 30_000;

/**
 * @typedef {import('./state.js').AppState} AppState
 * @typedef {import('./state.js').Store<AppState>} AppStore
 * @typedef {import('./ipc.js').Ipc} Ipc
 * @typedef {import('./types.js').StoredNotification} StoredNotification
 */

/** @param {unknown} err @returns {{code: string, message: string}} */
function shown(err) {
  const e = toIpcError(err);
  return { code: e.code, message: e.message };
}

/**
 * @param {{ipc: Ipc, store: AppStore, now?: () => number, setTimer?: (fn: () => void, ms: number) => unknown}} deps
 */
export function createActions({ ipc, store, now = () => Date.now(), setTimer = (fn, ms) => setTimeout(fn, ms) }) {
  const notif = () => store.get().notifications;
  const chat = () => store.get().chat;

  // Feed answers from before a filter change or a reset are dropped.
  let feedGen = 0;
  // One feed operation at a time, so pages are applied in order.
  /** @type {Promise<unknown>} */
  let feedQueue = Promise.resolve();
  let refreshQueued = false;
  let threadGen = 0;
  /** @type {number[]} */
  let toAnnounce = [];
  let lastWindowOpened = -Infinity;

  /** @template T @param {() => Promise<T>} fn @returns {Promise<T>} */
  function serial(fn) {
    const run = feedQueue.then(fn);
    feedQueue = run.catch(() => {});
    return run;
  }

  /** @param {string} text */
  function announce(text) {
    const a = store.get().announcement;
    store.set({ announcement: { text, seq: a.seq + 1 } });
  }

  /** @param {AppState['view']} view */
  function showView(view) {
    if (store.get().view !== view) store.set({ view });
  }

  /** The current tab chosen again: back to its list. @param {AppState['view']} view */
  function backToList(view) {
    if (view === 'notifications') closeNotification();
    else if (view === 'chat') closeConversation();
    showView(view);
  }

  /** Takes the user to the sign-in form. */
  function requestSignIn() {
    showView('settings');
    const seq = (store.get().focusRequest?.seq ?? 0) + 1;
    store.set({ focusRequest: { target: 'sign-in', seq } });
  }

  // ---- status and settings ----

  async function refreshStatus() {
    try {
      const status = await ipc.getStatus();
      applyStatus(status);
    } catch (err) {
      store.set({ statusError: shown(err) });
    }
  }

  /** @param {import('./types.js').EngineStatus} status */
  function applyStatus(status) {
    const prev = store.get().status;
    store.set({ status, statusError: null });
    if (!prev) return;
    if (accountKey(prev) !== accountKey(status) || isSignedIn(prev) !== isSignedIn(status)) {
      void reloadAll();
    } else if (prev.connection?.state !== 'connected' && status.connection?.state === 'connected') {
      // Catching up after a reconnect may have brought items.
      void refreshFeed();
      void refreshConversations();
    }
  }

  async function refreshSettings() {
    try {
      const settings = await ipc.getSettings();
      store.update('settings', { settings, error: null });
    } catch (err) {
      store.update('settings', { error: shown(err) });
    }
  }

  /** Everything again (another account, signed in or out). */
  async function reloadAll() {
    closeConversation();
    store.update('notifications', { openId: null, opened: null, decisions: {} });
    await Promise.all([refreshSettings(), resetFeed(), refreshConversations()]);
  }

  // ---- notifications ----

  /** @param {import('./lib/notification-feed.js').PageQuery} q */
  function fetchPage(q) {
    return ipc.listNotifications(listArgs(notif().filter, q));
  }

  function resetFeed() {
    feedGen += 1;
    store.update('notifications', { pager: emptyPager(), loaded: false, loading: null, error: null, newAbove: false });
    return loadNext();
  }

  /** The page below the window (scrolling down). */
  function loadNext() {
    return serial(async () => {
      const gen = feedGen;
      const { pager, error } = notif();
      if (!canLoadNext(pager) || (error && pager.pages.length > 0)) return;
      store.update('notifications', { loading: 'next' });
      try {
        const items = await fetchPage(nextQuery(pager));
        if (gen !== feedGen) return;
        store.update('notifications', { pager: appendPage(notif().pager, items).pager, loaded: true, loading: null, error: null });
      } catch (err) {
        if (gen === feedGen) store.update('notifications', { loading: null, error: shown(err) });
      }
    });
  }

  /** The page above the window (scrolling back up). */
  function loadPrev() {
    return serial(async () => {
      const gen = feedGen;
      const { pager } = notif();
      if (!canLoadPrev(pager)) return;
      store.update('notifications', { loading: 'prev' });
      try {
        const items = await fetchPage(prevQuery(pager));
        if (gen !== feedGen) return;
        const next = prependPage(notif().pager, items);
        store.update('notifications', { pager: next, loading: null, error: null, newAbove: next.start === 0 ? false : notif().newAbove });
      } catch (err) {
        if (gen === feedGen) store.update('notifications', { loading: null, error: shown(err) });
      }
    });
  }

  /** Re-reads the rendered window (after any change in the core). Calls made while one waits are folded into it. */
  function refreshFeed() {
    if (refreshQueued) return feedQueue;
    refreshQueued = true;
    return serial(async () => {
      refreshQueued = false;
      const gen = feedGen;
      const { pager } = notif();
      try {
        const answers = await Promise.all(refreshQueries(pager).map((q) => fetchPage(q)));
        if (gen !== feedGen) return;
        store.update('notifications', { pager: applyRefresh(notif().pager, answers), loaded: true, error: null });
      } catch (err) {
        if (gen === feedGen) store.update('notifications', { error: shown(err) });
      }
    });
  }

  /** After an error: clear it and try again. */
  function retryFeed() {
    store.update('notifications', { error: null });
    return notif().pager.pages.length ? refreshFeed().then(() => loadNext()) : loadNext();
  }

  /** @param {Partial<import('./lib/notification-feed.js').Filter>} patch */
  function setFilter(patch) {
    store.update('notifications', { filter: { ...notif().filter, ...patch } });
    return resetFeed();
  }

  /** Back to the newest items (the "new notifications" button). */
  function showNewest() {
    return resetFeed();
  }

  /**
   * Opens an item: the core marks it read and returns it with its context.
   * A message notification opens its conversation instead.
   * @param {number} localId
   */
  async function openNotification(localId) {
    const known = visibleRows(notif().pager).find((n) => n.local_id === localId) ?? null;
    showView('notifications');
    store.update('notifications', { openId: localId, opened: known, openLoading: true, openError: null });
    try {
      const n = await ipc.openNotification(localId);
      if (notif().openId !== localId) return;
      const sender = messageSenderOf(n);
      if (sender) {
        store.update('notifications', { openId: null, opened: null, openLoading: false });
        void openConversation(sender.otherId, sender.name);
      } else {
        store.update('notifications', { opened: n, openLoading: false });
      }
    } catch (err) {
      if (notif().openId === localId) store.update('notifications', { openLoading: false, openError: shown(err) });
    }
    void refreshFeed();
  }

  function closeNotification() {
    store.update('notifications', { openId: null, opened: null, openLoading: false, openError: null });
  }

  /** @param {number} localId @param {import('./state.js').Decision} d */
  function setDecision(localId, d) {
    store.update('notifications', { decisions: { ...notif().decisions, [localId]: d } });
  }

  /** @param {number} localId @param {boolean} approve */
  async function decideBooking(localId, approve) {
    const current = notif().decisions[localId];
    if (current?.state === 'busy' || current?.state === 'done') return;
    setDecision(localId, { state: 'busy', approved: approve });
    try {
      await ipc.decideBooking(localId, approve);
      setDecision(localId, { state: 'done', approved: approve });
      announce(approve ? 'Booking request approved.' : 'Booking request declined.');
    } catch (err) {
      const e = shown(err);
      setDecision(localId, { state: 'error', approved: approve, message: e.message });
      announce(`Could not ${approve ? 'approve' : 'decline'} the booking: ${e.message}`);
    }
    void refreshFeed();
  }

  async function markAllRead() {
    if (notif().markAllBusy) return;
    store.update('notifications', { markAllBusy: true, markAllError: null });
    try {
      await ipc.markAllRead();
      store.update('notifications', { markAllBusy: false });
      announce('All notifications marked as read.');
    } catch (err) {
      store.update('notifications', { markAllBusy: false, markAllError: shown(err) });
    }
    await refreshFeed();
  }

  /** Offline: the core tries now; the status that follows says how it went. */
  async function retryNow() {
    try {
      await ipc.retryNow();
      announce('Connecting…');
    } catch (err) {
      store.set({ statusError: shown(err) });
    }
  }

  /** @param {number} localId */
  function noteAdded(localId) {
    if (notif().pager.start > 0) store.update('notifications', { newAbove: true });
    toAnnounce.push(localId);
    if (toAnnounce.length === 1) setTimer(() => { void flushAnnouncements(); }, ANNOUNCE_BATCH_MS);
  }

  async function flushAnnouncements() {
    const ids = toAnnounce;
    toAnnounce = [];
    if (ids.length === 0) return;
    // The count a sighted user reads on the badge is said with the news.
    const withCount = (/** @type {string} */ news) => `${news}${unreadSentence(store.get().status?.unread)}`;
    if (ids.length > 1) { announce(withCount(`${ids.length} new notifications.`)); return; }
    try {
      // The item itself: the page just below local_id + 1.
      const [n] = await ipc.listNotifications({ kind: null, unreadOnly: false, before: ids[0] + 1, limit: 1 });
      announce(withCount(n && n.local_id === ids[0] ? `New notification: ${asSentence(notificationTitle(n))}` : 'New notification.'));
    } catch {
      announce(withCount('New notification.'));
    }
  }

  // ---- chat ----

  async function refreshConversations() {
    try {
      const conversations = await ipc.listConversations();
      store.update('chat', { conversations, loaded: true, error: null });
    } catch (err) {
      store.update('chat', { loaded: true, error: shown(err) });
    }
  }

  /**
   * @param {number} otherId @param {string|null} [nameHint]
   */
  async function openConversation(otherId, nameHint = null) {
    threadGen += 1;
    const gen = threadGen;
    showView('chat');
    store.update('chat', {
      otherId, nameHint, thread: [], threadLoading: true, threadExhausted: false, threadError: null, sendError: null,
    });
    try {
      const thread = await ipc.getThread(otherId, null, THREAD_PAGE);
      if (gen !== threadGen) return;
      store.update('chat', { thread, threadLoading: false, threadExhausted: thread.length < THREAD_PAGE });
    } catch (err) {
      if (gen === threadGen) store.update('chat', { threadLoading: false, threadError: shown(err) });
    }
    void refreshConversations();
  }

  function closeConversation() {
    threadGen += 1;
    if (chat().otherId == null) return;
    store.update('chat', { otherId: null, nameHint: null, thread: [], threadLoading: false, threadError: null, sendError: null });
  }

  /** Re-reads the open thread (new or sent messages). */
  async function refreshThread() {
    const { otherId, thread } = chat();
    if (otherId == null) return;
    const gen = threadGen;
    const limit = Math.min(Math.max(thread.length, THREAD_PAGE), THREAD_REFRESH_MAX);
    try {
      const fresh = await ipc.getThread(otherId, null, limit);
      if (gen !== threadGen) return;
      store.update('chat', { thread: fresh, threadError: null, threadExhausted: fresh.length < limit ? true : chat().threadExhausted });
    } catch (err) {
      if (gen === threadGen) store.update('chat', { threadError: shown(err) });
    }
  }

  /** Older messages of the open thread. */
  async function loadOlderMessages() {
    const { otherId, thread, threadLoading, threadExhausted } = chat();
    if (otherId == null || threadLoading || threadExhausted || thread.length === 0) return;
    const gen = threadGen;
    store.update('chat', { threadLoading: true });
    try {
      const older = await ipc.getThread(otherId, thread[thread.length - 1].local_id, THREAD_PAGE);
      if (gen !== threadGen) return;
      store.update('chat', { thread: appendOlder(chat().thread, older), threadLoading: false, threadExhausted: older.length < THREAD_PAGE });
    } catch (err) {
      if (gen === threadGen) store.update('chat', { threadLoading: false, threadError: shown(err) });
    }
  }

  /** @param {string} draft */
  async function sendMessage(draft) {
    const { otherId, sending } = chat();
    if (otherId == null || sending) return false;
    const checked = checkDraft(draft);
    if (!checked.ok) {
      store.update('chat', { sendError: { code: 'bad_input', message: checked.error } });
      return false;
    }
    store.update('chat', { sending: true, sendError: null });
    try {
      await ipc.sendMessage(otherId, checked.content);
      store.update('chat', { sending: false, sentSeq: chat().sentSeq + 1 });
      await Promise.all([refreshThread(), refreshConversations()]);
      return true;
    } catch (err) {
      store.update('chat', { sending: false, sendError: shown(err) });
      return false;
    }
  }

  // ---- settings ----

  /**
   * @param {{server: string, username: string, password: string, staySignedIn: boolean, caFile: string, allowInsecureHttp: boolean}} form
   */
  async function signIn(form) {
    if (store.get().settings.signInBusy) return false;
    const checked = validateSignIn(form);
    if (!checked.ok) {
      store.update('settings', { signInError: { code: 'bad_input', message: checked.error, field: checked.field } });
      return false;
    }
    store.update('settings', { signInBusy: true, signInError: null });
    try {
      const who = await ipc.signIn(checked.args);
      store.update('settings', { signInBusy: false, signInSeq: store.get().settings.signInSeq + 1 });
      announce(`Signed in as ${who?.username ?? checked.args.username}.`);
      // Then their notifications.
      showView('notifications');
      await refreshStatus();
      await reloadAll();
      return true;
    } catch (err) {
      const e = shown(err);
      store.update('settings', { signInBusy: false, signInError: { ...e, field: signInErrorField(e.code) } });
      return false;
    }
  }

  async function signOut() {
    try {
      await ipc.signOut();
      announce('Signed out.');
    } catch (err) {
      store.update('settings', { saveError: shown(err) });
    }
    await refreshStatus();
    await reloadAll();
  }

  /**
   * Runs a settings change, then re-reads settings (so the form shows
   * what the core kept, also after a failure).
   * @param {() => Promise<unknown>} change @param {string} done
   */
  async function changeSetting(change, done) {
    store.update('settings', { saved: null, saveError: null });
    try {
      await change();
      store.update('settings', { saved: done });
    } catch (err) {
      store.update('settings', { saveError: shown(err) });
    }
    await Promise.all([refreshSettings(), refreshStatus()]);
  }

  /** Only what changed goes to the core. @param {import('./types.js').PolicyChange} change */
  function changePolicy(change) {
    return changeSetting(() => ipc.changePolicy(normalizeChange(change)), 'Saved.');
  }

  /** @param {boolean} enabled */
  function setAutostart(enabled) {
    return changeSetting(() => ipc.setAutostart(enabled), enabled ? 'SmartHunt will start when you log in.' : 'SmartHunt will not start by itself.');
  }

  /** @param {import('./types.js').PauseFor} pause */
  function pause(pause) {
    return changeSetting(() => ipc.pause(pause), pause.for === 'resume' ? 'Popups are back on.' : 'Popups paused.');
  }

  // ---- events from the shell ----

  /** @param {import('./types.js').EngineEvent} e */
  function onEngineEvent(e) {
    switch (e?.kind) {
      case 'notification_added':
        if (typeof e.local_id === 'number') noteAdded(e.local_id);
        void refreshFeed();
        break;
      case 'notifications_changed':
        void refreshFeed();
        break;
      case 'chat_changed':
        void refreshConversations();
        void refreshThread();
        break;
      case 'booking_decided': {
        if (typeof e.booking_id === 'number') {
          const items = [...visibleRows(notif().pager), ...(notif().opened ? [/** @type {StoredNotification} */ (notif().opened)] : [])];
          for (const n of items) {
            if (bookingIdOf(n) === e.booking_id && notif().decisions[n.local_id]?.state !== 'done') {
              setDecision(n.local_id, { state: 'done', approved: Boolean(e.approved) });
            }
          }
        }
        void refreshFeed();
        break;
      }
      default:
        break;
    }
  }

  /** @param {import('./types.js').OpenItem} item */
  function onOpenItem(item) {
    if (item?.view === 'chat') {
      if (typeof item.otherId === 'number') {
        void openConversation(item.otherId);
        // A popup's Reply: the composer gets the focus.
        if (item.compose) store.update('chat', { composeSeq: chat().composeSeq + 1 });
      } else showView('chat');
    } else if (item?.view === 'notifications') {
      if (typeof item.localId === 'number') void openNotification(item.localId);
      else showView('notifications');
    } else if (item?.view === 'settings') {
      showView('settings');
    }
  }

  /** The window became visible: the core reconciles with the server. */
  async function windowShown() {
    const t = now();
    if (t - lastWindowOpened < WINDOW_OPENED_MIN_INTERVAL_MS) return;
    lastWindowOpened = t;
    try {
      // A window built for a popup's click says what to show.
      const item = await ipc.windowOpened();
      if (item) onOpenItem(item);
    } catch { /* the status shows why the core cannot reach the server */ }
  }

  /** Listens to the shell, then loads everything. */
  /**
   * Listens to the shell, then loads everything. `signInFirst`: nobody
   * asked for a view, so someone who must sign in sees the sign-in form
   * first.
   * @param {{signInFirst?: boolean}} [opts]
   */
  async function start({ signInFirst = false } = {}) {
    await Promise.all([
      ipc.on('status', (p) => applyStatus(p)),
      ipc.on('engine-event', (p) => onEngineEvent(p)),
      ipc.on('open-item', (p) => onOpenItem(p)),
    ]);
    await refreshStatus();
    if (signInFirst && needsSignIn(store.get().status)) requestSignIn();
    await Promise.all([refreshSettings(), loadNext(), refreshConversations(), windowShown()]);
  }

  return {
    start, announce, showView, backToList, requestSignIn, windowShown,
    refreshStatus, refreshSettings,
    loadNext, loadPrev, refreshFeed, retryFeed, setFilter, showNewest,
    openNotification, closeNotification, decideBooking, markAllRead, retryNow,
    refreshConversations, openConversation, closeConversation, refreshThread, loadOlderMessages, sendMessage,
    signIn, signOut, changePolicy, setAutostart, pause,
    onEngineEvent, onOpenItem, applyStatus,
  };
}

/** @typedef {ReturnType<typeof createActions>} Actions */

