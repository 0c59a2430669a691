/**
 * The window's tiny store. It holds the core's last answers and what the
 * window shows (view, filter, open item, form feedback); it is never the
 * source of truth: actions re-query the core after every event.
 */

import { emptyPager } from './lib/notification-feed.js';

/**
 * @typedef {import('./types.js').EngineStatus} EngineStatus
 * @typedef {import('./types.js').Settings} Settings
 * @typedef {import('./types.js').StoredNotification} StoredNotification
 * @typedef {import('./types.js').Conversation} Conversation
 * @typedef {import('./types.js').StoredChatMessage} ChatMessage
 * @typedef {{code: string, message: string}} ShownError
 * @typedef {{state: 'busy'|'done'|'error', approved: boolean, message?: string}} Decision
 *
 * @typedef {object} NotificationsState
 * @property {import('./lib/notification-feed.js').Filter} filter
 * @property {import('./lib/notification-feed.js').Pager} pager
 * @property {boolean} loaded the first page has been answered
 * @property {'next'|'prev'|'refresh'|null} loading
 * @property {ShownError|null} error
 * @property {boolean} newAbove new items arrived above a window scrolled away from the top
 * @property {number|null} openId
 * @property {StoredNotification|null} opened
 * @property {boolean} openLoading
 * @property {ShownError|null} openError
 * @property {Record<string, Decision>} decisions by local id
 * @property {boolean} markAllBusy
 * @property {ShownError|null} markAllError
 *
 * @typedef {object} ChatState
 * @property {Conversation[]} conversations
 * @property {boolean} loaded
 * @property {ShownError|null} error
 * @property {number|null} otherId the open conversation
 * @property {string|null} nameHint a name for it from elsewhere (a notification)
 * @property {ChatMessage[]} thread newest first
 * @property {boolean} threadLoading
 * @property {boolean} threadExhausted
 * @property {ShownError|null} threadError
 * @property {boolean} sending
 * @property {ShownError|null} sendError
 * @property {number} sentSeq bumps after each successful send (the view clears its draft)
 * @property {number} composeSeq bumps when a popup's Reply asks for the composer (the view focuses it)
 *
 * @typedef {object} SettingsState
 * @property {Settings|null} settings
 * @property {ShownError|null} error
 * @property {boolean} signInBusy
 * @property {ShownError & {field?: string|null} | null} signInError
 * @property {number} signInSeq bumps after each successful sign-in (the view clears the password)
 * @property {string|null} saved a short confirmation ("Saved")
 * @property {ShownError|null} saveError
 *
 * @typedef {object} AppState
 * @property {'notifications'|'chat'|'settings'} view
 * @property {EngineStatus|null} status
 * @property {ShownError|null} statusError
 * @property {number} now for countdowns and relative times
 * @property {NotificationsState} notifications
 * @property {ChatState} chat
 * @property {SettingsState} settings
 * @property {{text: string, seq: number}} announcement for the aria-live region
 * @property {{target: string, seq: number}|null} focusRequest a view should move focus (e.g. to the sign-in form)
 */

/** @param {number} now @returns {AppState} */
export function initialState(now = Date.now()) {
  return {
    view: 'notifications',
    status: null,
    statusError: null,
    now,
    notifications: {
      filter: { kind: null, unreadOnly: false },
      pager: emptyPager(),
      loaded: false,
      loading: null,
      error: null,
      newAbove: false,
      openId: null,
      opened: null,
      openLoading: false,
      openError: null,
      decisions: {},
      markAllBusy: false,
      markAllError: null,
    },
    chat: {
      conversations: [],
      loaded: false,
      error: null,
      otherId: null,
      nameHint: null,
      thread: [],
      threadLoading: false,
      threadExhausted: false,
      threadError: null,
      sending: false,
      sendError: null,
      sentSeq: 0,
      composeSeq: 0,
    },
    settings: {
      settings: null,
      error: null,
      signInBusy: false,
      signInError: null,
      signInSeq: 0,
      saved: null,
      saveError: null,
    },
    announcement: { text: '', seq: 0 },
    focusRequest: null,
  };
}

/**
 * Whether the window's first screen has what it shows: the core's status
 * (or why it cannot be had) and, on the list, its first page (or why
 * not). Drawn before, the window lays out and paints a frame of empty
 * views that is replaced at once.
 * @param {AppState} s
 */
export function firstScreenReady(s) {
  if (s.status == null && s.statusError == null) return false;
  if (s.view !== 'notifications') return true;
  return s.notifications.loaded || s.notifications.error != null;
}

/**
 * @template S
 * @typedef {object} Store
 * @property {() => S} get
 * @property {(patch: Partial<S> | ((s: S) => Partial<S>)) => void} set shallow merge at the top level
 * @property {<K extends keyof S>(key: K, patch: Partial<S[K]>) => void} update shallow merge inside one slice
 * @property {(fn: (s: S, prev: S) => void) => () => void} subscribe
 */

/**
 * A store: state is replaced, never mutated, so views compare slices by
 * reference to know what changed.
 * @template {object} S
 * @param {S} initial
 * @returns {Store<S>}
 */
export function createStore(initial) {
  let state = initial;
  /** @type {Set<(s: S, prev: S) => void>} */
  const subscribers = new Set();
  /** @param {S} next */
  function commit(next) {
    const prev = state;
    state = next;
    for (const fn of [...subscribers]) fn(state, prev);
  }
  return {
    get: () => state,
    set(patch) {
      const p = typeof patch === 'function' ? patch(state) : patch;
      commit({ ...state, ...p });
    },
    update(key, patch) {
      commit({ ...state, [key]: { ...state[key], ...patch } });
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => { subscribers.delete(fn); };
    },
  };
}
