/**
 * The window's header: the app name and the tabs (Notifications, Chat,
 * Settings) with unread badges. Arrow keys move between tabs.
 */

import { h, setText, show } from '../lib/dom.js';
import { icon } from '../lib/icons.js';
import { tabTarget } from '../lib/keyboard.js';
import { totalUnread } from '../lib/conversations.js';

/** @typedef {import('../state.js').AppState} AppState */

/** @type {{view: AppState['view'], label: string, icon: string}[]} */
export const TABS = [
  { view: 'notifications', label: 'Notifications', icon: 'bell' },
  { view: 'chat', label: 'Chat', icon: 'chat' },
  { view: 'settings', label: 'Settings', icon: 'settings' },
];

/**
 * @param {{actions: import('../actions.js').Actions}} deps
 */
export function createHeader({ actions }) {
  /** @type {AppState['view']|null} */
  let current = null;
  /** @type {Record<string, {tab: HTMLButtonElement, badge: HTMLElement, srCount: HTMLElement}>} */
  const tabs = {};
  const list = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'SmartHunt sections' });
  for (const t of TABS) {
    const badge = h('span', { class: 'badge', 'aria-hidden': 'true', hidden: true });
    const srCount = h('span', { class: 'visually-hidden' });
    const tab = h('button', {
      type: 'button', role: 'tab', class: 'tab', id: `tab-${t.view}`, 'aria-controls': `panel-${t.view}`,
      on: { click: () => (current === t.view ? actions.backToList(t.view) : actions.showView(t.view)) },
    }, icon(t.icon, 'icon tab-icon'), h('span', { class: 'tab-label' }, t.label), srCount, badge);
    tabs[t.view] = { tab, badge, srCount };
    list.appendChild(tab);
  }
  list.addEventListener('keydown', (e) => {
    const i = TABS.findIndex((t) => tabs[t.view].tab === document.activeElement);
    if (i < 0) return;
    const j = tabTarget(e.key, i, TABS.length);
    if (j == null) return;
    e.preventDefault();
    tabs[TABS[j].view].tab.focus();
    actions.showView(TABS[j].view);
  });

  // The window's title bar says "SmartHunt"; the header is all tabs.
  const el = h('header', { class: 'app-header' }, list);

  /** @param {string} view @param {number} count */
  function setCount(view, count) {
    const t = tabs[view];
    show(t.badge, count > 0);
    setText(t.badge, count > 99 ? '99+' : String(count));
    setText(t.srCount, count > 0 ? `, ${count} unread` : '');
  }

  /** @param {AppState} s */
  function update(s) {
    current = s.view;
    for (const t of TABS) {
      const selected = s.view === t.view;
      const { tab } = tabs[t.view];
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
    }
    setCount('notifications', s.status?.unread ?? 0);
    setCount('chat', totalUnread(s.chat.conversations));
  }

  return { el, update };
}
