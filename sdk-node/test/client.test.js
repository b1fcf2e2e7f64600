'use strict';
// End-to-end: the SDK against a real keyward server (target/debug/keyward) on
// a free loopback port. Every loop is bounded; every test has a timeout.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const util = require('node:util');

const keyward = require('..');
const {
  Keyward,
  SecretKey,
  KeywardError,
  APIConnectionError,
  APITimeoutError,
  APIUserAbortError,
  APIError,
  BadRequestError,
  AuthenticationError,
  PermissionDeniedError,
  NotFoundError,
  ConflictError,
  RateLimitError,
  InternalServerError,
} = keyward;
const { startServer, freePort, sleep } = require('./helpers/server.js');
const { startProxy } = require('./helpers/proxy.js');

const TEST_TIMEOUT = { timeout: 60000 };
const MISSING_ID = '01900000-0000-7000-8000-000000000000';

let server;
let client;

before(async () => {
  server = await startServer();
  client = new Keyward({ apiKey: server.adminKey, baseURL: server.baseURL });
});

after(async () => {
  if (server) await server.stop();
});

/** Asserts `promise` rejects with an instance of every class in `classes`; returns the error. */
async function rejectsWith(promise, classes) {
  let caught;
  await assert.rejects(promise, (error) => {
    caught = error;
    return true;
  });
  for (const Class of classes) {
    assert.ok(caught instanceof Class, `expected ${Class.name}, got ${caught && caught.constructor.name}: ${caught && caught.message}`);
  }
  return caught;
}

describe('client configuration', TEST_TIMEOUT, () => {
  it('reads KEYWARD_API_KEY and KEYWARD_BASE_URL', async () => {
    const saved = { key: process.env.KEYWARD_API_KEY, url: process.env.KEYWARD_BASE_URL };
    try {
      process.env.KEYWARD_API_KEY = server.adminKey;
      process.env.KEYWARD_BASE_URL = server.baseURL;
      const fromEnv = new Keyward();
      assert.equal(fromEnv.baseURL, server.baseURL);
      const result = await fromEnv.keys.verify({ key: server.adminKey, cost: 0 });
      assert.equal(result.valid, true);
    } finally {
      if (saved.key === undefined) delete process.env.KEYWARD_API_KEY;
      else process.env.KEYWARD_API_KEY = saved.key;
      if (saved.url === undefined) delete process.env.KEYWARD_BASE_URL;
      else process.env.KEYWARD_BASE_URL = saved.url;
    }
  });

  it('throws a clear KeywardError when there is no API key', () => {
    const saved = process.env.KEYWARD_API_KEY;
    delete process.env.KEYWARD_API_KEY;
    try {
      assert.throws(
        () => new Keyward({ baseURL: server.baseURL }),
        (error) => error instanceof KeywardError && /KEYWARD_API_KEY/.test(error.message) && /apiKey/.test(error.message),
      );
    } finally {
      if (saved !== undefined) process.env.KEYWARD_API_KEY = saved;
    }
  });

  it('rejects a bad timeout or maxRetries', () => {
    assert.throws(() => new Keyward({ apiKey: 'x', timeout: -1 }), KeywardError);
    assert.throws(() => new Keyward({ apiKey: 'x', maxRetries: 1.5 }), KeywardError);
  });

  it('does not print its key', () => {
    assert.ok(!util.inspect(client).includes(server.adminKey));
    assert.ok(!String(client).includes(server.adminKey));
  });
});

