/**
 * The one way views build DOM: createElement and text nodes. There is no
 * path from data to markup here: strings become text nodes, attributes
 * are set one by one, and event-handler or style attributes are refused.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Properties set as DOM properties rather than attributes. */
const PROPS = new Set(['value', 'checked', 'disabled', 'hidden', 'tabIndex', 'type', 'id', 'name', 'htmlFor', 'placeholder', 'autocomplete', 'spellcheck', 'rows', 'required', 'selected', 'open']);

/**
 * @typedef {Node|string|number|null|undefined|false} Child
 * @typedef {Record<string, unknown> & {class?: string, text?: string, on?: Record<string, EventListener>, dataset?: Record<string, string>}} Props
 */

/** @param {string} name */
function checkAttribute(name) {
  const n = name.toLowerCase();
  if (n.startsWith('on') || n === 'style' || n === 'srcdoc' || n === 'innerhtml' || n === 'outerhtml') {
    throw new Error(`dom: refusing to set "${name}" as an attribute`);
  }
}

/**
 * Appends children: strings and numbers as text nodes (never parsed),
 * nodes as they are; null, undefined and false are skipped.
 * @param {Node} el @param {(Child|Child[])[]} children
 */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    if (typeof c === 'string' || typeof c === 'number') el.appendChild(document.createTextNode(String(c)));
    else el.appendChild(/** @type {Node} */ (c));
  }
  return el;
}

/**
 * Creates an element. `props`: `class`, `text` (its text content),
 * `on` (event listeners), `dataset`, a few DOM properties (value,
 * checked, disabled, hidden, …) and otherwise attributes (aria-*, role…).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag @param {Props} [props] @param {...(Child|Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/**
 * @param {Element} el @param {Props} props
 */
function setProps(el, props) {
  for (const [k, v] of Object.entries(props)) {
    if (v == null || v === false) continue;
    if (k === 'class') el.setAttribute('class', String(v));
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'on') {
      for (const [type, fn] of Object.entries(/** @type {Record<string, EventListener>} */ (v))) el.addEventListener(type, fn);
    } else if (k === 'dataset') {
      for (const [dk, dv] of Object.entries(/** @type {Record<string, string>} */ (v))) /** @type {HTMLElement} */ (el).dataset[dk] = String(dv);
    } else if (PROPS.has(k)) {
      /** @type {any} */ (el)[k] = v;
    } else {
      checkAttribute(k);
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/**
 * An SVG element (icons), built the same way.
 * @param {string} tag @param {Record<string, string|number>} [attrs] @param {...Element} children
 */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    checkAttribute(k);
    el.setAttribute(k, String(v));
  }
  for (const c of children) el.appendChild(c);
  return el;
}

/**
 * Sets an element's text when it differs (keeps screen readers quiet
 * about unchanged live regions).
 * @param {Node} el @param {string} text
 */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

/**
 * Shows or hides an element (its `hidden` property), touching the DOM
 * only on a change.
 * @param {HTMLElement} el @param {boolean} visible
 */
export function show(el, visible) {
  if (el.hidden === visible) el.hidden = !visible;
}

/**
 * Lists show times to the minute ("5 min ago"), so they re-render when
 * this changes, not on every tick of a countdown elsewhere.
 * @param {number|undefined} now
 */
export function timeBucket(now) {
  return now == null ? -1 : Math.floor(now / 30_000);
}

/**
 * Keyed list update: rows whose signature did not change keep their
 * element (and focus); changed rows are rebuilt; order follows `items`.
 * @template T
 * @param {HTMLElement} container holds only these rows
 * @param {T[]} items
 * @param {{key: (item: T) => string, signature: (item: T) => string, build: (item: T) => HTMLElement}} fns
 * @param {Map<string, {el: HTMLElement, sig: string}>} cache from the previous call (updated in place)
 */
export function reconcile(container, items, fns, cache) {
  const active = typeof document !== 'undefined' ? document.activeElement : null;
  /** @type {string|null} */
  let focusedKey = null;
  /** @type {Map<string, {el: HTMLElement, sig: string}>} */
  const next = new Map();
  for (const item of items) {
    const key = fns.key(item);
    if (next.has(key)) continue;
    const sig = fns.signature(item);
    let entry = cache.get(key);
    if (!entry || entry.sig !== sig) {
      if (entry && active && entry.el.contains(active)) focusedKey = key;
      entry = { el: fns.build(item), sig };
    }
    next.set(key, entry);
  }
  for (const [key, entry] of cache) {
    if (next.get(key)?.el !== entry.el && entry.el.parentNode === container) container.removeChild(entry.el);
  }
  let cursor = container.firstChild;
  for (const { el } of next.values()) {
    if (el === cursor) cursor = cursor.nextSibling;
    else container.insertBefore(el, cursor);
  }
  cache.clear();
  for (const [k, v] of next) cache.set(k, v);
  if (focusedKey != null) next.get(focusedKey)?.el.focus();
}
