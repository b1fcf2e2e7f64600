'use strict';
const util = require('node:util');

const WEBHOOK_SECRET_PREFIX = 'whsec_';

/**
 * A plaintext secret shown once: an API key (create, regenerate, rotate) or a
 * webhook signing secret (`whsec_…`: endpoint create and rotateSecret, the
 * organization's signing secret). `.value` returns
 * it; every printed form (toString, template strings, console.log,
 * util.inspect, JSON.stringify) shows only the public prefix, e.g.
 * `kw_live_abc1…` or `whsec_…`.
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

  /**
   * `{prefix}_{env}_` plus the first 4 secret characters, e.g. `kw_live_abc1`;
   * for a webhook secret only `whsec_` (everything after it is key material).
   */
  get prefix() {
    const value = this.#value;
    if (value.startsWith(WEBHOOK_SECRET_PREFIX)) return WEBHOOK_SECRET_PREFIX;
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
