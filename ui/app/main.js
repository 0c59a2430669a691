/**
 * Boots the window: builds the views, renders them from the store on
 * every change (once per frame), wires the shell's events, keeps the
 * clock ticking for countdowns. Holds no data of its own.
 */

import { createActions } from './actions.js';
import { h } from './lib/dom.js';
import { rowCount } from './lib/notification-feed.js';
import { needsTick } from './lib/status-text.js';
import { createIpc } from './ipc.js';
import { createStore, firstScreenReady, initialState } from './state.js';
import { createChatView } from './views/chat.js';
import { createHeader } from './views/header.js';
import { createNotificationsView } from './views/notifications.js';
import { createSettingsView } from './views/settings.js';
import { createAnnouncer, createBanner, createStatusBar } from './views/status.js';

/** Relative times ("5 min ago") are refreshed this often when nothing counts down. */
const SLOW_TICK_MS = 30_000;

/**
 * The longest the page shows "Loading SmartHunt…" while the first
 * screen's data is on its way: then the views are drawn with what there is.
 */
const FIRST_SCREEN_WAIT_MS = 400;

const ipc = createIpc();
const store = createStore(initialState());
const actions = createActions({ ipc, store });

const initialView = location.hash.replace('#', '');
if (initialView === 'chat' || initialView === 'settings' || initialView === 'notifications') store.set({ view: initialView });

// The core is asked first, so that its answers are on their way while the
// views are built.
void actions.start({ signInFirst: !initialView });

const parts = {
  header: createHeader({ actions }),
  banner: createBanner({ actions }),
  notifications: createNotificationsView({ store, actions }),
  chat: createChatView({ store, actions }),
  settings: createSettingsView({ store, actions }),
  statusbar: createStatusBar({ actions }),
  announcer: createAnnouncer(),
};

const root = /** @type {HTMLElement} */ (document.getElementById('app'));

let frame = 0;
let firstPageShown = false;
let viewsAttached = false;
let firstScreenWaitOver = false;
function render() {
  frame = 0;
  const s = store.get();
  if (!viewsAttached) {
    // The first frame of the views is the first screen, with its data.
    if (!firstScreenWaitOver && !firstScreenReady(s)) return;
    viewsAttached = true;
    root.replaceChildren(
      parts.header.el,
      parts.banner.el,
      h('main', { class: 'app-main' }, parts.notifications.el, parts.chat.el, parts.settings.el),
      parts.statusbar.el,
      parts.announcer.el,
    );
  }
  for (const p of Object.values(parts)) p.update(s);
  if (!firstPageShown && s.view === 'notifications' && s.notifications.loaded) {
    firstPageShown = true;
    // The core logs it (the benchmarks time a window's open by it). By
    // the second frame from now, the one with these rows has been painted.
    const rows = rowCount(s.notifications.pager);
    requestAnimationFrame(() => requestAnimationFrame(() => { ipc.firstPageShown(rows).catch(() => {}); }));
  }
}
store.subscribe(() => {
  if (!frame) frame = requestAnimationFrame(render);
});
render();
setTimeout(() => {
  firstScreenWaitOver = true;
  if (viewsAttached) return;
  if (frame) cancelAnimationFrame(frame);
  render();
}, FIRST_SCREEN_WAIT_MS);

let lastSlowTick = Date.now();
setInterval(() => {
  const t = Date.now();
  const s = store.get();
  if (needsTick(s.status, t) || t - lastSlowTick >= SLOW_TICK_MS) {
    lastSlowTick = t;
    store.set({ now: t });
  }
}, 1000);

document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') void actions.windowShown();
});
