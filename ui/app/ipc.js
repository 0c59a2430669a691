/**
 * The only module that talks to the Tauri shell: one function per
 * command, `on` for events, and every rejection turned into an IpcError
 * with a `code` to branch on and a `message` to show. It holds no state.
 */

/**
 * @typedef {import('./types.js').EngineStatus} EngineStatus
 * @typedef {import('./types.js').StoredNotification} StoredNotification
 * @typedef {import('./types.js').Conversation} Conversation
 * @typedef {import('./types.js').StoredChatMessage} ChatMessage
 * @typedef {import('./types.js').Settings} Settings
 * @typedef {import('./types.js').PolicySettings} PopupPolicy
 * @typedef {import('./types.js').SignInArgs} SignInArgs
 * @typedef {import('./contract.js').Command} Command
 * @typedef {import('./contract.js').EventName} EventName
 * @typedef {import('./contract.js').ErrorCode} ErrorCode
 * @typedef {{core?: {invoke?: (cmd: string, args?: object) => Promise<unknown>}, event?: {listen?: (event: string, cb: (e: {payload: unknown}) => void) => Promise<() => void>}}} TauriGlobal
 */

/**
 * What `call` takes after a command's name: nothing when its Rust
 * arguments are empty, else them.
 * @template {import('./types.js').Call['cmd']} C
 * @typedef {Extract<import('./types.js').Call, {cmd: C}>['args'] extends Record<string, never> ? [] : [Extract<import('./types.js').Call, {cmd: C}>['args']]} ArgsOf
 */

/** Error codes the shell sends (written from its Rust types); anything else is kept as it came. */
export { ERROR_CODES } from './contract.js';

/** @type {Record<ErrorCode, string>} */
const FALLBACK_MESSAGES = {
  not_signed_in: 'You are not signed in.',
  signed_out: 'Your session has ended. Please sign in again.',
  invalid_credentials: 'The username or password is not right.',
  unreachable: 'The server cannot be reached. Check your connection and the server address.',
  keychain: 'The system keychain is locked or not available.',
  bad_input: 'Some of the input is not valid.',
  server: 'The server had a problem. Please try again later.',
  internal: 'Something went wrong inside SmartHunt.',
};

/** A command's failure: `code` to branch on, `message` to show. */
export class IpcError extends Error {
  /** @param {string} code @param {string} message @param {unknown} [cause] */
  constructor(code, message, cause) {
    super(message);
    this.name = 'IpcError';
    this.code = code;
    if (cause !== undefined) this.cause = cause;
  }
}

/**
 * Maps whatever a rejected invoke carried to an IpcError: the shell's
 * `{code, message}`, Tauri's own string errors ("command not found"),
 * exceptions, or nothing at all.
 * @param {unknown} err
 * @returns {IpcError}
 */
export function toIpcError(err) {
  if (err instanceof IpcError) return err;
  if (err && typeof err === 'object' && !(err instanceof Error)) {
    const e = /** @type {{code?: unknown, message?: unknown}} */ (err);
    const code = typeof e.code === 'string' && e.code.trim() ? e.code.trim() : 'internal';
    const message = typeof e.message === 'string' && e.message.trim() ? e.message.trim() : FALLBACK_MESSAGES[/** @type {ErrorCode} */ (code)] ?? FALLBACK_MESSAGES.internal;
    return new IpcError(code, message, err);
  }
  if (typeof err === 'string' && err.trim()) return new IpcError('internal', err.trim(), err);
  if (err instanceof Error && err.message) return new IpcError('internal', err.message, err);
  return new IpcError('internal', FALLBACK_MESSAGES.internal, err);
}

/** True for errors that mean "sign in (again)". @param {unknown} err */
export function isSessionError(err) {
  return err instanceof IpcError && (err.code === 'not_signed_in' || err.code === 'signed_out');
}

/**
 * The client. `getTauri` finds `window.__TAURI__` (the app enables
 * withGlobalTauri); tests pass a fake.
 * @param {() => TauriGlobal|undefined} [getTauri]
 */
