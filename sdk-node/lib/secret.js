'use strict';
const util = require('node:util');

/**
 * A plaintext API key, shown once by create/regenerate/rotate. `.value` returns
 * it; every printed form (toString, template strings, console.log,
 * util.inspect, JSON.stringify) shows only the key prefix, e.g. `kw_live_abc1…`.
 */
class SecretKey {
  #value;

  constructor(value) {
    if (typeof value !== 'string' || value.length === 0) {
      throw new TypeError('SecretKey needs a non-empty string');
    }
    this.#value = value;
    Object.freeze(this);
  }

  /** The full plaintext key. Store it now: the API never shows it again. */
  get value() {
    return this.#value;
  }

  /** `{prefix}_{env}_` plus the first 4 secret characters, e.g. `kw_live_abc1`. */
  get prefix() {
    const value = this.#value;
    const cut = value.lastIndexOf('_');
    if (cut < 0) return value.slice(0, 4);
    return value.slice(0, Math.min(value.length, cut + 5));
  }

  /** The masked form, e.g. `kw_live_abc1…`. */
  toString() {
    return `${this.prefix}…`;
  }

  toJSON() {
    return this.toString();
  }

  [Symbol.toPrimitive]() {
    return this.toString();
  }

  [util.inspect.custom]() {
    return `SecretKey(${this.toString()})`;
  }
}

module.exports = { SecretKey };
