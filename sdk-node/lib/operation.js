'use strict';
// What every generated method (lib/resources.js) is made of: argument checks,
// camelCase params → the native call's snake_case arguments, and the native
// result (the response JSON, snake_case) → what the caller sees, converted
// by the result schema's shape (SHAPES in lib/resources.js).

const { toSnake, toCamel, camelKey } = require('./case.js');
const { SecretKey } = require('./secret.js');
const { KeywardError } = require('./errors.js');
const { PageIterator } = require('./pagination.js');

/** A resource handle: `client.apiKeys` and the like. */
class Resource {
  constructor(client) {
    this._client = client;
  }
}

function requireId(id, name = 'id') {
  if (typeof id !== 'string' || id.length === 0) {
    throw new KeywardError(`keyward: ${name} must be a non-empty string`);
  }
  return id;
}

function requireObject(params, name = 'params') {
  if (params === null || typeof params !== 'object' || Array.isArray(params)) {
    throw new KeywardError(`keyward: ${name} must be an object`);
  }
  return params;
}

function isPlainObject(value) {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A SecretKey anywhere in what a caller passes is sent as its plaintext. */
function unwrapSecrets(value) {
  if (value instanceof SecretKey) return value.value;
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (!isPlainObject(value)) return value;
  const out = {};
  for (const [key, inner] of Object.entries(value)) out[key] = unwrapSecrets(inner);
  return out;
}

/** Params → the API's JSON: snake_case keys, Dates as RFC 3339, SecretKeys as plaintext. */
function input(params) {
  return toSnake(unwrapSecrets(params));
}

/**
 * The result converters for one table of shapes: `output(kind)(raw)`,
 * `page(item)(raw)` (`{ items, next_cursor }` → `{ data, nextCursor }`) and
 * `empty` (no body → undefined).
 */
function shapes(table) {
  function convert(value, kind) {
    if (value === null || value === undefined) return value;
    switch (kind) {
      case 'v':
      case 'o':
        return value;
      case 's':
        return typeof value === 'string' && value.length > 0 ? new SecretKey(value) : value;
      default:
        if (kind.startsWith('[')) {
          const item = kind.slice(1);
          return Array.isArray(value) ? value.map((inner) => convert(inner, item)) : value;
        }
        return object(value, kind);
    }
  }

  function object(raw, name) {
    const shape = table[name];
    if (!shape || !isPlainObject(raw)) return toCamel(raw);
    const out = {};
    for (const [field, [camel, kind, optional]] of Object.entries(shape)) {
      const value = raw[field];
      if (value === undefined || value === null) {
        // Every documented field is present: an absent optional one is null.
        if (value === null || optional) out[camel] = null;
        continue;
      }
      out[camel] = convert(value, kind);
    }
    // A field newer than this SDK still comes through, camelCased.
    for (const [field, value] of Object.entries(raw)) {
      if (!Object.hasOwn(shape, field)) out[camelKey(field)] = toCamel(value);
    }
    return out;
  }

  return {
    output: (kind) => (raw) => convert(raw, kind),
    page: (item) => (raw) => ({
      data: (raw && Array.isArray(raw.items) ? raw.items : []).map((inner) => convert(inner, item)),
      nextCursor: (raw && raw.next_cursor) ?? null,
    }),
    empty: () => undefined,
  };
}

module.exports = { Resource, PageIterator, requireId, requireObject, input, shapes };
