/**
 * A stand-in for the Tauri shell, for looking at the window in a plain
 * browser (ui/dev/index.html). It answers every command of the IPC
 * contract from sample data kept in memory and emits the shell's events.
 * Never loaded by the app itself.
 *
 * URL parameters:
 *   scenario=connected|offline|signed_out|not_signed_in|keychain|empty|paused
 *   role=landlord|tenant     count=N (older generated notifications, default 240)
 *   open=LOCAL_ID            open a notification after start (as a popup click would)
 *   chat=OTHER_ID            open a conversation after start
 *   live=SECONDS             a new notification every SECONDS
 *   decide=fail              decide_booking fails with a server error
 *   pending=1                a sent message still waiting in the outbox
 */

export {}; // a module: its names stay out of the page's globals

const params = new URLSearchParams(location.search);
const scenario = params.get('scenario') ?? 'connected';
const role = params.get('role') === 'tenant' ? 'tenant' : 'landlord';
const NOW = Date.now();
const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const me = role === 'landlord'
  ? { id: 1, username: 'maria.santos', role: 'landlord' }
  : { id: 7, username: 'amira.haddad', role: 'tenant' };
const SERVER = 'https://smarthunt.example.com';

/** @type {Map<string, Set<(e: {event: string, id: number, payload: unknown}) => void>>} */
const listeners = new Map();
/** @param {string} event @param {unknown} payload */
function emit(event, payload) {
  for (const cb of listeners.get(event) ?? []) cb({ event, id: 0, payload: structuredClone(payload) });
}

// ---- notifications ----

/** @type {any[]} ascending local_id */
let notifications = [];
let nextLocalId = 1;
/** @param {Partial<any>} n */
function addNotification(n) {
  const item = {
    local_id: nextLocalId++, server_id: 1000 + nextLocalId, title: '', body: '', kind: 'general', context: {},
    created_at: null, received_at_ms: NOW, is_read: false, popped: true, ...n,
  };
  notifications.push(item);
  return item;
}

const SAMPLES = [
  { kind: 'booking', title: 'Booking request approved', body: 'Your stay at Harbour View loft is confirmed.', context: { booking_id: 300, status: 'approved', property_title: 'Harbour View loft' } },
  { kind: 'message', title: 'New message from Jonas Weber', body: 'Thanks, the keys are with the concierge.', context: { sender_id: 15, sender_name: 'Jonas Weber', message_id: 700 } },
  { kind: 'maintenance', title: 'Maintenance request updated', body: 'The heating repair is scheduled for Tuesday morning.', context: { maintenance_id: 60, status: 'in_progress', property_id: 12 } },
  { kind: 'property', title: 'Property listing updated', body: 'Photos of Garden cottage were updated.', context: { property_id: 40 } },
  { kind: 'review', title: 'New review', body: 'A tenant rated Riverside studio 4 out of 5.', context: { review_id: 9, rating: 4 } },
  { kind: 'general', title: 'Monthly summary ready', body: 'See how your listings did last month.', context: {} },
];

