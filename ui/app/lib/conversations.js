/**
 * Chat logic: conversations grouped by the other person, thread rows with
 * day headings, the composer's rules. Pure: no DOM, no IPC.
 */

import { dayKey, displayName, formatClock, formatDayHeading, singleLine } from './format.js';

/**
 * @typedef {import('../types.js').Conversation} Conversation
 * @typedef {import('../types.js').StoredChatMessage} ChatMessage
 * @typedef {{otherId: number, name: string, preview: string, atMs: number, unread: number}} ConversationRow
 */

/** Longest message the composer sends. */
export const MAX_MESSAGE_CHARS = 5000;

/**
 * One row per other person, most recent first. Should the core ever
 * answer with two entries for one person, they are merged: the latest
 * message wins and unread counts add up.
 * @param {Conversation[]} conversations
 * @returns {ConversationRow[]}
 */
export function conversationRows(conversations) {
  /** @type {Map<number, ConversationRow>} */
  const byOther = new Map();
  for (const c of conversations ?? []) {
    if (c == null || !Number.isFinite(Number(c.other_id))) continue;
    const otherId = Number(c.other_id);
    const row = {
      otherId,
      name: displayName(c.other_name, otherId),
      preview: singleLine(c.last_content, 120),
      atMs: Number(c.last_at_ms) || 0,
      unread: Math.max(0, Number(c.unread) || 0),
    };
    const seen = byOther.get(otherId);
    if (!seen) { byOther.set(otherId, row); continue; }
    const [newer, older] = row.atMs > seen.atMs ? [row, seen] : [seen, row];
    const fallback = `User #${otherId}`;
    byOther.set(otherId, {
      ...newer,
      // A real name beats the "User #N" fallback, whichever entry has it.
      name: newer.name !== fallback ? newer.name : older.name,
      unread: seen.unread + row.unread,
    });
  }
  return [...byOther.values()].sort((a, b) => b.atMs - a.atMs || a.otherId - b.otherId);
}

/** Unread chat messages over all conversations. @param {Conversation[]} conversations */
export function totalUnread(conversations) {
  return conversationRows(conversations).reduce((n, c) => n + c.unread, 0);
}

/**
 * The name of the other person: from the conversation list, else a hint
 * (e.g. a notification's sender_name), else "User #N".
 * @param {number} otherId @param {Conversation[]} conversations @param {string|null} [hint]
 */
export function nameOf(otherId, conversations, hint = null) {
  const c = (conversations ?? []).find((x) => Number(x.other_id) === otherId && typeof x.other_name === 'string' && x.other_name.trim());
  return displayName(c?.other_name ?? hint, otherId);
}

/**
 * @typedef {{type: 'day', key: string, label: string}} DayRow
 * @typedef {{type: 'message', key: string, mine: boolean, content: string, pending: boolean, atMs: number, time: string, startsGroup: boolean}} MessageRow
 */

/**
 * A thread as displayed: oldest first, with a heading for each day, and
 * consecutive messages of one sender grouped. `mine` is decided by the
 * signed-in user's id; without it, anything not from the other person is
 * mine.
 * @param {ChatMessage[]} newestFirst the core's answer(s), newest first
 * @param {{meId: number|null|undefined, otherId: number, now: number, locale?: string, timeZone?: string}} o
 * @returns {(DayRow|MessageRow)[]}
 */
export function threadRows(newestFirst, o) {
  const seen = new Set();
  const msgs = [];
  for (const m of newestFirst ?? []) {
    if (m == null || seen.has(m.local_id)) continue;
    seen.add(m.local_id);
    msgs.push(m);
  }
  msgs.sort((a, b) => a.at_ms - b.at_ms || a.local_id - b.local_id);
  /** @type {(DayRow|MessageRow)[]} */
  const rows = [];
  let lastDay = '';
  /** @type {boolean|null} */
  let lastMine = null;
  for (const m of msgs) {
    const day = dayKey(m.at_ms, o);
    if (day !== lastDay) {
      rows.push({ type: 'day', key: `day-${day}`, label: formatDayHeading(m.at_ms, o.now, o) });
      lastDay = day;
      lastMine = null;
    }
    const mine = o.meId != null ? Number(m.sender_id) === Number(o.meId) : Number(m.sender_id) !== o.otherId;
    rows.push({
      type: 'message',
      key: `m-${m.local_id}`,
      mine,
      content: typeof m.content === 'string' ? m.content : '',
      pending: Boolean(m.pending),
      atMs: m.at_ms,
      time: formatClock(m.at_ms, o),
      startsGroup: lastMine !== mine,
    });
    lastMine = mine;
  }
  return rows;
}

/**
 * Adds an older page below a thread (both newest first), without
 * duplicates.
 * @param {ChatMessage[]} thread @param {ChatMessage[]} older
 */
export function appendOlder(thread, older) {
  const ids = new Set(thread.map((m) => m.local_id));
  return [...thread, ...older.filter((m) => !ids.has(m.local_id))];
}

/**
 * Checks a draft before sending.
 * @param {string} draft
 * @returns {{ok: true, content: string} | {ok: false, error: string}}
 */
export function checkDraft(draft) {
  const content = (draft ?? '').trim();
  if (!content) return { ok: false, error: 'Write a message first.' };
  if (Array.from(content).length > MAX_MESSAGE_CHARS) {
    return { ok: false, error: `Messages can be at most ${MAX_MESSAGE_CHARS} characters long.` };
  }
  return { ok: true, content };
}

/**
 * What a key press in the composer does: Enter sends, Shift+Enter (or an
 * IME composition) makes a new line; Ctrl/Cmd+Enter also sends.
 * @param {{key: string, shiftKey?: boolean, isComposing?: boolean}} e
 * @returns {'send'|null}
 */
export function composerKeyAction(e) {
  if (e.key !== 'Enter' || e.isComposing) return null;
  return e.shiftKey ? null : 'send';
}