describe('apiKeys', TEST_TIMEOUT, () => {
  it('create → get → update → verify → revoke', async () => {
    const expiresAt = new Date(Date.now() + 86400000);
    const created = await client.apiKeys.create({
      name: 'lifecycle',
      scopes: ['reports:read', 'reports:write'],
      meta: { plan_tier: 'pro', nestedKey: { inner_value: 1 } },
      expiresAt,
      deviceName: 'ci-runner',
      rateLimit: { limit: 100, windowMs: 60000 },
      usageLimit: { remaining: 50 },
    });
    assert.ok(created.key instanceof SecretKey);
    assert.match(created.key.value, /^kw_live_[0-9A-Za-z]{38}$/);
    assert.equal(created.keyPrefix, created.key.prefix);
    assert.equal(created.last4, created.key.value.slice(-4));
    assert.equal(created.name, 'lifecycle');
    assert.deepEqual(created.scopes, ['reports:read', 'reports:write']);
    // meta is the user's JSON: its keys are not case-converted either way.
    assert.deepEqual(created.meta, { plan_tier: 'pro', nestedKey: { inner_value: 1 } });
    assert.equal(created.deviceName, 'ci-runner');
    assert.deepEqual(created.rateLimit, { limit: 100, windowMs: 60000 });
    assert.deepEqual(created.usageLimit, { remaining: 50, refill: null });
    assert.ok(Math.abs(Date.parse(created.expiresAt) - expiresAt.getTime()) < 1000, 'a Date input is sent as RFC 3339');
    assert.equal(created.projectId, null, 'org-wide key: projectId is null, not undefined');
    assert.equal(created.isActive, true);
    assert.equal(created.source, 'api');
    for (const field of ['organizationId', 'environmentId', 'createdAt', 'updatedAt', 'usageCount', 'allowedIps']) {
      assert.ok(field in created, `missing ${field}`);
    }
    assert.ok(!Object.keys(created).some((name) => name.includes('_')), 'no snake_case keys in results');

    const fetched = await client.apiKeys.get(created.id);
    assert.equal(fetched.id, created.id);
    assert.equal(fetched.key, undefined, 'get never returns the plaintext');
    assert.equal(fetched.revokedAt, null);

    const updated = await client.apiKeys.update(created.id, { name: 'renamed', scopes: ['reports:read'], isActive: true });
    assert.equal(updated.name, 'renamed');
    assert.deepEqual(updated.scopes, ['reports:read']);

    const verified = await client.keys.verify({ key: created.key.value, requiredScopes: ['reports:read'] });
    assert.equal(verified.valid, true);
    assert.equal(verified.code, 'VALID');
    assert.equal(verified.keyId, created.id);
    assert.equal(verified.name, 'renamed');
    assert.ok(typeof verified.remaining === 'number' && verified.remaining <= 50, 'usage credits are reported for a key with a usageLimit');
    assert.deepEqual(verified.meta, { plan_tier: 'pro', nestedKey: { inner_value: 1 } });
    assert.equal(verified.organizationId, server.organizationId);

    const missingScope = await client.keys.verify({ key: created.key.value, requiredScopes: ['admin:all'], cost: 0 });
    assert.equal(missingScope.valid, false);
    assert.equal(missingScope.code, 'INSUFFICIENT_SCOPES');

    const disabled = await client.apiKeys.update(created.id, { isActive: false });
    assert.equal(disabled.isActive, false);
    assert.equal((await client.keys.verify({ key: created.key, cost: 0 })).code, 'DISABLED');

    assert.equal(await client.apiKeys.revoke(created.id), undefined);
    assert.equal(await client.apiKeys.revoke(created.id), undefined, 'revoke is idempotent');
    const revoked = await client.keys.verify({ key: created.key.value });
    assert.equal(revoked.valid, false);
    assert.equal(revoked.code, 'REVOKED');
    assert.ok((await client.apiKeys.get(created.id)).revokedAt);
  });

  it('regenerate keeps the id and kills the old secret', async () => {
    const created = await client.apiKeys.create({ name: 'regen' });
    const regenerated = await client.apiKeys.regenerate(created.id);
    assert.equal(regenerated.id, created.id);
    assert.ok(regenerated.key instanceof SecretKey);
    assert.notEqual(regenerated.key.value, created.key.value);
    assert.equal((await client.keys.verify({ key: created.key.value })).valid, false);
    assert.equal((await client.keys.verify({ key: regenerated.key.value })).valid, true);
  });

  it('rotate with a grace period: both verify, old one until graceExpiresAt', async () => {
    const created = await client.apiKeys.create({ name: 'rotate-me', scopes: ['a:b'] });
    const rotated = await client.apiKeys.rotate(created.id, { gracePeriodSeconds: 3600 });
    assert.equal(rotated.oldKeyId, created.id);
    assert.notEqual(rotated.newKeyId, created.id);
    assert.ok(rotated.key instanceof SecretKey);
    assert.equal(rotated.keyPrefix, rotated.key.prefix);
    assert.deepEqual(rotated.scopes, ['a:b']);
    assert.ok(rotated.graceExpiresAt);
    assert.equal(rotated.projectId, null);
    const old = await client.keys.verify({ key: created.key.value });
    assert.equal(old.code, 'VALID');
    assert.ok(old.graceExpiresAt);
    assert.equal((await client.keys.verify({ key: rotated.key.value })).keyId, rotated.newKeyId);

    // without a grace period the old key dies at once; rotating it again conflicts
    const again = await client.apiKeys.rotate(rotated.newKeyId);
    assert.equal(again.graceExpiresAt, null);
    assert.equal((await client.keys.verify({ key: rotated.key.value })).valid, false);
    await rejectsWith(client.apiKeys.rotate(rotated.newKeyId), [ConflictError, APIError, KeywardError]);
  });

  it('list follows the cursor across pages', async () => {
    const project = await client.projects.create({ name: 'paging', keyPrefix: 'pg' });
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await client.apiKeys.create({ name: `page-${i}`, projectId: project.id })).id);
    }
    const seen = [];
    for await (const key of client.apiKeys.list({ projectId: project.id, limit: 2 })) {
      seen.push(key.id);
      assert.equal(key.projectId, project.id);
      assert.match(key.keyPrefix, /^pg_live_/);
      if (seen.length > 20) break; // bound
    }
    assert.deepEqual(seen, [...ids].reverse(), 'every key once, newest first');

    const pages = [];
    for await (const page of client.apiKeys.list({ projectId: project.id, limit: 2 }).pages()) {
      pages.push(page.data.length);
      if (pages.length > 10) break;
    }
    assert.deepEqual(pages, [2, 2, 1]);

    const first = await client.apiKeys.listPage({ projectId: project.id, limit: 2 });
    assert.equal(first.data.length, 2);
    assert.ok(first.nextCursor);
    const second = await client.apiKeys.listPage({ projectId: project.id, limit: 2, startingAfter: first.nextCursor });
    assert.deepEqual(second.data.map((key) => key.id), seen.slice(2, 4));

    const firstThree = await client.apiKeys.list({ projectId: project.id, limit: 2 }).toArray({ max: 3 });
    assert.equal(firstThree.length, 3);
  });

  it('getUsage: verifications of one key, by outcome code and bucket', async () => {
    const created = await client.apiKeys.create({ name: 'usage' });
    await client.keys.verify({ key: created.key });
    const usage = await client.apiKeys.getUsage(created.id, { granularity: 'hour', from: new Date(Date.now() - 3600000) });
    assert.equal(usage.keyId, created.id);
    assert.equal(usage.granularity, 'hour');
    assert.ok(Array.isArray(usage.buckets) && usage.buckets.length >= 1);
    assert.equal(typeof usage.total, 'number');
    assert.equal(typeof usage.counts, 'object');
    for (const bucket of usage.buckets) assert.equal(typeof bucket.start, 'string');
    assert.equal((await client.apiKeys.getUsage(created.id)).keyId, created.id, 'params are optional');
    await rejectsWith(client.apiKeys.getUsage(MISSING_ID), [NotFoundError]);
  });

  it('an idempotencyKey replays the same create', async () => {
    const idempotencyKey = `node-test-${Date.now()}`;
    const first = await client.apiKeys.create({ name: 'idem' }, { idempotencyKey });
    const second = await client.apiKeys.create({ name: 'idem' }, { idempotencyKey });
    assert.equal(second.id, first.id);
    assert.equal(second.key.value, first.key.value);
    await rejectsWith(client.apiKeys.create({ name: 'different body' }, { idempotencyKey }), [ConflictError]);
  });
});