function seedNotifications() {
  if (scenario === 'empty' || scenario === 'not_signed_in') return;
  const count = Number(params.get('count') ?? 240);
  for (let i = count; i > 0; i -= 1) {
    const s = SAMPLES[i % SAMPLES.length];
    addNotification({ ...s, context: { ...s.context }, is_read: true, created_at: new Date(NOW - 3 * DAY - i * 5 * HOUR).toISOString() });
  }
  addNotification({
    kind: 'general', title: 'Welcome to SmartHunt Desktop', is_read: true,
    body: 'New booking requests, messages and maintenance requests will pop up here, even when this window is closed.',
    created_at: new Date(NOW - 3 * DAY).toISOString(),
  });
  addNotification({
    kind: 'property', title: 'Listing approved', is_read: true,
    body: 'Garden cottage is now visible to tenants.', context: { property_id: 40, property_title: 'Garden cottage' },
    created_at: new Date(NOW - 2 * DAY - 3 * HOUR).toISOString(),
  });
  addNotification({
    kind: 'booking', title: '<img src=x onerror=alert(1)> Booking cancelled', is_read: true,
    body: '<b>Not bold</b>: markup from the server is shown as plain text.',
    context: { booking_id: 498, status: 'cancelled', property_id: 12 },
    created_at: new Date(NOW - 26 * HOUR).toISOString(),
  });
  addNotification({
    kind: 'review', title: 'New 5-star review', is_read: true,
    body: 'Jonas Weber: “Spotless flat, quick replies, would stay again.”', context: { review_id: 15, rating: 5 },
    created_at: new Date(NOW - 20 * HOUR).toISOString(),
  });
  addNotification({
    kind: 'maintenance', title: 'New maintenance request',
    body: 'Leaking tap in the kitchen of Riverside studio, unit 4.', context: { maintenance_id: 77, property_id: 12, status: 'pending' },
    created_at: new Date(NOW - 65 * MIN).toISOString(),
  });
  addNotification({
    kind: 'message', title: 'New message from Amira Haddad',
    body: 'Hi! Is the flat still available in June? I would also like to ask about parking.',
    context: { sender_id: 7, sender_name: 'Amira Haddad', message_id: 901, property_id: 33, content_preview: 'Hi! Is the flat still available in June?' },
    created_at: new Date(NOW - 12 * MIN).toISOString(),
  });
  addNotification(role === 'landlord'
    ? {
      kind: 'booking', title: 'New booking request',
      body: 'Amira Haddad wants to stay at Sunny 2-bed flat near the park, 14–21 June.',
      context: { booking_id: 512, property_id: 33, property_title: 'Sunny 2-bed flat near the park', tenant_id: 7, landlord_id: 1, status: 'pending', check_in_date: '2025-06-14', check_out_date: '2025-06-21' },
      created_at: new Date(NOW - 2 * MIN).toISOString(),
    }
    : {
      kind: 'booking', title: 'Booking request sent',
      body: 'Your request for Sunny 2-bed flat near the park is waiting for the landlord.',
      context: { booking_id: 512, property_id: 33, property_title: 'Sunny 2-bed flat near the park', tenant_id: 7, landlord_id: 1, status: 'pending', check_in_date: '2025-06-14', check_out_date: '2025-06-21' },
      created_at: new Date(NOW - 2 * MIN).toISOString(),
    });
}
seedNotifications();

// ---- chat ----

/** @type {Record<number, string|null>} */
const names = { 1: 'Maria Santos', 7: 'Amira Haddad', 12: null, 15: 'Jonas Weber' };
/** @type {any[]} */
const messages = [];
let nextMessageId = 1;
/** @param {number} from @param {number} to @param {string} content @param {number} at @param {boolean} [read] */
function addMessage(from, to, content, at, read = true) {
  /** @type {any} */
  const m = {
    local_id: nextMessageId++, server_id: 5000 + nextMessageId, sender_id: from, recipient_id: to, content,
    sent_at: new Date(at).toISOString(), pending: false, at_ms: at, is_read: read,
  };
  messages.push(m);
  return m;
}
function seedMessages() {
  if (scenario === 'empty' || scenario === 'not_signed_in') return;
  const other = me.id === 1 ? 7 : 1;
  addMessage(other, me.id, 'Hello! I found your listing for the flat near the park.', NOW - DAY - 2 * HOUR);
  addMessage(me.id, other, 'Hi Amira, thanks for getting in touch. What dates are you thinking of?', NOW - DAY - 100 * MIN);
  addMessage(other, me.id, '14 to 21 June, two adults.', NOW - DAY - 95 * MIN);
  addMessage(me.id, other, 'That works. I have sent you the booking link.', NOW - DAY - 90 * MIN);
  addMessage(other, me.id, 'Hi! Is the flat still available in June? I would also like to ask about parking.', NOW - 12 * MIN, false);
  addMessage(other, me.id, 'There is a bike too, if that matters :)', NOW - 11 * MIN, false);
  addMessage(15, me.id, 'Thanks, the keys are with the concierge.', NOW - 5 * HOUR);
  addMessage(me.id, 15, 'Perfect, thank you Jonas!', NOW - 4 * HOUR);
  addMessage(12, me.id, 'Is the garden cottage pet friendly?', NOW - 3 * DAY);
  if (params.get('pending')) {
    const m = addMessage(me.id, other, 'Yes, it is still free. There is a parking space behind the building.', NOW - 30_000);
    m.pending = true;
    m.server_id = null;
  }
}
seedMessages();

/** @param {any} m */
const peerOf = (m) => (m.sender_id === me.id ? m.recipient_id : m.sender_id);

function conversations() {
  /** @type {Map<number, any>} */
  const by = new Map();
  for (const m of [...messages].sort((a, b) => b.at_ms - a.at_ms || b.local_id - a.local_id)) {
    const peer = peerOf(m);
    const c = by.get(peer) ?? { other_id: peer, other_name: names[peer] ?? null, last_content: m.content, last_at_ms: m.at_ms, unread: 0 };
    if (!m.is_read && m.sender_id === peer) c.unread += 1;
    by.set(peer, c);
  }
  return [...by.values()];
}

