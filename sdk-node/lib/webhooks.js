'use strict';
// Verify the webhooks keyward sends (Standard Webhooks signatures). The check
// itself is the Rust core's (`keyward::webhooks`, through the native addon);
// this layer accepts Node's payload and header shapes and maps the errors.

const native = require('./native-binding.js');
const { fromNative } = require('./errors.js');
const { WebhookVerificationError } = require('./errors.js');

/** How far `webhook-timestamp` may be from the local clock, past or future. */
const DEFAULT_TOLERANCE_SECONDS = 300;

function payloadBuffer(payload) {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  if (Buffer.isBuffer(payload)) return payload;
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (payload instanceof ArrayBuffer) return Buffer.from(payload);
  throw new TypeError(
    'keyward: the webhook payload must be the raw body as a string or a Buffer ' +
      '(with express: express.raw({ type: "application/json" }))',
  );
}

function headerValue(value) {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Buffer.isBuffer(value)) return value.toString('latin1');
  throw new TypeError(`keyward: a webhook header value must be a string, not ${typeof value}`);
}

/**
 * `[[name, value], …]` from a fetch `Headers`, a `Map`, an array of pairs, or a
 * plain object such as Node's `req.headers` (array values become one pair each,
 * undefined ones are skipped). Names are matched case-insensitively in Rust.
 */
function headerPairs(headers) {
  if (headers === null || typeof headers !== 'object') {
    throw new TypeError('keyward: webhook headers must be an object, a Headers or a Map');
  }
  const pairs = [];
  const add = (name, value) => {
    if (value === undefined || value === null) return;
    if (Array.isArray(value)) {
      for (const item of value) add(name, item);
      return;
    }
    pairs.push([String(name), headerValue(value)]);
  };
  if (typeof headers[Symbol.iterator] === 'function') {
    // fetch Headers, Map, or [name, value] pairs.
    for (const entry of headers) add(entry[0], entry[1]);
  } else {
    for (const name of Object.keys(headers)) add(name, headers[name]);
  }
  return pairs;
}

function toleranceSeconds(options) {
  if (options === undefined || options === null) return DEFAULT_TOLERANCE_SECONDS;
  if (typeof options !== 'object') throw new TypeError('keyward: webhook options must be an object');
  const value = options.toleranceSeconds;
  if (value === undefined) return DEFAULT_TOLERANCE_SECONDS;
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError('keyward: toleranceSeconds must be a non-negative integer number of seconds');
  }
  return value;
}

/**
 * One webhook endpoint's secret (`whsec_…`): verifies, and signs, its messages.
 * Build it once. A malformed secret throws a `KeywardError` here. The secret is
 * kept in the native addon and never printed.
 */
class Webhook {
  #native;

  constructor(secret, options) {
    if (typeof secret !== 'string') throw new TypeError('keyward: the webhook secret must be a string (whsec_…)');
    const tolerance = toleranceSeconds(options);
    try {
      this.#native = new native.NativeWebhook(secret, tolerance);
    } catch (error) {
      throw fromNative(error);
    }
  }

  /** How far `webhook-timestamp` may be from now, into the past or the future. */
  get toleranceSeconds() {
    return this.#native.toleranceSeconds;
  }

  /**
   * Verifies one message and returns its body parsed as JSON. Throws a
   * `WebhookVerificationError` (see its `code`) when it must be rejected.
   */
  verify(payload, headers) {
    const body = payloadBuffer(payload);
    const pairs = headerPairs(headers);
    try {
      return this.#native.verify(body, pairs);
    } catch (error) {
      throw fromNative(error);
    }
  }

  /**
   * The `webhook-signature` value (`v1,<base64>`) of a message; `timestamp` is
   * Unix seconds or a Date. For tests, and for relaying events with this secret.
   */
  sign(msgId, timestamp, payload) {
    if (typeof msgId !== 'string') throw new TypeError('keyward: msgId must be a string');
    let seconds = timestamp;
    if (timestamp instanceof Date) seconds = Math.floor(timestamp.getTime() / 1000);
    if (!Number.isSafeInteger(seconds)) {
      throw new TypeError('keyward: timestamp must be an integer number of Unix seconds or a Date');
    }
    return this.#native.sign(msgId, seconds, payloadBuffer(payload));
  }

  toString() {
    return `Webhook { toleranceSeconds: ${this.toleranceSeconds} }`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return this.toString();
  }
}

/**
 * Verifies one webhook with `secret` and returns its body parsed as JSON.
 * Shorthand for `new Webhook(secret, options).verify(payload, headers)`.
 */
function verify(payload, headers, secret, options) {
  return new Webhook(secret, options).verify(payload, headers);
}

module.exports = { verify, Webhook, WebhookVerificationError, DEFAULT_TOLERANCE_SECONDS };