describe('organizationApiKeys', TEST_TIMEOUT, () => {
  it('create → list (paged) → revoke', async () => {
    const org = server.organizationId;
    const project = await client.projects.create({ name: 'org-family' });
    const created = [];
    for (let i = 0; i < 3; i++) {
      created.push(await client.organizationApiKeys.create(org, { name: `org-${i}`, scopes: ['keys:read'], projectId: project.id }));
    }
    // The spec's shape: {apiKey, plaintextApiKey}, the plaintext a SecretKey.
    assert.ok(created[0].plaintextApiKey instanceof SecretKey);
    assert.ok(!util.inspect(created[0]).includes(created[0].plaintextApiKey.value));
    assert.equal(created[0].apiKey.projectId, project.id);
    assert.equal(created[0].apiKey.organizationId, org);
    assert.equal(created[0].apiKey.revokedAt, null);

    const seen = [];
    for await (const key of client.organizationApiKeys.list(org, { projectId: project.id, limit: 2 })) {
      seen.push(key.id);
      if (seen.length > 20) break;
    }
    assert.deepEqual(seen, created.map((key) => key.apiKey.id).reverse());
    const page = await client.organizationApiKeys.listPage(org, { projectId: project.id, limit: 2 });
    assert.equal(page.data.length, 2);
    assert.ok(page.nextCursor);

    assert.deepEqual(await client.organizationApiKeys.revoke(org, created[0].apiKey.id), { revoked: true });
    assert.equal((await client.keys.verify({ key: created[0].plaintextApiKey })).code, 'REVOKED');
    await rejectsWith(client.organizationApiKeys.revoke(MISSING_ID, created[1].apiKey.id), [NotFoundError]);
  });
});

