import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IpcError, createIpc, isSessionError, toIpcError } from '../app/ipc.js';

/** A fake `window.__TAURI__` that records calls and answers from `handlers`. */
function fakeTauri(handlers = {}) {
  const calls = [];
  const listeners = {};
  return {
    calls,
    listeners,
    core: {
      invoke: async (cmd, args) => {
        calls.push([cmd, args]);
        const h = handlers[cmd];
        if (!h) throw `command ${cmd} not found`;
        return h(args);
      },
    },
    event: {
      listen: async (event, cb) => {
        listeners[event] = cb;
        return () => { delete listeners[event]; };
      },
    },
  };
}

test('commands go out with the contract\'s names and camelCase arguments', async () => {
  const tauri = fakeTauri({
    list_notifications: () => [], open_notification: () => ({}), decide_booking: () => 512, get_thread: () => [],
    send_message: () => null, sign_in: () => ({ username: 'maria', role: 'landlord' }), pause: () => null, get_status: () => ({}), retry_now: () => null,
  });
  const ipc = createIpc(() => tauri);
  await ipc.listNotifications({ kind: 'booking', unreadOnly: true, before: 40, limit: 50 });
  await ipc.openNotification(3);
  assert.equal(await ipc.decideBooking(3, false), 512);
  await ipc.getThread(7, null, 50);
  await ipc.sendMessage(7, 'hi');
  await ipc.pause({ for: 'tomorrow_morning' });
  await ipc.getStatus();
  await ipc.retryNow();
  await ipc.signIn({ server: 'https://s', username: 'u', password: 'p', staySignedIn: true, caFile: null, allowInsecureHttp: false });
  assert.deepEqual(tauri.calls, [
    ['list_notifications', { kind: 'booking', unreadOnly: true, before: 40, limit: 50 }],
    ['open_notification', { localId: 3 }],
    ['decide_booking', { localId: 3, approve: false }],
    ['get_thread', { otherId: 7, before: null, limit: 50 }],
    ['send_message', { receiver: 7, content: 'hi' }],
    ['pause', { pause: { for: 'tomorrow_morning' } }],
    ['get_status', undefined],
    ['retry_now', undefined],
    ['sign_in', { server: 'https://s', username: 'u', password: 'p', staySignedIn: true, caFile: null, allowInsecureHttp: false }],
  ]);
});

test('a rejection with {code, message} becomes an IpcError to branch on', async () => {
  const ipc = createIpc(() => fakeTauri({ sign_in: () => Promise.reject({ code: 'invalid_credentials', message: 'Wrong password for maria.' }) }));
  await assert.rejects(ipc.signIn({ server: 'https://s', username: 'maria', password: 'x', staySignedIn: false, caFile: null, allowInsecureHttp: false }), (err) => {
    assert.ok(err instanceof IpcError);
    assert.equal(err.code, 'invalid_credentials');
    assert.equal(err.message, 'Wrong password for maria.');
    return true;
  });
});

test('odd rejections still give a code and a sentence', () => {
  assert.deepEqual(pick(toIpcError({ code: 'unreachable' })), ['unreachable', 'The server cannot be reached. Check your connection and the server address.']);
  assert.deepEqual(pick(toIpcError({ code: 'something_new', message: 'New thing failed' })), ['something_new', 'New thing failed']);
  assert.deepEqual(pick(toIpcError({ message: 'no code' })), ['internal', 'no code']);
  assert.deepEqual(pick(toIpcError('command get_status not found')), ['internal', 'command get_status not found']);
  assert.deepEqual(pick(toIpcError(new TypeError('boom'))), ['internal', 'boom']);
  assert.deepEqual(pick(toIpcError(undefined)), ['internal', 'Something went wrong inside SmartHunt.']);
  assert.deepEqual(pick(toIpcError({ code: 42, message: '' })), ['internal', 'Something went wrong inside SmartHunt.']);
  const e = new IpcError('server', 'x');
  assert.equal(toIpcError(e), e);
});

test('an unknown command (Tauri\'s string error) is an internal IpcError', async () => {
  const ipc = createIpc(() => fakeTauri({}));
  await assert.rejects(ipc.windowOpened(), (err) => err instanceof IpcError && err.code === 'internal' && /not found/.test(err.message));
});

test('without the shell every command fails with a clear IpcError, and listening is a no-op', async () => {
  const ipc = createIpc(() => undefined);
  await assert.rejects(ipc.getStatus(), (err) => err instanceof IpcError && err.code === 'internal' && /not connected/.test(err.message));
  const stop = await ipc.on('status', () => {});
  assert.equal(typeof stop, 'function');
});

test('events hand their payload to the handler; the returned function stops listening', async () => {
  const tauri = fakeTauri();
  const ipc = createIpc(() => tauri);
  const got = [];
  const stop = await ipc.on('engine-event', (p) => got.push(p));
  tauri.listeners['engine-event']({ event: 'engine-event', id: 1, payload: { kind: 'chat_changed' } });
  assert.deepEqual(got, [{ kind: 'chat_changed' }]);
  stop();
  assert.equal(tauri.listeners['engine-event'], undefined);
});

test('by default the client finds window.__TAURI__', async () => {
  const tauri = fakeTauri({ get_status: () => ({ unread: 3 }) });
  globalThis.__TAURI__ = tauri;
  try {
    assert.deepEqual(await createIpc().getStatus(), { unread: 3 });
  } finally {
    delete globalThis.__TAURI__;
  }
});

test('session errors are recognised by code', () => {
  assert.ok(isSessionError(new IpcError('signed_out', 'x')));
  assert.ok(isSessionError(new IpcError('not_signed_in', 'x')));
  assert.ok(!isSessionError(new IpcError('server', 'x')));
  assert.ok(!isSessionError({ code: 'signed_out' }));
});

/** @param {IpcError} e */
function pick(e) { return [e.code, e.message]; }
