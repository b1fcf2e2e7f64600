'use strict';
// camelCase ↔ snake_case at the native boundary. The values under `meta` are
// the user's own JSON, an audit event's `changes` is the server's
// before/after record of it, and a webhook delivery's `payload` is the body
// as signed and sent (what a receiver's `webhooks.verify` returns): all pass
// through untouched in both directions.

const OPAQUE = new Set(['meta', 'changes', 'payload']);

function snakeKey(key) {
  return key.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function camelKey(key) {
  return key.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** JS params → API JSON: camelCase keys → snake_case, Dates → RFC 3339, undefined dropped. */
function toSnake(value) {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toSnake);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    if (inner === undefined) continue;
    out[snakeKey(key)] = OPAQUE.has(key) ? inner : toSnake(inner);
  }
  return out;
}

/** API JSON → JS: snake_case keys → camelCase. */
function toCamel(value) {
  if (Array.isArray(value)) return value.map(toCamel);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) {
    out[camelKey(key)] = OPAQUE.has(key) ? inner : toCamel(inner);
  }
  return out;
}

module.exports = { toSnake, toCamel, snakeKey, camelKey };
