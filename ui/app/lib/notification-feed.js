/**
 * The notification list's logic: filters, keyset paging with a bounded
 * window of rendered rows, and what an item's context and actions are.
 * Pure: it never calls the core; actions.js feeds it the core's answers.
 */

import {
  KINDS, bookingStatusLabel, displayName, formatCalendarDate, kindPluralLabel, normalizeKind,
} from './format.js';

/** Rows asked of the core per page. */
export const PAGE_SIZE = 50;
/** At most this many rows are rendered at once; pages beyond are dropped and re-read when scrolled back to. */
export const MAX_ROWS = 250;
/** Page 0 is re-read with room for items that arrived since. */
export const FIRST_PAGE_REFRESH_LIMIT = PAGE_SIZE * 2;

/**
 * @typedef {import('../types.js').StoredNotification} StoredNotification
 * @typedef {import('../types.js').AccountInfo} AccountInfo
 * @typedef {{kind: string|null, unreadOnly: boolean}} Filter
 * @typedef {{before: number|null, limit: number}} PageQuery
 */

/**
 * Keyset pages over the core's list, newest first. `cursors[i]` is the
 * `before` of page i (null for page 0; the last `local_id` of page i-1
 * otherwise); a missing cursor means there is no such page. `pages` holds
 * the rendered window, pages `start` .. `start + pages.length - 1`.
 * @typedef {{cursors: (number|null)[], start: number, pages: StoredNotification[][]}} Pager
 */

/** @returns {Pager} */
export function emptyPager() {
  return { cursors: [null], start: 0, pages: [] };
}

/** @param {Pager} p @returns {StoredNotification[]} */
export function visibleRows(p) {
  return p.pages.flat();
}

/** @param {Pager} p */
export function rowCount(p) {
  return p.pages.reduce((n, page) => n + page.length, 0);
}

/** Index of the page below the window. @param {Pager} p */
export function nextIndex(p) {
  return p.start + p.pages.length;
}

/** @param {Pager} p */
export function canLoadNext(p) {
  return p.cursors[nextIndex(p)] !== undefined;
}

/** @param {Pager} p */
export function canLoadPrev(p) {
  return p.start > 0;
}

/** The query for the page below the window. @param {Pager} p @returns {PageQuery} */
export function nextQuery(p) {
  return { before: p.cursors[nextIndex(p)] ?? null, limit: PAGE_SIZE };
}

/** The query for the page above the window. @param {Pager} p @returns {PageQuery} */
export function prevQuery(p) {
  return { before: p.cursors[p.start - 1] ?? null, limit: PAGE_SIZE };
}

/**
 * Adds the page below the window. A full page gets a cursor for the next
 * one; a short or empty page ends the list. Cursors past it are dropped:
 * they were computed from older answers. Pages scrolled far above are
 * dropped from the window (their cursors stay, to come back to them).
 * @param {Pager} p @param {StoredNotification[]} items the core's answer to nextQuery(p)
 * @returns {{pager: Pager, droppedAbove: number}} rows dropped above the window
 */
export function appendPage(p, items) {
  const index = nextIndex(p);
  // An empty answer: there is no page `index` (nor any after it).
  const cursors = p.cursors.slice(0, items.length > 0 ? index + 1 : index);
  let pages = p.pages;
  if (items.length > 0) pages = [...pages, items];
  if (items.length >= PAGE_SIZE) cursors[index + 1] = items[items.length - 1].local_id;
  let start = p.start;
  let droppedAbove = 0;
  while (pages.length > 1 && pages.reduce((n, pg) => n + pg.length, 0) > MAX_ROWS) {
    droppedAbove += pages[0].length;
    pages = pages.slice(1);
    start += 1;
  }
  return { pager: { cursors, start, pages }, droppedAbove };
}

/**
 * Adds the page above the window (scrolling back up). Only rows inside the
 * page's keyset range are kept. Pages far below are dropped (their
 * cursors stay).
 * @param {Pager} p @param {StoredNotification[]} items the core's answer to prevQuery(p)
 * @returns {Pager}
 */
export function prependPage(p, items) {
  if (p.start === 0) return p;
  const floor = p.cursors[p.start];
  const page = floor == null ? items : items.filter((n) => n.local_id >= floor);
  let pages = [page, ...p.pages];
  while (pages.length > 1 && pages.reduce((n, pg) => n + pg.length, 0) > MAX_ROWS) {
    pages = pages.slice(0, -1);
  }
  return { cursors: p.cursors, start: p.start - 1, pages };
}

/**
 * The queries that re-read the window (after a change in the core). Page
 * 0 is read with room for new items.
 * @param {Pager} p @returns {(PageQuery & {index: number})[]}
 */
export function refreshQueries(p) {
  const n = Math.max(p.pages.length, 1);
  return Array.from({ length: n }, (_, i) => {
    const index = p.start + i;
    return { index, before: p.cursors[index] ?? null, limit: index === 0 ? FIRST_PAGE_REFRESH_LIMIT : PAGE_SIZE };
  });
}

