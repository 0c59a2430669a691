import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createActions } from '../app/actions.js';
import { createIpc } from '../app/ipc.js';
import { createStore, initialState } from '../app/state.js';
import { visibleRows } from '../app/lib/notification-feed.js';
import { COMMANDS } from '../app/contract.js';

const landlord = { server: 'https://s', username: 'maria', user_id: 1, role: 'landlord' };

/** An in-memory core behind a fake window.__TAURI__, answering like the shell. */
function fakeCore({ count = 3 } = {}) {
  const notes = [];
  for (let i = 1; i <= count; i += 1) {
    notes.push({ local_id: i, server_id: i, title: `Note ${i}`, body: '', kind: i % 2 ? 'booking' : 'general', context: {}, created_at: null, received_at_ms: i, is_read: false, popped: true });
  }
  const messages = [];
  const core = {
    notes,
    messages,
    status: { connection: { state: 'connected', variant: 'documented' }, unread: count, account: landlord, outbox_pending: 0, paused_until_ms: null },
    settings: { policy: { muted: [], quiet_hours: null, paused_until_ms: null, sound: true }, autostart: false, server: 'https://s', ca_file: null, allow_insecure_http: false },
    calls: [],
    listeners: {},
    /** Overrides per command: (args) => answer (or a rejected promise). */
    override: {},
    emit(event, payload) { this.listeners[event]?.({ event, id: 0, payload }); },
    handlers: {
      get_status: () => core.status,
      get_settings: () => core.settings,
      window_opened: () => null,
      first_page_shown: () => null,
      list_notifications: ({ kind, unreadOnly, before, limit }) => notes
        .filter((n) => (before == null || n.local_id < before) && (!kind || n.kind === kind) && (!unreadOnly || !n.is_read))
        .sort((a, b) => b.local_id - a.local_id).slice(0, limit),
      open_notification: ({ localId }) => { const n = notes.find((x) => x.local_id === localId); n.is_read = true; return n; },
      mark_read: ({ localId }) => { const n = notes.find((x) => x.local_id === localId); if (n) n.is_read = true; return null; },
      mark_all_read: () => { for (const n of notes) n.is_read = true; return null; },
      decide_booking: ({ localId, approve }) => { const n = notes.find((x) => x.local_id === localId); n.context = { ...n.context, status: approve ? 'approved' : 'declined' }; return 512; },
      list_conversations: () => [{ other_id: 7, other_name: null, last_content: 'hi', last_at_ms: 1, unread: 1 }],
      get_thread: ({ otherId, before, limit }) => messages.filter((m) => m.sender_id === otherId || m.recipient_id === otherId)
        .sort((a, b) => b.at_ms - a.at_ms).filter((m) => before == null || m.local_id < before).slice(0, limit),
      send_message: ({ receiver, content }) => { messages.push({ local_id: messages.length + 1, server_id: null, sender_id: 1, recipient_id: receiver, content, sent_at: null, pending: true, at_ms: Date.now(), is_read: true }); return null; },
      sign_in: ({ username }) => ({ username, role: 'landlord' }),
      sign_out: () => null,
      set_policy: ({ change }) => { core.settings.policy = { ...core.settings.policy, ...change }; return core.settings.policy; },
      set_autostart: ({ enabled }) => { core.settings.autostart = enabled; return null; },
      pause: () => null,
      retry_now: () => null,
    },
  };
  const tauri = {
    core: {
      invoke: async (cmd, args) => {
        core.calls.push([cmd, args]);
        await Promise.resolve();
        const fn = core.override[cmd] ?? core.handlers[cmd];
        return structuredClone(await fn(args ?? {}));
      },
    },
    event: { listen: async (event, cb) => { core.listeners[event] = cb; return () => {}; } },
  };
  return { core, ipc: createIpc(() => tauri) };
}

