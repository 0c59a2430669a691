import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isActivation, listTarget, rowHandlesKey, tabTarget } from '../app/lib/keyboard.js';

test('arrow keys move one row and stop at the ends', () => {
  assert.equal(listTarget('ArrowDown', 0, 5), 1);
  assert.equal(listTarget('ArrowDown', 4, 5), 4);
  assert.equal(listTarget('ArrowUp', 0, 5), 0);
  assert.equal(listTarget('ArrowUp', 3, 5), 2);
});

test('Page keys jump, Home and End go to the ends, other keys are not handled', () => {
  assert.equal(listTarget('PageDown', 0, 50), 10);
  assert.equal(listTarget('PageDown', 45, 50), 49);
  assert.equal(listTarget('PageUp', 5, 50), 0);
  assert.equal(listTarget('Home', 30, 50), 0);
  assert.equal(listTarget('End', 3, 50), 49);
  assert.equal(listTarget('a', 3, 50), null);
  assert.equal(listTarget('ArrowDown', 0, 0), null);
});

test('tabs wrap around with Left and Right', () => {
  assert.equal(tabTarget('ArrowRight', 2, 3), 0);
  assert.equal(tabTarget('ArrowLeft', 0, 3), 2);
  assert.equal(tabTarget('End', 0, 3), 2);
  assert.equal(tabTarget('ArrowDown', 0, 3), null);
});

test('Enter and Space activate; inside a row they belong to the focused button', () => {
  assert.ok(isActivation('Enter'));
  assert.ok(isActivation(' '));
  assert.ok(!isActivation('a'));
  assert.equal(rowHandlesKey({ targetIsRow: false, key: 'Enter' }), false);
  assert.equal(rowHandlesKey({ targetIsRow: false, key: 'ArrowDown' }), true);
  assert.equal(rowHandlesKey({ targetIsRow: true, key: ' ' }), true);
});