/**
 * Applies the answers to refreshQueries(p). Each page keeps only rows
 * inside its keyset range, so a row is never shown twice. When more new
 * items arrived than page 0 was read with, the window restarts at the
 * newest page (nothing in between is skipped silently).
 * @param {Pager} p @param {StoredNotification[][]} answers in the order of refreshQueries(p)
 * @returns {Pager}
 */
export function applyRefresh(p, answers) {
  const queries = refreshQueries(p);
  if (p.pages.length === 0) {
    // Nothing was loaded yet: the answer is the first page.
    return appendPage(emptyPager(), (answers[0] ?? []).slice(0, PAGE_SIZE)).pager;
  }
  const cursors = p.cursors.slice();
  /** @type {StoredNotification[][]} */
  const pages = [];
  for (let i = 0; i < queries.length; i += 1) {
    const { index, limit } = queries[i];
    const items = answers[i] ?? [];
    const floor = cursors[index + 1];
    if (floor == null) {
      // The last page of the list: take what there is; it may have become full.
      pages.push(items.slice(0, PAGE_SIZE));
      if (items.length >= PAGE_SIZE) cursors[index + 1] = items[PAGE_SIZE - 1].local_id;
      cursors.length = Math.min(cursors.length, index + 2);
      break;
    }
    const inRange = items.filter((n) => n.local_id >= floor);
    if (index === 0 && items.length >= limit && inRange.length === items.length) {
      // More new items than we asked for: a gap would follow. Restart.
      return appendPage(emptyPager(), items.slice(0, PAGE_SIZE)).pager;
    }
    pages.push(inRange);
  }
  return { cursors, start: p.start, pages };
}

/**
 * Whether scrolling asks for more: 'next' near the end, 'prev' near the
 * top of a window that starts below page 0.
 * @param {{scrollTop: number, clientHeight: number, scrollHeight: number}} m
 * @param {{canNext: boolean, canPrev: boolean, threshold?: number}} o
 * @returns {'next'|'prev'|null}
 */
export function scrollIntent(m, o) {
  const threshold = o.threshold ?? 400;
  if (o.canNext && m.scrollHeight - (m.scrollTop + m.clientHeight) < threshold) return 'next';
  if (o.canPrev && m.scrollTop < threshold) return 'prev';
  return null;
}

/**
 * Whether the rows on screen may decide, by scrolling, what to load: only
 * once the first page has come (whoever emptied the list asks for it:
 * the start, a filter) and while they are the pager's (a store change
 * renders a frame later, and that render looks again). Measuring an
 * empty or stale list would ask for a page nobody needs, before the
 * first page is even on the screen.
 * @param {{loaded: boolean, pager: Pager}} n the list's state now
 * @param {Pager|undefined} rendered the pager the rows on screen show
 */
export function rowsMayLoad(n, rendered) {
  return n.loaded && n.pager === rendered;
}

/** The type filter's options. */
export const FILTER_OPTIONS = Object.freeze([
  { value: '', label: 'All types' },
  ...KINDS.map((k) => ({ value: k, label: kindPluralLabel(k) })),
]);

/**
 * The arguments of list_notifications.
 * @param {Filter} filter @param {PageQuery} q
 */
export function listArgs(filter, q) {
  return {
    kind: filter.kind ? normalizeKind(filter.kind) : null,
    unreadOnly: Boolean(filter.unreadOnly),
    before: q.before,
    limit: q.limit,
  };
}

/**
 * What the list says when it has no rows.
 * @param {Filter} filter
 * @param {string|undefined} connection the connection state
 * @returns {{title: string, body: string, action: 'clear_filter'|null}}
 */
export function emptyState(filter, connection) {
  if (connection === 'not_signed_in' || connection === 'signed_out') {
    // The banner says why and offers the sign-in: said once, not twice.
    return {
      title: 'No notifications yet',
      body: 'Booking requests, messages and maintenance updates will appear here once you are signed in.',
      action: null,
    };
  }
  if (filter.kind || filter.unreadOnly) {
    const what = filter.kind ? `${kindPluralLabel(filter.kind).toLowerCase()} notifications` : 'notifications';
    if (filter.unreadOnly && !filter.kind) {
      return { title: 'You are all caught up', body: 'There are no unread notifications.', action: 'clear_filter' };
    }
    return {
      title: `No ${filter.unreadOnly ? 'unread ' : ''}${what}`,
      body: 'Nothing matches this filter yet.',
      action: 'clear_filter',
    };
  }
  if (connection === 'reconnecting' || connection === 'connecting' || connection === 'stopped' || connection === 'keychain_unavailable') {
    return {
      title: 'No notifications yet',
      body: 'You are offline. New notifications will appear here as soon as the connection is back.',
      action: null,
    };
  }
  return {
    title: 'No notifications yet',
    body: 'Booking requests, messages and maintenance updates will appear here.',
    action: null,
  };
}