describe('projects', TEST_TIMEOUT, () => {
  it('create → get → update → list', async () => {
    const created = await client.projects.create({
      name: 'proj-crud',
      keyPrefix: 'crud',
      defaultScopes: ['x:y'],
      defaultRateLimit: { limit: 10, windowMs: 1000 },
      defaultTtlSeconds: 3600,
    });
    assert.equal(created.keyPrefix, 'crud');
    assert.deepEqual(created.defaultScopes, ['x:y']);
    assert.deepEqual(created.defaultRateLimit, { limit: 10, windowMs: 1000 });
    assert.equal(created.defaultGracePeriodSeconds, null);
    const fetched = await client.projects.get(created.id);
    assert.deepEqual(fetched, created);
    const updated = await client.projects.update(created.id, { name: 'proj-renamed', defaultGracePeriodSeconds: 60 });
    assert.equal(updated.name, 'proj-renamed');
    assert.equal(updated.defaultGracePeriodSeconds, 60);

    const key = await client.apiKeys.create({ name: 'in-project', projectId: created.id });
    assert.match(key.key.value, /^crud_live_/);
    assert.deepEqual(key.scopes, ['x:y'], 'project default scopes apply');

    const names = [];
    for await (const project of client.projects.list({ limit: 1 })) {
      names.push(project.name);
      if (names.length > 50) break;
    }
    assert.ok(names.includes('proj-renamed'));
    assert.equal(new Set(names).size, names.length);
  });
});