function setup(opts) {
  const { core, ipc } = fakeCore(opts);
  const store = createStore(initialState(0));
  const timers = [];
  const actions = createActions({ ipc, store, now: () => 1_000_000, setTimer: (fn) => timers.push(fn) });
  return { core, store, actions, timers };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

test('the fake core answers every command the shell has, and only those', () => {
  const { core } = fakeCore();
  assert.deepEqual(Object.keys(core.handlers).sort(), [...COMMANDS].sort());
});
const titles = (store) => visibleRows(store.get().notifications.pager).map((n) => n.title);

test('start listens to the shell, then loads status, settings, the newest page and conversations', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  assert.deepEqual(Object.keys(core.listeners).sort(), ['engine-event', 'open-item', 'status']);
  assert.deepEqual(titles(store), ['Note 3', 'Note 2', 'Note 1']);
  assert.equal(store.get().status?.account?.username, 'maria');
  assert.equal(store.get().settings.settings?.autostart, false);
  assert.equal(store.get().chat.conversations.length, 1);
  assert.ok(core.calls.some(([c]) => c === 'window_opened'));
});

test('a new notification is re-queried from the core and announced', async () => {
  const { core, store, actions, timers } = setup();
  await actions.start();
  core.notes.push({ local_id: 4, server_id: 4, title: 'New booking request', body: '', kind: 'booking', context: {}, created_at: null, received_at_ms: 4, is_read: false, popped: true });
  core.emit('engine-event', { kind: 'notification_added', local_id: 4 });
  core.emit('status', { ...core.status, unread: 4 });
  await settle(); await settle();
  assert.deepEqual(titles(store), ['New booking request', 'Note 3', 'Note 2', 'Note 1']);
  timers.forEach((t) => t());
  await settle(); await settle();
  // The badge's count is said with the news, not only drawn.
  assert.equal(store.get().announcement.text, 'New notification: New booking request. 4 unread.');
});

test('a burst of new notifications is announced once, with the count', async () => {
  const { core, store, actions, timers } = setup();
  await actions.start();
  for (const id of [4, 5, 6]) core.emit('engine-event', { kind: 'notification_added', local_id: id });
  core.emit('status', { ...core.status, unread: 6 });
  assert.equal(timers.length, 1);
  timers[0]();
  await settle();
  assert.equal(store.get().announcement.text, '3 new notifications. 6 unread.');
});

test('a filter change drops answers that were meant for the old filter', async () => {
  const { core, store, actions } = setup({ count: 6 });
  await actions.start();
  let release;
  core.override.list_notifications = (args) => (args.kind === null
    ? new Promise((r) => { release = () => r(core.handlers.list_notifications(args)); })
    : core.handlers.list_notifications(args));
  const slow = actions.setFilter({ kind: null, unreadOnly: false });
  await settle();
  const fast = actions.setFilter({ kind: 'booking' });
  release();
  await Promise.all([slow, fast]);
  assert.deepEqual(titles(store), ['Note 5', 'Note 3', 'Note 1']);
});

test('approving a booking shows the result and re-reads the list', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  const before = core.calls.filter(([c]) => c === 'list_notifications').length;
  await actions.decideBooking(3, true);
  await settle();
  assert.deepEqual(store.get().notifications.decisions[3], { state: 'done', approved: true });
  assert.equal(store.get().announcement.text, 'Booking request approved.');
  assert.ok(core.calls.filter(([c]) => c === 'list_notifications').length > before);
  assert.deepEqual(core.calls.find(([c]) => c === 'decide_booking'), ['decide_booking', { localId: 3, approve: true }]);
});

test('a refused decision shows the server\'s message and leaves the buttons', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  core.override.decide_booking = () => Promise.reject({ code: 'server', message: 'This booking is no longer pending.' });
  await actions.decideBooking(3, false);
  assert.deepEqual(store.get().notifications.decisions[3], { state: 'error', approved: false, message: 'This booking is no longer pending.' });
});

test('a decision made elsewhere (a popup button) shows on the matching booking', async () => {
  const { core, store, actions } = setup();
  core.notes[2].context = { booking_id: 77, status: 'pending' };
  await actions.start();
  core.emit('engine-event', { kind: 'booking_decided', booking_id: 77, approved: false });
  assert.deepEqual(store.get().notifications.decisions[3], { state: 'done', approved: false });
});