export function createIpc(getTauri = () => /** @type {any} */ (globalThis).__TAURI__) {
  /**
   * A command with the arguments its Rust type takes (`Call` in
   * types.d.ts, written from src-tauri/src/calls.rs): none for a command
   * that takes none, else required.
   * @template T
   * @template {import('./types.js').Call['cmd']} C
   * @param {C} cmd
   * @param {ArgsOf<C>} rest
   * @returns {Promise<T>}
   */
  async function call(cmd, ...rest) {
    const [args] = rest;
    const invoke = getTauri()?.core?.invoke;
    if (typeof invoke !== 'function') {
      throw new IpcError('internal', 'This window is not connected to the SmartHunt app.');
    }
    try {
      return /** @type {T} */ (await (args === undefined ? invoke(cmd) : invoke(cmd, args)));
    } catch (err) {
      throw toIpcError(err);
    }
  }

  return {
    /** @returns {Promise<EngineStatus>} */
    getStatus: () => call('get_status'),
    /**
     * @param {{kind: string|null, unreadOnly: boolean, before: number|null, limit: number}} q
     * @returns {Promise<StoredNotification[]>}
     */
    listNotifications: (q) => call('list_notifications', {
      kind: q.kind ?? null, unreadOnly: Boolean(q.unreadOnly), before: q.before ?? null, limit: q.limit,
    }),
    /** Marks it read; returns it with its context. @param {number} localId @returns {Promise<StoredNotification>} */
    openNotification: (localId) => call('open_notification', { localId }),
    /** @param {number} localId @returns {Promise<void>} */
    markRead: (localId) => call('mark_read', { localId }),
    /** @returns {Promise<void>} */
    markAllRead: () => call('mark_all_read'),
    /** @param {number} localId @param {boolean} approve @returns {Promise<number>} the booking id */
    decideBooking: (localId, approve) => call('decide_booking', { localId, approve }),
    /** @returns {Promise<Conversation[]>} */
    listConversations: () => call('list_conversations'),
    /** Newest first. @param {number} otherId @param {number|null} before @param {number} limit @returns {Promise<ChatMessage[]>} */
    getThread: (otherId, before, limit) => call('get_thread', { otherId, before, limit }),
    /** @param {number} receiver @param {string} content @returns {Promise<void>} */
    sendMessage: (receiver, content) => call('send_message', { receiver, content }),
    /** @returns {Promise<Settings>} */
    getSettings: () => call('get_settings'),
    /** Only the fields given change. @param {import('./types.js').PolicyChange} change @returns {Promise<PopupPolicy>} */
    changePolicy: (change) => call('set_policy', { change }),
    /** @param {boolean} enabled @returns {Promise<void>} */
    setAutostart: (enabled) => call('set_autostart', { enabled }),
    /** @param {import('./types.js').PauseFor} pause @returns {Promise<number|null>} when it ends */
    pause: (pause) => call('pause', { pause }),
    /** Offline: connect now, not at the next retry. @returns {Promise<void>} */
    retryNow: () => call('retry_now'),
    /** @param {SignInArgs} args @returns {Promise<{username: string, role: string|null}>} */
    signIn: (args) => call('sign_in', { ...args }),
    /** @returns {Promise<void>} */
    signOut: () => call('sign_out'),
    /** The core reconciles with the server; a window built for a popup's click gets the item to show. @returns {Promise<import('./types.js').OpenItem|null>} */
    windowOpened: () => call('window_opened'),
    /** The first page of the list is on the screen, with this many rows (the core logs it). @param {number} rows @returns {Promise<void>} */
    firstPageShown: (rows) => call('first_page_shown', { rows }),

    /**
     * Listens to a shell event; resolves to a function that stops it.
     * Without the shell (or on failure) it resolves to a no-op.
     * @param {EventName} event
     * @param {(payload: any) => void} handler
     * @returns {Promise<() => void>}
     */
    async on(event, handler) {
      const listen = getTauri()?.event?.listen;
      if (typeof listen !== 'function') return () => {};
      try {
        return await listen(event, (e) => handler(e?.payload));
      } catch {
        return () => {};
      }
    },
  };
}

/** @typedef {ReturnType<typeof createIpc>} Ipc */