describe('errors', TEST_TIMEOUT, () => {
  it('400 → BadRequestError with status, code, message, requestId', async () => {
    // A rule only the server knows (the past is not a valid expiry): its 400.
    const error = await rejectsWith(client.apiKeys.create({ name: 'bad', expiresAt: '2001-01-01T00:00:00Z' }), [
      BadRequestError,
      APIError,
      KeywardError,
      Error,
    ]);
    assert.equal(error.status, 400);
    assert.equal(typeof error.code, 'string');
    assert.match(error.message, /expires_at/);
    assert.ok(error.requestId);
    assert.equal(error.name, 'BadRequestError');
  });

  it('401 → AuthenticationError', async () => {
    const stranger = new Keyward({ apiKey: 'kw_live_notARealKeyAtAll', baseURL: server.baseURL });
    const error = await rejectsWith(stranger.projects.list().toArray(), [AuthenticationError, APIError]);
    assert.equal(error.status, 401);
  });

  it('403 → PermissionDeniedError', async () => {
    const readOnly = await client.apiKeys.create({ name: 'read-only', scopes: ['keys:read'] });
    const limited = new Keyward({ apiKey: readOnly.key.value, baseURL: server.baseURL });
    const error = await rejectsWith(limited.apiKeys.create({ name: 'nope' }), [PermissionDeniedError, APIError]);
    assert.equal(error.status, 403);
    assert.match(error.message, /keys:write/);
  });

  it('404 → NotFoundError', async () => {
    const error = await rejectsWith(client.apiKeys.get(MISSING_ID), [NotFoundError, APIError, KeywardError]);
    assert.equal(error.status, 404);
    assert.equal(error.code, 'not_found');
    await rejectsWith(client.projects.get(MISSING_ID), [NotFoundError]);
  });

  it('409 → ConflictError', async () => {
    await client.projects.create({ name: 'dupe-a', keyPrefix: 'dupe' });
    const error = await rejectsWith(client.projects.create({ name: 'dupe-b', keyPrefix: 'dupe' }), [ConflictError]);
    assert.equal(error.status, 409);
  });

  it('headers in the options go with every attempt of that call only', async () => {
    const proxy = await startProxy(server.baseURL, '503-once');
    try {
      const viaProxy = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL });
      const created = await viaProxy.apiKeys.create({ name: 'traced' }, { headers: { 'x-trace-id': 'trace-1' } });
      await viaProxy.apiKeys.get(created.id);
      const [refused, retried, plain] = proxy.state.requests;
      assert.equal(refused.headers['x-trace-id'], 'trace-1', 'the first attempt');
      assert.equal(retried.headers['x-trace-id'], 'trace-1', 'its retry');
      assert.ok(retried.headers.authorization, "the client's own headers stay");
      assert.equal(plain.headers['x-trace-id'], undefined, 'only the call that asked for it');
      const error = await rejectsWith(viaProxy.apiKeys.get(created.id, { headers: { 'bad header': 'x' } }), [KeywardError]);
      assert.match(error.message, /bad header/);
      assert.equal(proxy.state.requests.length, 3, 'nothing was sent');
    } finally {
      await proxy.close();
    }
  });

  it('429 → RateLimitError, 5xx → InternalServerError (injected by a proxy)', async () => {
    const proxy = await startProxy(server.baseURL, '500');
    try {
      const viaProxy = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL, maxRetries: 0 });
      const error = await rejectsWith(viaProxy.projects.get(MISSING_ID), [InternalServerError, APIError]);
      assert.equal(error.status, 500);
      assert.equal(error.requestId, 'proxy-req');
      assert.equal(proxy.state.requests.length, 1, 'maxRetries: 0 sends once');

      proxy.setMode('429');
      const limited = await rejectsWith(viaProxy.projects.get(MISSING_ID), [RateLimitError, APIError]);
      assert.equal(limited.status, 429);
    } finally {
      await proxy.close();
    }
  });

  it('a bad argument is a KeywardError before anything is sent', async () => {
    await rejectsWith(client.apiKeys.get('not-a-uuid'), [KeywardError]);
    await rejectsWith(client.apiKeys.get(undefined), [KeywardError]);
    await rejectsWith(client.keys.verify({}), [KeywardError]);
  });

  it("the spec's bounds are checked before sending, naming the field", async () => {
    const cases = [
      [() => client.apiKeys.create({ name: 'bad', allowedIps: ['not-an-ip'] }), /`allowed_ips\[0\]` must match/],
      [() => client.apiKeys.create({ name: 'n'.repeat(201) }), /`name` must be at most 200 characters long/],
      [() => client.apiKeys.listPage({ limit: 0 }), /`limit` must be at least 1/],
    ];
    for (const [call, message] of cases) {
      const error = await rejectsWith(call(), [KeywardError]);
      assert.ok(!(error instanceof APIError), 'refused before sending');
      assert.match(error.message, message);
    }
  });

  it('connection refused → APIConnectionError', async () => {
    const port = await freePort();
    const offline = new Keyward({ apiKey: server.adminKey, baseURL: `http://127.0.0.1:${port}`, maxRetries: 0 });
    const error = await rejectsWith(offline.projects.get(MISSING_ID), [APIConnectionError, KeywardError]);
    assert.ok(!(error instanceof APITimeoutError));
    assert.ok(!(error instanceof APIError));
  });

  it('timeout → APITimeoutError (an APIConnectionError)', async () => {
    const proxy = await startProxy(server.baseURL, 'hang');
    try {
      const slow = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL, maxRetries: 0 });
      const started = Date.now();
      await rejectsWith(slow.projects.get(MISSING_ID, { timeout: 300 }), [APITimeoutError, APIConnectionError, KeywardError]);
      assert.ok(Date.now() - started < 5000);
      // the client-level timeout applies too
      const slowClient = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL, maxRetries: 0, timeout: 300 });
      await rejectsWith(slowClient.projects.get(MISSING_ID), [APITimeoutError]);
    } finally {
      await proxy.close();
    }
  });

  it('an AbortSignal rejects with an abort error and drops the request', async () => {
    const proxy = await startProxy(server.baseURL, 'hang');
    try {
      const slow = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL, maxRetries: 0, timeout: 20000 });
      const controller = new AbortController();
      const started = Date.now();
      const pending = slow.projects.get(MISSING_ID, { signal: controller.signal });
      setTimeout(() => controller.abort(), 200);
      const error = await rejectsWith(pending, [APIUserAbortError, KeywardError]);
      assert.equal(error.name, 'AbortError');
      assert.ok(Date.now() - started < 5000);
      // the native side dropped the connection
      for (let i = 0; i < 50 && proxy.state.closedSockets === 0; i++) await sleep(50);
      assert.equal(proxy.state.closedSockets, 1);

      const already = AbortSignal.abort();
      await rejectsWith(slow.projects.get(MISSING_ID, { signal: already }), [APIUserAbortError]);
    } finally {
      await proxy.close();
    }
  });

  it('a signal that never fires does not disturb the call', async () => {
    const controller = new AbortController();
    const projects = await client.projects.listPage({ limit: 1 }, { signal: controller.signal });
    assert.equal(projects.data.length, 1);
    controller.abort(); // after completion: no effect
  });
});