// ---- status and settings ----

/** @type {any} */
let status = {
  connection: { state: 'connected', variant: 'documented' },
  unread: 0,
  account: { server: SERVER, username: me.username, user_id: me.id, role: me.role },
  outbox_pending: params.get('pending') ? 1 : 0,
  paused_until_ms: null,
};
switch (scenario) {
  case 'offline':
    status.connection = { state: 'reconnecting', attempt: 3, retry_at_ms: NOW + 27_000, last_error: 'connection refused (os error 111)' };
    break;
  case 'signed_out':
    status.connection = { state: 'signed_out', reason: 'The server refused the session (HTTP 403) and the refresh token has expired.' };
    break;
  case 'not_signed_in':
    status.connection = { state: 'not_signed_in' };
    status.account = null;
    break;
  case 'keychain':
    status.connection = { state: 'keychain_unavailable', message: 'Secret Service: the "login" collection is locked.' };
    break;
  case 'paused':
    status.paused_until_ms = NOW + 45 * MIN;
    break;
  default:
    break;
}
/** @type {any} */
const settings = {
  policy: { muted: ['review'], quiet_hours: { start: '22:00:00', end: '07:00:00' }, paused_until_ms: status.paused_until_ms, sound: true },
  autostart: true,
  server: scenario === 'not_signed_in' ? null : SERVER,
  ca_file: null,
  allow_insecure_http: false,
};

function recount() {
  status = { ...status, unread: notifications.filter((n) => !n.is_read).length };
  emit('status', status);
}
status.unread = notifications.filter((n) => !n.is_read).length;

/** @param {string} code @param {string} message */
const fail = (code, message) => Promise.reject({ code, message });
const needAccount = () => (status.account && status.connection.state !== 'not_signed_in' ? null : { code: 'not_signed_in', message: 'You are not signed in.' });
/** @param {number} ms */
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/** Every command the shell has, and only those (the type check says so). @type {Record<import('../app/contract.js').Command, (args: any) => unknown>} */
const commands = {
  get_status: () => status,
  list_notifications: ({ kind, unreadOnly, before, limit }) => {
    const out = [];
    for (let i = notifications.length - 1; i >= 0 && out.length < limit; i -= 1) {
      const n = notifications[i];
      if (before != null && n.local_id >= before) continue;
      if (kind && n.kind !== kind) continue;
      if (unreadOnly && n.is_read) continue;
      out.push(n);
    }
    return out;
  },
  open_notification: ({ localId }) => {
    const n = notifications.find((x) => x.local_id === localId);
    if (!n) return fail('bad_input', 'That notification no longer exists.');
    if (!n.is_read) {
      n.is_read = true;
      setTimeout(() => { emit('engine-event', { kind: 'notifications_changed' }); recount(); }, 50);
    }
    return n;
  },
  mark_read: ({ localId }) => {
    const n = notifications.find((x) => x.local_id === localId);
    if (n) n.is_read = true;
    setTimeout(() => { emit('engine-event', { kind: 'notifications_changed' }); recount(); }, 50);
    return null;
  },
  mark_all_read: async () => {
    await delay(300);
    for (const n of notifications) n.is_read = true;
    emit('engine-event', { kind: 'notifications_changed' });
    recount();
    return null;
  },
  decide_booking: async ({ localId, approve }) => {
    await delay(700);
    if (params.get('decide') === 'fail') return fail('server', 'This booking is no longer pending.');
    const n = notifications.find((x) => x.local_id === localId);
    if (!n) return fail('bad_input', 'That notification no longer exists.');
    n.context = { ...n.context, status: approve ? 'approved' : 'declined' };
    n.is_read = true;
    emit('engine-event', { kind: 'booking_decided', booking_id: n.context.booking_id, approved: approve });
    emit('engine-event', { kind: 'notifications_changed' });
    recount();
    return n.context.booking_id;
  },
  list_conversations: () => needAccount() ? [] : conversations(),
  get_thread: ({ otherId, before, limit }) => {
    let thread = messages.filter((m) => peerOf(m) === otherId).sort((a, b) => b.at_ms - a.at_ms || b.local_id - a.local_id);
    if (before != null) {
      const i = thread.findIndex((m) => m.local_id === before);
      thread = i < 0 ? [] : thread.slice(i + 1);
    }
    let changed = false;
    for (const m of thread) if (m.sender_id === otherId && !m.is_read) { m.is_read = true; changed = true; }
    if (changed) setTimeout(() => emit('engine-event', { kind: 'chat_changed' }), 50);
    return thread.slice(0, limit);
  },
  send_message: ({ receiver, content }) => {
    const missing = needAccount();
    if (missing) return Promise.reject(missing);
    const m = addMessage(me.id, receiver, content, Date.now());
    m.pending = true;
    m.server_id = null;
    status = { ...status, outbox_pending: status.outbox_pending + 1 };
    emit('status', status);
    setTimeout(() => {
      m.pending = false;
      m.server_id = 9000 + m.local_id;
      status = { ...status, outbox_pending: Math.max(0, status.outbox_pending - 1) };
      emit('status', status);
      emit('engine-event', { kind: 'chat_changed' });
    }, scenario === 'offline' ? 1e9 : 2500);
    return null;
  },
  get_settings: () => settings,
  set_policy: ({ change }) => { settings.policy = { ...settings.policy, ...change }; return settings.policy; },
  set_autostart: ({ enabled }) => { settings.autostart = enabled; return null; },
  // The demo's server stays away: the retry fails again, a while later.
  retry_now: () => {
    const c = status.connection;
    if (c.state === 'reconnecting') {
      status = { ...status, connection: { ...c, attempt: c.attempt + 1, retry_at_ms: Date.now() + 30_000 } };
      emit('status', status);
    }
    return null;
  },
  pause: ({ pause }) => {
    const morning = new Date();
    morning.setDate(morning.getDate() + 1);
    morning.setHours(8, 0, 0, 0);
    const until = pause.for === 'resume' ? null
      : pause.for === 'minutes' ? Date.now() + pause.minutes * MIN
        : morning.getTime();
    settings.policy = { ...settings.policy, paused_until_ms: until };
    status = { ...status, paused_until_ms: until };
    emit('status', status);
    return null;
  },
  sign_in: async ({ server, username, password, allowInsecureHttp }) => {
    await delay(600);
    if (/unreachable/.test(server)) return fail('unreachable', `Cannot reach ${server}: connection refused.`);
    if (server.startsWith('http://') && !allowInsecureHttp && !/127\.0\.0\.1|localhost/.test(server)) {
      return fail('bad_input', 'Plain http:// is only allowed for this computer. Use https:// or allow insecure http.');
    }
    if (password === 'wrong') return fail('invalid_credentials', 'The username or password is not right.');
    settings.server = server;
    status = {
      ...status,
      connection: { state: 'connected', variant: 'documented' },
      account: { server, username, user_id: me.id, role: me.role },
    };
    emit('status', status);
    return { username, role: me.role };
  },
  sign_out: () => {
    status = { ...status, connection: { state: 'not_signed_in' }, account: null, unread: 0 };
    emit('status', status);
    return null;
  },
  window_opened: () => null,
  first_page_shown: () => null,
};