test('opening a message notification opens the sender\'s conversation', async () => {
  const { core, store, actions } = setup();
  core.notes[0].kind = 'message';
  core.notes[0].context = { sender_id: 7, sender_name: 'Amira' };
  await actions.start();
  await actions.openNotification(1);
  await settle();
  const s = store.get();
  assert.equal(s.view, 'chat');
  assert.equal(s.chat.otherId, 7);
  assert.equal(s.chat.nameHint, 'Amira');
  assert.equal(s.notifications.openId, null);
  assert.ok(core.calls.some(([c, a]) => c === 'open_notification' && a.localId === 1));
});

test('opening another notification shows it with its data', async () => {
  const { store, actions } = setup();
  await actions.start();
  await actions.openNotification(2);
  assert.equal(store.get().notifications.opened?.title, 'Note 2');
  assert.equal(store.get().notifications.opened?.is_read, true);
  actions.closeNotification();
  assert.equal(store.get().notifications.openId, null);
});

test('a popup click (open-item) shows that item or conversation', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  core.emit('open-item', { view: 'chat', otherId: 7 });
  await settle();
  assert.equal(store.get().view, 'chat');
  assert.equal(store.get().chat.otherId, 7);
  const composeSeq = store.get().chat.composeSeq;
  core.emit('open-item', { view: 'chat', otherId: 7, compose: true });
  await settle();
  assert.equal(store.get().chat.composeSeq, composeSeq + 1, "a popup's Reply asks for the composer");
  core.emit('open-item', { view: 'notifications', localId: 2 });
  await settle(); await settle();
  assert.equal(store.get().view, 'notifications');
  assert.equal(store.get().notifications.openId, 2);
});

test('sending: an empty draft is refused here; a sent message shows as pending from the core', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  await actions.openConversation(7);
  assert.equal(await actions.sendMessage('   '), false);
  assert.equal(store.get().chat.sendError?.code, 'bad_input');
  assert.equal(await actions.sendMessage(' Hello! '), true);
  const s = store.get().chat;
  assert.equal(s.sendError, null);
  assert.equal(s.sentSeq, 1);
  assert.deepEqual(s.thread.map((m) => [m.content, m.pending]), [['Hello!', true]]);
  assert.deepEqual(core.calls.find(([c]) => c === 'send_message'), ['send_message', { receiver: 7, content: 'Hello!' }]);
});

test('a failed send keeps the draft (no sentSeq) and shows why', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  await actions.openConversation(7);
  core.override.send_message = () => Promise.reject({ code: 'signed_out', message: 'Your session has ended.' });
  assert.equal(await actions.sendMessage('hi'), false);
  assert.equal(store.get().chat.sentSeq, 0);
  assert.deepEqual(store.get().chat.sendError, { code: 'signed_out', message: 'Your session has ended.' });
});

test('wrong credentials point at the password field; the form is checked before the core is asked', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  const form = { server: 'https://s', username: 'maria', password: 'x', staySignedIn: false, caFile: '', allowInsecureHttp: false };
  assert.equal(await actions.signIn({ ...form, server: 'nonsense' }), false);
  assert.equal(store.get().settings.signInError?.field, 'server');
  assert.ok(!core.calls.some(([c]) => c === 'sign_in'));
  core.override.sign_in = () => Promise.reject({ code: 'invalid_credentials', message: 'Wrong password.' });
  assert.equal(await actions.signIn(form), false);
  assert.deepEqual(store.get().settings.signInError, { code: 'invalid_credentials', message: 'Wrong password.', field: 'password' });
  delete core.override.sign_in;
  assert.equal(await actions.signIn(form), true);
  assert.equal(store.get().settings.signInError, null);
  assert.equal(store.get().settings.signInSeq, 1);
});

test('another account in a status event reloads everything', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  await actions.openConversation(7);
  const lists = core.calls.filter(([c]) => c === 'list_notifications').length;
  core.status = { ...core.status, account: { ...landlord, username: 'jonas' } };
  core.emit('status', core.status);
  await settle(); await settle();
  assert.ok(core.calls.filter(([c]) => c === 'list_notifications').length > lists);
  assert.equal(store.get().chat.otherId, null);
  assert.equal(store.get().status?.account?.username, 'jonas');
});

