/**
 * A tiny stand-in for `document`, enough for lib/dom.js and the row
 * builders: elements, text nodes, attributes, children, listeners. Its
 * `innerHTML` only serialises (escaping text, as a browser would) and
 * refuses to be set, so a test sees exactly what became markup.
 */

const VOID = new Set(['input', 'br', 'img', 'meta', 'link', 'path']);

/** @param {string} s */
const escapeText = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
/** @param {string} s */
const escapeAttr = (s) => escapeText(s).replace(/"/g, '&quot;');

class FakeNode {
  constructor() {
    /** @type {FakeElement|null} */
    this.parentNode = null;
  }
  get nextSibling() {
    if (!this.parentNode) return null;
    const kids = this.parentNode.childNodes;
    return kids[kids.indexOf(this) + 1] ?? null;
  }
  remove() { this.parentNode?.removeChild(this); }
}

export class FakeText extends FakeNode {
  /** @param {string} data */
  constructor(data) { super(); this.nodeType = 3; this.data = data; }
  get textContent() { return this.data; }
  set textContent(v) { this.data = String(v); }
  serialize() { return escapeText(this.data); }
}

export class FakeElement extends FakeNode {
  /** @param {string} tag @param {FakeDocument} doc @param {string|null} ns */
  constructor(tag, doc, ns = null) {
    super();
    this.nodeType = 1;
    this.tagName = tag.toUpperCase();
    this.localName = tag;
    this.namespaceURI = ns;
    this.ownerDocument = doc;
    /** @type {FakeNode[]} */
    this.childNodes = [];
    /** @type {Map<string, string>} */
    this.attributes = new Map();
    /** @type {Record<string, string>} */
    this.dataset = {};
    /** @type {Record<string, Function[]>} */
    this.listeners = {};
  }
  get children() { return this.childNodes.filter((n) => n instanceof FakeElement); }
  get childElementCount() { return this.children.length; }
  get firstChild() { return this.childNodes[0] ?? null; }
  get lastChild() { return this.childNodes[this.childNodes.length - 1] ?? null; }
  get lastElementChild() { return this.children.at(-1) ?? null; }
  /** @param {FakeNode} node @param {FakeNode|null} [ref] */
  insertBefore(node, ref = null) {
    node.parentNode?.removeChild(node);
    const i = ref ? this.childNodes.indexOf(ref) : -1;
    if (i < 0) this.childNodes.push(node); else this.childNodes.splice(i, 0, node);
    node.parentNode = this;
    return node;
  }
  /** @param {FakeNode} node */
  appendChild(node) { return this.insertBefore(node, null); }
  /** @param {FakeNode} node */
  removeChild(node) {
    const i = this.childNodes.indexOf(node);
    if (i < 0) throw new Error('not a child');
    this.childNodes.splice(i, 1);
    node.parentNode = null;
    return node;
  }
  /** @param {...FakeNode} nodes */
  replaceChildren(...nodes) {
    for (const n of [...this.childNodes]) this.removeChild(n);
    for (const n of nodes) this.appendChild(n);
  }
  /** @param {FakeNode|null} node */
  contains(node) {
    for (let n = node; n; n = n.parentNode) if (n === this) return true;
    return false;
  }
  /** @param {string} name @param {string} value */
  setAttribute(name, value) { this.attributes.set(name, String(value)); }
  /** @param {string} name */
  getAttribute(name) { return this.attributes.get(name) ?? null; }
  /** @param {string} name */
  removeAttribute(name) { this.attributes.delete(name); }
  /** @param {string} name */
  hasAttribute(name) { return this.attributes.has(name); }
  get className() { return this.getAttribute('class') ?? ''; }
  set className(v) { this.setAttribute('class', v); }
  get textContent() { return this.childNodes.map((n) => /** @type {any} */ (n).textContent).join(''); }
  set textContent(v) { this.replaceChildren(new FakeText(String(v))); }
  /** @param {string} type @param {Function} fn */
  addEventListener(type, fn) { (this.listeners[type] ??= []).push(fn); }
  /** @param {string} type @param {object} [init] */
  dispatch(type, init = {}) {
    const e = { type, target: this, defaultPrevented: false, preventDefault() { this.defaultPrevented = true; }, stopPropagation() {}, ...init };
    for (const fn of this.listeners[type] ?? []) fn(e);
    return e;
  }
  focus() { this.ownerDocument.activeElement = this; }
  /** All descendants, depth first. @returns {FakeNode[]} */
  descendants() {
    return this.childNodes.flatMap((n) => [n, ...(n instanceof FakeElement ? n.descendants() : [])]);
  }
  serialize() {
    const attrs = [...this.attributes].map(([k, v]) => ` ${k}="${escapeAttr(v)}"`).join('');
    const data = Object.entries(this.dataset).map(([k, v]) => ` data-${k}="${escapeAttr(v)}"`).join('');
    if (VOID.has(this.localName)) return `<${this.localName}${attrs}${data}>`;
    return `<${this.localName}${attrs}${data}>${this.childNodes.map((n) => /** @type {any} */ (n).serialize()).join('')}</${this.localName}>`;
  }
  get innerHTML() { return this.childNodes.map((n) => /** @type {any} */ (n).serialize()).join(''); }
  set innerHTML(_) { throw new Error('innerHTML must not be set'); }
}

export class FakeDocument {
  constructor() {
    /** @type {FakeElement|null} */
    this.activeElement = null;
  }
  /** @param {string} tag */
  createElement(tag) { return new FakeElement(tag, this); }
  /** @param {string} ns @param {string} tag */
  createElementNS(ns, tag) { return new FakeElement(tag, this, ns); }
  /** @param {string} data */
  createTextNode(data) { return new FakeText(data); }
}

/** Installs a fresh fake as the global `document`; returns it. */
export function installFakeDocument() {
  const doc = new FakeDocument();
  /** @type {any} */ (globalThis).document = doc;
  return doc;
}
