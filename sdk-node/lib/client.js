'use strict';
const native = require('./native-binding.js');
const { toSnake, toCamel } = require('./case.js');
const { SecretKey } = require('./secret.js');
const { fill } = require('./models.js');
const { KeywardError, APIUserAbortError, fromNative } = require('./errors.js');

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
  return out;
}

function secretify(value, field) {
  if (value && typeof value[field] === 'string') value[field] = new SecretKey(value[field]);
  return value;
}

/** A created key: the ApiKey with its plaintext `key` as a SecretKey. */
function createdKey(raw) {
  return secretify(toCamel(fill(raw, 'ApiKey')), 'key');
}

function rotatedKey(raw) {
  return secretify(toCamel(fill(raw, 'RotatedApiKey')), 'key');
}

const apiKey = (raw) => toCamel(fill(raw, 'ApiKey'));
const project = (raw) => toCamel(fill(raw, 'Project'));
const verifyResult = (raw) => toCamel(fill(raw, 'VerifyKeyResponse'));
const organization = (raw) => toCamel(fill(raw, 'Organization'));
const member = (raw) => toCamel(fill(raw, 'Member'));
const environment = (raw) => toCamel(fill(raw, 'Environment'));
const webhookEndpoint = (raw) => toCamel(fill(raw, 'WebhookEndpoint'));
const webhookDelivery = (raw) => toCamel(fill(raw, 'WebhookDelivery'));

/** An endpoint with its signing `secret` (shown once) as a SecretKey. */
function createdEndpoint(raw) {
  return secretify(webhookEndpoint(raw), 'secret');
}