test('settings changes go to the core and the form then shows what it kept', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  core.settings.policy = { ...core.settings.policy, paused_until_ms: 99, sound: true };
  await actions.changePolicy({ muted: ['review', 'nonsense'], quiet_hours: { start: '22:00:00', end: '07:00' } });
  assert.deepEqual(core.calls.find(([c]) => c === 'set_policy'), ['set_policy', { change: { muted: ['review'], quiet_hours: { start: '22:00', end: '07:00' } } }],
    'only what changed goes, normalized');
  assert.equal(core.settings.policy.paused_until_ms, 99, 'a pause set elsewhere is kept');
  assert.equal(core.settings.policy.sound, true, 'a field not named is kept');
  assert.equal(store.get().settings.saved, 'Saved.');
  core.override.set_autostart = () => Promise.reject({ code: 'internal', message: 'Autostart is not available here.' });
  await actions.setAutostart(true);
  assert.equal(store.get().settings.saveError?.message, 'Autostart is not available here.');
  assert.equal(store.get().settings.settings?.autostart, false, 're-read: the core kept it off');
  await actions.pause({ for: 'resume' });
  assert.deepEqual(core.calls.find(([c]) => c === 'pause'), ['pause', { pause: { for: 'resume' } }]);
});

test('retry now asks the core to connect; a refusal is said in the status bar', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  await actions.retryNow();
  assert.ok(core.calls.some(([c]) => c === 'retry_now'));
  assert.equal(store.get().statusError, null);
  core.override.retry_now = () => Promise.reject({ code: 'internal', message: 'The app is shutting down.' });
  await actions.retryNow();
  assert.equal(store.get().statusError?.message, 'The app is shutting down.');
});

test('mark all read failing shows the message; the list is re-read either way', async () => {
  const { core, store, actions } = setup();
  await actions.start();
  core.override.mark_all_read = () => Promise.reject({ code: 'unreachable', message: 'Offline.' });
  await actions.markAllRead();
  assert.equal(store.get().notifications.markAllError?.message, 'Offline.');
  delete core.override.mark_all_read;
  await actions.markAllRead();
  assert.equal(store.get().notifications.markAllError, null);
  assert.ok(visibleRows(store.get().notifications.pager).every((n) => n.is_read));
});

test('a list that fails to load says why and loads again on retry', async () => {
  const { core, store, actions } = setup();
  core.override.list_notifications = () => Promise.reject({ code: 'internal', message: 'Database is locked.' });
  await actions.start();
  assert.equal(store.get().notifications.error?.message, 'Database is locked.');
  delete core.override.list_notifications;
  await actions.retryFeed();
  assert.equal(store.get().notifications.error, null);
  assert.equal(titles(store).length, 3);
});

test('a first run opens on the sign-in form, and a sign-in then shows the notifications', async () => {
  const { core, store, actions } = setup();
  core.status = { connection: { state: 'not_signed_in' }, unread: 0, account: null, outbox_pending: 0, paused_until_ms: null };
  await actions.start({ signInFirst: true });
  assert.equal(store.get().view, 'settings');
  assert.equal(store.get().focusRequest?.target, 'sign-in', 'the form has the focus');
  core.status = { connection: { state: 'connected', variant: 'documented' }, unread: 0, account: landlord, outbox_pending: 0, paused_until_ms: null };
  const ok = await actions.signIn({ server: 'https://s', username: 'maria', password: 'p', staySignedIn: false, caFile: '', allowInsecureHttp: false });
  assert.equal(ok, true);
  assert.equal(store.get().view, 'notifications');
});

test('a view asked for, or an account signed in, keeps the first view', async () => {
  const signedOut = setup();
  signedOut.core.status = { connection: { state: 'signed_out', reason: 'x' }, unread: 0, account: null, outbox_pending: 0, paused_until_ms: null };
  await signedOut.actions.start({ signInFirst: false });
  assert.equal(signedOut.store.get().view, 'notifications', 'a view was asked for');
  const signedIn = setup();
  await signedIn.actions.start({ signInFirst: true });
  assert.equal(signedIn.store.get().view, 'notifications');
  assert.equal(signedIn.store.get().focusRequest, null);
});
