/**
 * Keyboard rules for lists and tabs: which index a key moves to, which
 * keys activate. Pure: works on key names and indices, never on the DOM.
 */

/** Rows skipped by PageUp / PageDown in a list. */
export const PAGE_STEP = 10;

/**
 * Where focus goes in a vertical list after a key press, or null when the
 * key is not a navigation key. Clamps at both ends (no wrap).
 * @param {string} key @param {number} index @param {number} count @param {number} [pageStep]
 * @returns {number|null}
 */
export function listTarget(key, index, count, pageStep = PAGE_STEP) {
  if (count <= 0) return null;
  const clamp = (/** @type {number} */ i) => Math.max(0, Math.min(count - 1, i));
  switch (key) {
    case 'ArrowDown': return clamp(index + 1);
    case 'ArrowUp': return clamp(index - 1);
    case 'PageDown': return clamp(index + pageStep);
    case 'PageUp': return clamp(index - pageStep);
    case 'Home': return 0;
    case 'End': return count - 1;
    default: return null;
  }
}

/**
 * Where focus goes in a horizontal tab list; wraps around.
 * @param {string} key @param {number} index @param {number} count
 * @returns {number|null}
 */
export function tabTarget(key, index, count) {
  if (count <= 0) return null;
  switch (key) {
    case 'ArrowRight': return (index + 1) % count;
    case 'ArrowLeft': return (index - 1 + count) % count;
    case 'Home': return 0;
    case 'End': return count - 1;
    default: return null;
  }
}

/** Enter and Space activate a focused row. @param {string} key */
export function isActivation(key) {
  return key === 'Enter' || key === ' ' || key === 'Spacebar';
}

/**
 * Whether a list row handles a key itself, or leaves it to a control
 * inside it (a button, a field) that has focus.
 * @param {{targetIsRow: boolean, key: string}} e
 */
export function rowHandlesKey(e) {
  return e.targetIsRow || (e.key !== ' ' && e.key !== 'Enter' && e.key !== 'Spacebar');
}