function pageOf(model) {
  return (raw) => ({ data: raw.items.map((item) => toCamel(fill(item, model))), nextCursor: raw.next_cursor ?? null });
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

/**
 * An async iterable over every item of a list, fetching pages lazily by
 * following the cursor: `for await (const key of client.apiKeys.list())`.
 */
class PageIterator {
  #fetchPage;
  #cursor;

  constructor(fetchPage, cursor) {
    this.#fetchPage = fetchPage;
    this.#cursor = cursor;
  }

  async *[Symbol.asyncIterator]() {
    let cursor = this.#cursor;
    for (;;) {
      const page = await this.#fetchPage(cursor);
      for (const item of page.data) yield item;
      if (!page.nextCursor || page.data.length === 0 || page.nextCursor === cursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Pages instead of items: `for await (const page of client.apiKeys.list().pages())`. */
  async *pages() {
    let cursor = this.#cursor;
    for (;;) {
      const page = await this.#fetchPage(cursor);
      yield page;
      if (!page.nextCursor || page.data.length === 0 || page.nextCursor === cursor) return;
      cursor = page.nextCursor;
    }
  }

  /** Collects items into an array, stopping after `max` (default: all). */
  async toArray({ max = Infinity } = {}) {
    const items = [];
    if (max <= 0) return items;
    for await (const item of this) {
      items.push(item);
      if (items.length >= max) break;
    }
    return items;
  }
}

class Resource {
  constructor(client) {
    this._client = client;
  }
}

class ApiKeys extends Resource {
  /** Creates a key; the result's `key` is the plaintext, as a SecretKey. */
  create(params, options) {
    return this._client._call('apiKeysCreate', () => [toSnake(requireObject(params))], options, createdKey);
  }

  /** Every key the caller can see, newest first, fetched page by page. */
  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(params = {}, options) {
    return this._client._call('apiKeysListPage', () => [toSnake(requireObject(params ?? {}))], options, pageOf('ApiKey'));
  }

  get(id, options) {
    return this._client._call('apiKeysGet', () => [requireId(id)], options, apiKey);
  }

  update(id, params, options) {
    return this._client._call('apiKeysUpdate', () => [requireId(id), toSnake(requireObject(params))], options, apiKey);
  }

  /** Revokes the key (idempotent). Resolves to undefined. */
  revoke(id, options) {
    return this._client._call('apiKeysRevoke', () => [requireId(id)], options, () => undefined);
  }

  /** Same id, new secret; the old secret stops working at once. */
  regenerate(id, options) {
    return this._client._call('apiKeysRegenerate', () => [requireId(id)], options, createdKey);
  }

  /** New key with the same settings; the old one verifies until the grace period ends. */
  rotate(id, params = {}, options) {
    return this._client._call('apiKeysRotate', () => [requireId(id), toSnake(requireObject(params ?? {}))], options, rotatedKey);
  }

  /**
   * Imports existing keys by the SHA-256 of their full text (`keyHash(key)`):
   * `{ keys: [{ keyHash, keyPrefix, name, … }] }` (1-100, all or none) →
   * `{ imported: ApiKey[] }` in request order. A hash already stored rejects
   * with a ConflictError; an invalid item with a BadRequestError naming it.
   */
  import(params, options) {
    return this._client._call(
      'apiKeysImport',
      () => {
        const { keys, ...rest } = requireObject(params);
        if (!Array.isArray(keys)) throw new KeywardError('keyward: import needs { keys: [...] }');
        return [{ ...toSnake(rest), keys: keys.map((key) => toSnake(requireObject(key, 'keys[]'))) }];
      },
      options,
      (raw) => ({ imported: raw.imported.map(apiKey) }),
    );
  }
}

class OrganizationApiKeys extends Resource {
  create(organizationId, params, options) {
    return this._client._call(
      'organizationApiKeysCreate',
      () => [requireId(organizationId, 'organizationId'), toSnake(requireObject(params))],
      options,
      createdKey,
    );
  }

  list(organizationId, params = {}, options) {
    const { cursor: start, ...rest } = requireObject(params ?? {});
    return new PageIterator(
      (cursor) => this.listPage(organizationId, { ...rest, cursor }, options),
      start,
    );
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `cursor`). */
  listPage(organizationId, params = {}, options) {
    return this._client._call(
      'organizationApiKeysListPage',
      () => [requireId(organizationId, 'organizationId'), toSnake(requireObject(params ?? {}))],
      options,
      pageOf('ApiKey'),
    );
  }

  /** Revokes the key. Resolves to undefined. */
  revoke(organizationId, id, options) {
    return this._client._call(
      'organizationApiKeysRevoke',
      () => [requireId(organizationId, 'organizationId'), requireId(id)],
      options,
      () => undefined,
    );
  }
}

class Projects extends Resource {
  create(params, options) {
    return this._client._call('projectsCreate', () => [toSnake(requireObject(params))], options, project);
  }

  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  listPage(params = {}, options) {
    return this._client._call('projectsListPage', () => [toSnake(requireObject(params ?? {}))], options, pageOf('Project'));
  }

  get(id, options) {
    return this._client._call('projectsGet', () => [requireId(id)], options, project);
  }

  update(id, params, options) {
    return this._client._call('projectsUpdate', () => [requireId(id), toSnake(requireObject(params))], options, project);
  }

  /** Deletes the project and revokes its keys. Resolves to undefined. */
  delete(id, options) {
    return this._client._call('projectsDelete', () => [requireId(id)], options, () => undefined);
  }
}

class Organizations extends Resource {
  /** Creates an organization; the calling user (a session) becomes its owner. */
  create(params, options) {
    return this._client._call('organizationsCreate', () => [toSnake(requireObject(params))], options, organization);
  }

  /** Every organization the caller sees (a session's memberships, or a key's own organization). */
  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(params = {}, options) {
    return this._client._call(
      'organizationsListPage',
      () => [toSnake(requireObject(params ?? {}))],
      options,
      pageOf('Organization'),
    );
  }

  get(organizationId, options) {
    return this._client._call('organizationsGet', () => [requireId(organizationId, 'organizationId')], options, organization);
  }

  update(organizationId, params, options) {
    return this._client._call(
      'organizationsUpdate',
      () => [requireId(organizationId, 'organizationId'), toSnake(requireObject(params))],
      options,
      organization,
    );
  }

  /** Revokes every key of the organization and deletes it. Resolves to undefined. */
  delete(organizationId, options) {
    return this._client._call(
      'organizationsDelete',
      () => [requireId(organizationId, 'organizationId')],
      options,
      () => undefined,
    );
  }
}

class Members extends Resource {
  /** Every member of the organization, fetched page by page. */
  list(organizationId, params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator(
      (cursor) => this.listPage(organizationId, { ...rest, startingAfter: cursor }, options),
      startingAfter,
    );
  }

  /** One page: `{ data, nextCursor }` (`nextCursor` is a user id; pass it as `startingAfter`). */
  listPage(organizationId, params = {}, options) {
    return this._client._call(
      'membersListPage',
      () => [requireId(organizationId, 'organizationId'), toSnake(requireObject(params ?? {}))],
      options,
      pageOf('Member'),
    );
  }

  /** Adds a user (their session `sub`) with a role. */
  add(organizationId, params, options) {
    return this._client._call(
      'membersAdd',
      () => [requireId(organizationId, 'organizationId'), toSnake(requireObject(params))],
      options,
      member,
    );
  }

  /** Changes a member's role; demoting the last owner rejects with a ConflictError. */
  update(organizationId, userId, params, options) {
    return this._client._call(
      'membersUpdate',
      () => [requireId(organizationId, 'organizationId'), requireId(userId, 'userId'), toSnake(requireObject(params))],
      options,
      member,
    );
  }

  /** Removes a member; removing the last owner rejects with a ConflictError. Resolves to undefined. */
  remove(organizationId, userId, options) {
    return this._client._call(
      'membersRemove',
      () => [requireId(organizationId, 'organizationId'), requireId(userId, 'userId')],
      options,
      () => undefined,
    );
  }
}

class Environments extends Resource {
  /** Every environment of the project's organization, fetched page by page. */
  list(projectId, params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator(
      (cursor) => this.listPage(projectId, { ...rest, startingAfter: cursor }, options),
      startingAfter,
    );
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(projectId, params = {}, options) {
    return this._client._call(
      'environmentsListPage',
      () => [requireId(projectId, 'projectId'), toSnake(requireObject(params ?? {}))],
      options,
      pageOf('Environment'),
    );
  }

  create(projectId, params, options) {
    return this._client._call(
      'environmentsCreate',
      () => [requireId(projectId, 'projectId'), toSnake(requireObject(params))],
      options,
      environment,
    );
  }
}

class AuditEvents extends Resource {
  /**
   * The organization's audit events, newest first, fetched page by page.
   * Filters: `action`, `actorId`, `targetId`, `since`, `until` (Date or RFC 3339).
   */
  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(params = {}, options) {
    return this._client._call(
      'auditEventsListPage',
      () => [toSnake(requireObject(params ?? {}))],
      options,
      pageOf('AuditEvent'),
    );
  }
}

class WebhookEndpoints extends Resource {
  /**
   * Creates an endpoint; the result's `secret` (`whsec_…`, a SecretKey) signs
   * its deliveries and is shown only this once.
   */
  create(params, options) {
    return this._client._call('webhookEndpointsCreate', () => [toSnake(requireObject(params))], options, createdEndpoint);
  }

  /** Every endpoint of the organization, newest first, fetched page by page. */
  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(params = {}, options) {
    return this._client._call(
      'webhookEndpointsListPage',
      () => [toSnake(requireObject(params ?? {}))],
      options,
      pageOf('WebhookEndpoint'),
    );
  }

  /** The endpoint, without its secret. */
  get(id, options) {
    return this._client._call('webhookEndpointsGet', () => [requireId(id)], options, webhookEndpoint);
  }

  /** `eventTypes: []` subscribes to every event again; `isActive: false` pauses deliveries. */
  update(id, params, options) {
    return this._client._call(
      'webhookEndpointsUpdate',
      () => [requireId(id), toSnake(requireObject(params))],
      options,
      webhookEndpoint,
    );
  }

  /** Deletes the endpoint (deliveries already queued still go out). Resolves to undefined. */
  delete(id, options) {
    return this._client._call('webhookEndpointsDelete', () => [requireId(id)], options, () => undefined);
  }

  /** A new signing secret, shown this once; the old one stops signing at once. */
  rotateSecret(id, options) {
    return this._client._call('webhookEndpointsRotateSecret', () => [requireId(id)], options, createdEndpoint);
  }
}

class WebhookDeliveries extends Resource {
  /**
   * Deliveries newest first, fetched page by page. Filters: `endpointId`,
   * `apiKeyId`, `eventType`, `status` (`pending`, `succeeded`, `failed`).
   */
  list(params = {}, options) {
    const { startingAfter, ...rest } = requireObject(params ?? {});
    return new PageIterator((cursor) => this.listPage({ ...rest, startingAfter: cursor }, options), startingAfter);
  }

  /** One page: `{ data, nextCursor }` (pass `nextCursor` as `startingAfter`). */
  listPage(params = {}, options) {
    return this._client._call(
      'webhookDeliveriesListPage',
      () => [toSnake(requireObject(params ?? {}))],
      options,
      pageOf('WebhookDelivery'),
    );
  }

  get(id, options) {
    return this._client._call('webhookDeliveriesGet', () => [requireId(id)], options, webhookDelivery);
  }

  /** Queues the delivery again now (same `webhook-id`, fresh retry schedule, current secret). */
  redeliver(id, options) {
    return this._client._call('webhookDeliveriesRedeliver', () => [requireId(id)], options, webhookDelivery);
  }
}

class WebhookSigningSecret extends Resource {
  /**
   * Replaces the organization's secret for deliveries to keys' own
   * `rotationWebhookUrl` and resolves to `{ secret }` (a SecretKey, shown once).
   */
  rotate(options) {
    return this._client._call('webhookSigningSecretRotate', () => [], options, (raw) => secretify({ secret: raw.secret }, 'secret'));
  }
}

class Keys extends Resource {
  /**
   * Verifies a key presented to your service. Resolves for every well-formed
   * request (check `valid` / `code`); rejects only on transport or API errors.
   */
  verify(params, options) {
    return this._client._call(
      'keysVerify',
      () => {
        const { key, ...rest } = requireObject(params);
        const plain = key instanceof SecretKey ? key.value : key;
        if (typeof plain !== 'string') throw new KeywardError('keyward: verify needs { key: string }');
        return [{ ...toSnake(rest), key: plain }];
      },
      options,
      verifyResult,
    );
  }
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
    this.apiKeys = new ApiKeys(this);
    this.keys = new Keys(this);
    this.organizationApiKeys = new OrganizationApiKeys(this);
    this.projects = new Projects(this);
    this.organizations = new Organizations(this);
    this.members = new Members(this);
    this.environments = new Environments(this);
    this.auditEvents = new AuditEvents(this);
    this.webhookEndpoints = new WebhookEndpoints(this);
    this.webhookDeliveries = new WebhookDeliveries(this);
    this.webhookSigningSecret = new WebhookSigningSecret(this);
  }

  /**
   * Runs one native call: `args()` builds its arguments (a throw rejects the
   * promise), `shape` turns the JSON result into what the caller sees.
   */
  _call(method, args, options, shape) {
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
      pending = nativeClient[method](...callArgs, opts);
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

module.exports = { Keyward, PageIterator, DEFAULT_BASE_URL, keyHash };