/**
 * What a notification is about, as the core typed it (the window never
 * reads a notification's raw data); empty when the core sent none.
 * @param {StoredNotification} n
 * @returns {Partial<import('../types.js').NotificationContext>}
 */
function contextOf(n) {
  return n.context && typeof n.context === 'object' ? n.context : {};
}

/**
 * Whether the signed-in user may approve or decline this booking request
 * here. The core decides (the same rule its popups follow); this only reads
 * its answer.
 * @param {StoredNotification} n
 */
export function canDecideBooking(n) {
  return n.can_decide === true;
}

/**
 * A name for a user id known from elsewhere (the conversation list), or null.
 * @typedef {(userId: number) => string|null} KnownName
 */

/** @type {KnownName} */
const noNames = () => null;

/**
 * A person in a notification: the name in its context, else one known from
 * elsewhere, else "User #N".
 * @param {unknown} name @param {number} id @param {KnownName} known
 */
function person(name, id, known) {
  return displayName(typeof name === 'string' && name.trim() ? name : known(id), id);
}

/**
 * The facts an opened notification shows, from its typed context, as label/value
 * text pairs (never markup).
 * @param {StoredNotification} n @param {AccountInfo|null|undefined} account @param {KnownName} [known]
 * @returns {{label: string, value: string}[]}
 */
export function contextFacts(n, account, known = noNames) {
  const c = contextOf(n);
  const kind = normalizeKind(n.kind);
  const me = account?.user_id != null ? Number(account.user_id) : null;
  /** @type {{label: string, value: string}[]} */
  const facts = [];
  /** @param {string} label @param {string|null|undefined} value */
  const add = (label, value) => { if (value) facts.push({ label, value }); };

  if (c.booking_id != null) add('Booking', `#${c.booking_id}`);
  if (c.maintenance_id != null) add('Maintenance request', `#${c.maintenance_id}`);
  if (kind === 'booking') add('Status', bookingStatusLabel(c.status));
  else if (kind === 'maintenance' && c.status) {
    add('Status', c.status.charAt(0).toUpperCase() + c.status.slice(1).replace(/_/g, ' '));
  }
  add('Check-in', formatCalendarDate(c.check_in_date ?? null));
  add('Check-out', formatCalendarDate(c.check_out_date ?? null));

  if (c.property_title) add('Property', c.property_title);
  else if (c.property_id != null) add('Property', `Property #${c.property_id}`);

  if (c.sender_id != null) add('From', person(c.sender_name, c.sender_id, known));
  else add('From', c.sender_name);
  if (c.tenant_id != null && c.tenant_id !== me) add('Tenant', person(c.tenant_name, c.tenant_id, known));
  if (c.landlord_id != null && c.landlord_id !== me) add('Landlord', person(c.landlord_name, c.landlord_id, known));

  if (c.rating != null) add('Rating', `${'★'.repeat(c.rating)}${'☆'.repeat(5 - c.rating)} (${c.rating} of 5)`);
  add('Message', c.content_preview);
  return facts;
}

/**
 * Whom "Message …" in an opened notification writes to: the sender of a
 * message, the tenant of a landlord's booking, the landlord of a
 * tenant's.
 * @param {StoredNotification} n @param {AccountInfo|null|undefined} account @param {KnownName} [known]
 * @returns {{otherId: number, name: string, label: string}|null}
 */
export function chatTarget(n, account, known = noNames) {
  const c = contextOf(n);
  const me = account?.user_id != null ? Number(account.user_id) : null;
  const { sender_id: sender, tenant_id: tenant, landlord_id: landlord } = c;
  if (sender != null && sender !== me) {
    const name = person(c.sender_name, sender, known);
    return { otherId: sender, name, label: `Reply to ${name}` };
  }
  if (tenant != null && tenant !== me && (account?.role === 'landlord' || (landlord != null && landlord === me))) {
    return { otherId: tenant, name: person(c.tenant_name, tenant, known), label: 'Message the tenant' };
  }
  if (landlord != null && landlord !== me && (account?.role === 'tenant' || (tenant != null && tenant === me))) {
    return { otherId: landlord, name: person(c.landlord_name, landlord, known), label: 'Message the landlord' };
  }
  return null;
}

/** The booking a notification is about, if any. @param {StoredNotification} n */
export function bookingIdOf(n) {
  return contextOf(n).booking_id ?? null;
}

/** The sender a message notification opens the conversation with. @param {StoredNotification} n */
export function messageSenderOf(n) {
  if (normalizeKind(n.kind) !== 'message') return null;
  const c = contextOf(n);
  return c.sender_id == null ? null : { otherId: c.sender_id, name: displayName(c.sender_name, c.sender_id) };
}