describe('retries', TEST_TIMEOUT, () => {
  it('retries a 503 once and succeeds, with the same Idempotency-Key', async () => {
    const proxy = await startProxy(server.baseURL, '503-once');
    try {
      const viaProxy = new Keyward({ apiKey: server.adminKey, baseURL: proxy.baseURL });
      const created = await viaProxy.apiKeys.create({ name: 'retried' });
      assert.ok(created.key instanceof SecretKey);
      const requests = proxy.state.requests;
      assert.equal(requests.length, 2, 'one 503, one forwarded');
      assert.ok(requests[0].idempotencyKey, 'a mutating POST carries an Idempotency-Key');
      assert.equal(requests[1].idempotencyKey, requests[0].idempotencyKey);
      // only one key was made
      const named = (await client.apiKeys.list({ limit: 200 }).toArray({ max: 1000 })).filter((key) => key.name === 'retried');
      assert.equal(named.length, 1);

      proxy.setMode('503-once');
      const got = await viaProxy.apiKeys.get(created.id);
      assert.equal(got.id, created.id);
      assert.equal(proxy.state.requests.length, 2);

      proxy.setMode('503-once');
      await rejectsWith(viaProxy.apiKeys.get(created.id, { maxRetries: 0 }), [InternalServerError]);
    } finally {
      await proxy.close();
    }
  });
});