// The offline countdown starts over when it runs out, as the engine's would.
if (scenario === 'offline') {
  setInterval(() => {
    const c = status.connection;
    if (c.state === 'reconnecting' && c.retry_at_ms <= Date.now()) {
      status = { ...status, connection: { ...c, attempt: c.attempt + 1, retry_at_ms: Date.now() + 30_000 } };
      emit('status', status);
    }
  }, 1000);
}

const live = Number(params.get('live') ?? 0);
if (live > 0) {
  let i = 0;
  setInterval(() => {
    const s = SAMPLES[i++ % SAMPLES.length];
    const n = addNotification({ ...s, context: { ...s.context }, created_at: new Date().toISOString(), received_at_ms: Date.now() });
    emit('engine-event', { kind: 'notification_added', local_id: n.local_id });
    recount();
  }, live * 1000);
}

let started = false;
function afterStart() {
  if (started) return;
  started = true;
  setTimeout(() => {
    const open = params.get('open');
    const chat = params.get('chat');
    if (open) emit('open-item', { view: 'notifications', localId: open === 'latest' ? nextLocalId - 1 : Number(open) });
    if (chat) emit('open-item', { view: 'chat', otherId: Number(chat) });
  }, 150);
}

/** @type {any} */ (window).__TAURI__ = {
  core: {
    /** @param {string} cmd @param {any} [args] */
    async invoke(cmd, args = {}) {
      const fn = /** @type {Record<string, ((args: any) => unknown) | undefined>} */ (commands)[cmd];
      if (!fn) throw `command ${cmd} not found`;
      await delay(20);
      return structuredClone(await fn(args));
    },
  },
  event: {
    /** @param {string} event @param {(e: any) => void} cb */
    async listen(event, cb) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)?.add(cb);
      if (event === 'open-item') afterStart();
      return () => listeners.get(event)?.delete(cb);
    },
  },
};
