'use strict';
const native = require('./native-binding.js');
const { SecretKey } = require('./secret.js');
const { KeywardError, APIUserAbortError, fromNative } = require('./errors.js');
const { PageIterator } = require('./pagination.js');
const { RESOURCES, OPERATIONS } = require('./resources.js');

const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
const MAX_CANCEL_ID = 0xffffffff;
let nextCancelId = 1;

function optionalNumber(value, name, { integer = false } = {}) {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    throw new KeywardError(`keyward: ${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return value;
}

function nativeOptions(options) {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== 'object') throw new KeywardError('keyward: request options must be an object');
  const out = {};
  const timeout = optionalNumber(options.timeout, 'timeout');
  if (timeout !== undefined) out.timeout_ms = timeout;
  const maxRetries = optionalNumber(options.maxRetries, 'maxRetries', { integer: true });
  if (maxRetries !== undefined) out.max_retries = maxRetries;
  if (options.idempotencyKey !== undefined && options.idempotencyKey !== null) {
    out.idempotency_key = String(options.idempotencyKey);
  }
  if (options.headers !== undefined && options.headers !== null) {
    if (typeof options.headers !== 'object' || Array.isArray(options.headers)) {
      throw new KeywardError('keyward: headers must be an object of header names to string values');
    }
    out.headers = Object.fromEntries(Object.entries(options.headers).map(([name, value]) => [name, String(value)]));
  }
  return out;
}

class Keyward {
  #native;

  /**
   * @param {object} [options]
   * @param {string} [options.apiKey] defaults to process.env.KEYWARD_API_KEY
   * @param {string} [options.baseURL] defaults to process.env.KEYWARD_BASE_URL, then http://127.0.0.1:8080
   * @param {number} [options.timeout] per-request timeout in ms (default 30000)
   * @param {number} [options.maxRetries] retries on connection errors, timeouts, 408/429/5xx (default 2)
   * @param {string} [options.organizationId] sent as X-Organization-Id on every request; defaults to
   *   process.env.KEYWARD_ORGANIZATION_ID
   */
  constructor(options = {}) {
    if (options === null || typeof options !== 'object') throw new KeywardError('keyward: options must be an object');
    const apiKey = options.apiKey ?? process.env.KEYWARD_API_KEY;
    if (typeof apiKey !== 'string' || apiKey.length === 0) {
      throw new KeywardError(
        'keyward: no API key. Pass it as `new Keyward({ apiKey })` or set the KEYWARD_API_KEY environment variable.',
      );
    }
    const baseURL = options.baseURL ?? (process.env.KEYWARD_BASE_URL || undefined) ?? DEFAULT_BASE_URL;
    const config = { api_key: apiKey, base_url: baseURL };
    const timeout = optionalNumber(options.timeout, 'timeout');
    if (timeout !== undefined) config.timeout_ms = timeout;
    const maxRetries = optionalNumber(options.maxRetries, 'maxRetries', { integer: true });
    if (maxRetries !== undefined) config.max_retries = maxRetries;
    const organizationId = options.organizationId ?? (process.env.KEYWARD_ORGANIZATION_ID || undefined);
    if (organizationId !== undefined && organizationId !== null) {
      if (typeof organizationId !== 'string' || organizationId.length === 0) {
        throw new KeywardError('keyward: organizationId must be a non-empty string');
      }
      config.organization_id = organizationId;
    }
    config.user_agent = `keyward-node/${require('../package.json').version} node/${process.versions.node}`;
    try {
      this.#native = new native.NativeClient(config);
    } catch (error) {
      throw fromNative(error);
    }
    this.baseURL = baseURL;
    this.timeout = timeout ?? 30000;
    this.maxRetries = maxRetries ?? 2;
    this.organizationId = organizationId ?? null;
    // One handle per resource of the spec (lib/resources.js, generated).
    for (const [name, Resource] of Object.entries(RESOURCES)) this[name] = new Resource(this);
  }

  /**
   * Runs one operation (`'api_keys.create'`, see OPERATIONS) through
   * `NativeClient.call`: `args()` builds its arguments (path and query
   * parameters by name, the body under `body`; a throw rejects the promise),
   * `shape` turns the JSON result into what the caller sees.
   */
  _call(operation, args, options, shape) {
    const nativeClient = this.#native;
    let callArgs;
    let opts;
    try {
      callArgs = args();
      opts = nativeOptions(options) ?? {};
    } catch (error) {
      return Promise.reject(fromNative(error));
    }
    const signal = options && options.signal;
    if (signal && signal.aborted) return Promise.reject(new APIUserAbortError());
    let cancelId;
    if (signal) {
      cancelId = nextCancelId;
      nextCancelId = nextCancelId >= MAX_CANCEL_ID ? 1 : nextCancelId + 1;
      opts.cancel_id = cancelId;
    }
    let pending;
    try {
      pending = nativeClient.call(operation, callArgs, opts);
    } catch (error) {
      return Promise.reject(fromNative(error));
    }
    // The closure keeps the native client alive until the call settles.
    const result = pending.then(
      (value) => {
        void nativeClient;
        return shape(value);
      },
      (error) => {
        throw fromNative(error);
      },
    );
    if (!signal) return result;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        native.cancel(cancelId);
        reject(new APIUserAbortError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      result.then(resolve, reject).finally(() => {
        signal.removeEventListener('abort', onAbort);
        native.releaseCancelId(cancelId);
      });
    });
  }

  toString() {
    return `Keyward(${this.baseURL})`;
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Keyward { baseURL: '${this.baseURL}' }`;
  }
}

/** The `keyHash` of a key to import: SHA-256 of its full text, 64 lower-case hex characters. */
function keyHash(key) {
  const plain = key instanceof SecretKey ? key.value : key;
  if (typeof plain !== 'string' || plain.length === 0) throw new TypeError('keyHash needs a non-empty string');
  return native.keyHash(plain);
}

module.exports = { Keyward, PageIterator, DEFAULT_BASE_URL, OPERATIONS, keyHash };
