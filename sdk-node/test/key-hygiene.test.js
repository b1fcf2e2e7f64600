'use strict';
// The key-hygiene surface end to end against a real keyward server: webhook
// endpoints (CRUD, secrets shown once), deliveries received by a local
// http.createServer receiver on 127.0.0.1 and checked with webhooks.verify,
// dead-letter + redeliver, the organization's signing secret, key import by
// SHA-256, and the projects' expiryWarningDays / leakPolicy. The helper starts
// the server with KEYWARD_WEBHOOK_ALLOW_PRIVATE=true (deliveries to loopback)
// and a 50 ms outbox poll; every wait here is bounded.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');
const util = require('node:util');

const {
  Keyward,
  KeywardError,
  APIError,
  BadRequestError,
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  SecretKey,
  PageIterator,
  WebhookVerificationError,
  webhooks,
  keyHash,
} = require('..');
const { startServer, sleep } = require('./helpers/server.js');

const TEST_TIMEOUT = { timeout: 90000 };
/** How long a delivery may take to arrive or settle. */
const DELIVERY_WAIT_MS = 20000;

let server;
let admin;
let receiver;

// ---------------------------------------------------------------------------
// A webhook receiver: records every request (raw body, headers) and answers
// with the status set for its path (200 unless told otherwise).

function startReceiver() {
  const requests = [];
  const statuses = new Map();
  const httpServer = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const status = statuses.get(req.url) ?? 200;
      requests.push({ path: req.url, method: req.method, headers: req.headers, body: Buffer.concat(chunks), status });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  return new Promise((resolve, reject) => {
    httpServer.on('error', reject);
    httpServer.listen(0, '127.0.0.1', () => {
      const { port } = httpServer.address();
      resolve({
        url: (path) => `http://127.0.0.1:${port}${path}`,
        requests,
        /** Requests received on `path`, oldest first. */
        at: (path) => requests.filter((request) => request.path === path),
        answer: (path, status) => statuses.set(path, status),
        close: () => new Promise((done) => httpServer.close(() => done())),
      });
    });
  });
}

/** Polls `probe` until it returns a truthy value; fails after `timeoutMs`. */
async function waitFor(what, probe, timeoutMs = DELIVERY_WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}\nserver log:\n${server.logs().slice(-4000)}`);
    await sleep(50);
  }
}

const bodyOf = (request) => JSON.parse(request.body.toString('utf8'));

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

async function collect(iterable) {
  const items = [];
  for await (const item of iterable) {
    items.push(item);
    assert.ok(items.length < 1000, 'bounded');
  }
  return items;
}

const unique = (label) => `${label}-${crypto.randomBytes(4).toString('hex')}`;

before(async () => {
  // Two retries 100 ms apart, then dead-lettered: a failing receiver settles fast.
  server = await startServer({ env: { KEYWARD_WEBHOOK_RETRY_DELAYS_MS: '100,100' } });
  admin = new Keyward({ apiKey: server.adminKey, baseURL: server.baseURL, maxRetries: 0 });
  receiver = await startReceiver();
});

after(async () => {
  if (receiver) await receiver.close();
  if (server) await server.stop();
});

// ---------------------------------------------------------------------------

describe('webhook endpoints', TEST_TIMEOUT, () => {
  it('create → get → list → update → rotateSecret → delete; the secret is shown once and masked', async () => {
    const url = receiver.url('/crud');
    const created = await admin.webhookEndpoints.create({
      url,
      description: 'key events to ops',
      eventTypes: ['api_key.rotated', 'api_key.leaked'],
    });
    assert.match(created.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.organizationId, server.organizationId);
    assert.equal(created.url, url);
    assert.equal(created.description, 'key events to ops');
    assert.deepEqual([...created.eventTypes].sort(), ['api_key.leaked', 'api_key.rotated']);
    assert.equal(created.isActive, true);
    assert.ok(created.createdAt && created.updatedAt);

    // The secret: a SecretKey whose every printed form hides the key material.
    assert.ok(created.secret instanceof SecretKey);
    const secret = created.secret.value;
    assert.match(secret, /^whsec_[A-Za-z0-9+/=_-]{20,}$/);
    assert.equal(String(created.secret), 'whsec_…');
    for (const printed of [util.inspect(created, { depth: 5 }), JSON.stringify(created), `${created.secret}`, util.format('%o', created)]) {
      assert.ok(!printed.includes(secret.slice(6)), `secret leaked in: ${printed}`);
    }
    assert.match(util.inspect(created), /secret: SecretKey\(whsec_…\)/);

    // Never shown again: get and list return the endpoint without it.
    const fetched = await admin.webhookEndpoints.get(created.id);
    assert.ok(!('secret' in fetched));
    const { secret: _secret, ...withoutSecret } = created;
    assert.deepEqual(fetched, withoutSecret);
    const listed = await collect(admin.webhookEndpoints.list());
    const entry = listed.find((endpoint) => endpoint.id === created.id);
    assert.deepEqual(entry, withoutSecret);
    assert.ok(listed.every((endpoint) => !('secret' in endpoint)));

    const updated = await admin.webhookEndpoints.update(created.id, { eventTypes: [], isActive: false, description: 'paused' });
    assert.deepEqual(updated.eventTypes, []);
    assert.equal(updated.isActive, false);
    assert.equal(updated.description, 'paused');
    assert.equal(updated.url, url);
    assert.deepEqual(await admin.webhookEndpoints.get(created.id), updated);
    // `null` clears a clearable field; leaving a field out leaves it alone.
    const cleared = await admin.webhookEndpoints.update(created.id, { description: null });
    assert.equal(cleared.description, null);
    assert.equal(cleared.isActive, false, 'isActive untouched by the clear');

    const rotated = await admin.webhookEndpoints.rotateSecret(created.id);
    assert.equal(rotated.id, created.id);
    assert.ok(rotated.secret instanceof SecretKey);
    assert.match(rotated.secret.value, /^whsec_/);
    assert.notEqual(rotated.secret.value, secret);
    assert.equal(util.inspect(rotated.secret), 'SecretKey(whsec_…)');

    assert.equal(await admin.webhookEndpoints.delete(created.id), undefined);
    await rejectsWith(admin.webhookEndpoints.get(created.id), [NotFoundError, APIError, KeywardError]);
    await rejectsWith(admin.webhookEndpoints.rotateSecret(created.id), [NotFoundError]);
    assert.ok(!(await collect(admin.webhookEndpoints.list())).some((endpoint) => endpoint.id === created.id));
  });

  it('lists page by page (list follows the cursor, listPage returns one page)', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await admin.webhookEndpoints.create({ url: receiver.url(`/page/${i}`) })).id);
    try {
      const iterator = admin.webhookEndpoints.list({ limit: 1 });
      assert.ok(iterator instanceof PageIterator);
      const pages = [];
      for await (const page of iterator.pages()) pages.push(page);
      assert.ok(pages.length >= 3, `${pages.length} pages of 1`);
      assert.ok(pages.every((page) => page.data.length <= 1));
      const all = pages.flatMap((page) => page.data.map((endpoint) => endpoint.id));
      for (const id of ids) assert.ok(all.includes(id));
      assert.equal(new Set(all).size, all.length, 'no endpoint twice');

      const first = await admin.webhookEndpoints.listPage({ limit: 2 });
      assert.equal(first.data.length, 2);
      assert.ok(first.nextCursor);
      const second = await admin.webhookEndpoints.listPage({ limit: 2, startingAfter: first.nextCursor });
      assert.ok(!second.data.some((endpoint) => first.data.some((seen) => seen.id === endpoint.id)));
    } finally {
      for (const id of ids) await admin.webhookEndpoints.delete(id);
    }
  });

  it('rejects bad input: a non-http URL (400 naming url), an unknown event type, a project key (403), another id (404)', async () => {
    // A bound the spec declares (the URL's pattern): refused before any request, naming the field.
    const badScheme = await rejectsWith(admin.webhookEndpoints.create({ url: 'ftp://example.com/hook' }), [KeywardError]);
    assert.ok(!(badScheme instanceof APIError));
    assert.match(badScheme.message, /`url` must match/);
    // A rule only the server knows: its 400 names the field.
    const badUrl = await rejectsWith(admin.webhookEndpoints.create({ url: 'http://exa mple.com/hook' }), [BadRequestError, APIError]);
    assert.equal(badUrl.status, 400);
    assert.match(badUrl.message, /url/);

    // Not one of the event types: refused before any request.
    const badType = await rejectsWith(admin.webhookEndpoints.create({ url: receiver.url('/x'), eventTypes: ['api_key.exploded'] }), [KeywardError]);
    assert.ok(!(badType instanceof APIError));

    const projectKey = await admin.apiKeys.create({ name: unique('reader'), scopes: ['keys:read', 'keys:write'] });
    const reader = new Keyward({ apiKey: projectKey.key.value, baseURL: server.baseURL, maxRetries: 0 });
    await rejectsWith(reader.webhookEndpoints.list().toArray(), [PermissionDeniedError]);
    await rejectsWith(reader.webhookDeliveries.listPage(), [PermissionDeniedError]);
    await rejectsWith(reader.webhookSigningSecret.rotate(), [PermissionDeniedError]);
    await admin.apiKeys.revoke(projectKey.id);

    await rejectsWith(admin.webhookEndpoints.get('01900000-0000-7000-8000-000000000000'), [NotFoundError]);
    await rejectsWith(admin.webhookEndpoints.get(''), [KeywardError]);
  });
});

describe('webhook deliveries', TEST_TIMEOUT, () => {
  it('a created key is delivered, signed with the endpoint secret (webhooks.verify), and listed', async () => {
    const path = '/deliveries/ok';
    const endpoint = await admin.webhookEndpoints.create({ url: receiver.url(path), eventTypes: ['api_key.created'] });
    const other = await admin.webhookEndpoints.create({ url: receiver.url('/deliveries/other'), eventTypes: ['api_key.leaked'] });
    try {
      const key = await admin.apiKeys.create({ name: unique('delivered'), scopes: ['reports:read'] });

      const request = await waitFor('api_key.created at the receiver', () =>
        receiver.at(path).find((r) => bodyOf(r).data.api_key.id === key.id),
      );
      assert.equal(request.method, 'POST');
      assert.match(request.headers['content-type'], /application\/json/);

      // The SDK's verify, with the endpoint's secret, over the raw body and Node's req.headers.
      const event = webhooks.verify(request.body, request.headers, endpoint.secret.value);
      assert.equal(event.type, 'api_key.created');
      assert.equal(event.data.api_key.id, key.id);
      assert.equal(event.data.api_key.name, key.name);
      // Never a plaintext key in an event.
      assert.ok(!request.body.toString('utf8').includes(key.key.value));
      // Another endpoint's secret does not verify it; a tampered body does not either.
      assert.throws(
        () => webhooks.verify(request.body, request.headers, other.secret.value),
        (error) => error instanceof WebhookVerificationError && error.code === 'no_matching_signature',
      );
      const tampered = Buffer.from(request.body.toString('utf8').replace(key.id, '01900000-0000-7000-8000-000000000000'));
      assert.throws(() => webhooks.verify(tampered, request.headers, endpoint.secret.value), WebhookVerificationError);

      // The delivery as listed: the same event id as the webhook-id header, succeeded on the first attempt.
      const delivery = await waitFor('the delivery to succeed', async () => {
        const page = await admin.webhookDeliveries.listPage({ endpointId: endpoint.id, eventType: 'api_key.created', limit: 200 });
        const found = page.data.find((d) => d.payload.data.api_key.id === key.id);
        return found && found.status === 'succeeded' ? found : null;
      });
      assert.equal(delivery.eventId, request.headers['webhook-id']);
      assert.equal(delivery.eventType, 'api_key.created');
      assert.equal(delivery.endpointId, endpoint.id);
      assert.equal(delivery.apiKeyId, null);
      assert.equal(delivery.url, receiver.url(path));
      assert.equal(delivery.attempts, 1);
      assert.equal(delivery.lastStatusCode, 200);
      assert.equal(delivery.lastError, null);
      assert.ok(delivery.deliveredAt && delivery.lastAttemptAt && delivery.createdAt);
      // The payload is the signed body, as sent: snake_case, not converted.
      assert.deepEqual(delivery.payload, event);
      assert.deepEqual(await admin.webhookDeliveries.get(delivery.id), delivery);

      // Filters: the other endpoint got nothing, no failed deliveries here,
      // and a revoke is not queued for an endpoint subscribed only to api_key.created.
      assert.deepEqual(await collect(admin.webhookDeliveries.list({ endpointId: other.id })), []);
      assert.ok(!(await collect(admin.webhookDeliveries.list({ endpointId: endpoint.id, status: 'failed' }))).length);
      const listedAll = await collect(admin.webhookDeliveries.list({ status: 'succeeded' }));
      assert.ok(listedAll.some((d) => d.id === delivery.id));
      await admin.apiKeys.revoke(key.id);
      assert.deepEqual(await collect(admin.webhookDeliveries.list({ endpointId: endpoint.id, eventType: 'api_key.revoked' })), []);
      await rejectsWith(admin.webhookDeliveries.get('01900000-0000-7000-8000-000000000000'), [NotFoundError]);
      const badStatus = await rejectsWith(admin.webhookDeliveries.listPage({ status: 'done' }), [KeywardError]);
      assert.ok(!(badStatus instanceof APIError), 'an unknown status is refused before any request');
    } finally {
      await admin.webhookEndpoints.delete(endpoint.id);
      await admin.webhookEndpoints.delete(other.id);
    }
  });

  it('a failing receiver dead-letters the delivery; redeliver sends it again (same webhook-id, current secret)', async () => {
    const path = '/deliveries/flaky';
    receiver.answer(path, 500);
    const endpoint = await admin.webhookEndpoints.create({ url: receiver.url(path), eventTypes: ['api_key.created'] });
    try {
      const key = await admin.apiKeys.create({ name: unique('flaky') });
      const failed = await waitFor('the delivery to be dead-lettered', async () => {
        const [found] = await admin.webhookDeliveries.list({ endpointId: endpoint.id, status: 'failed' }).toArray({ max: 1 });
        return found;
      });
      assert.equal(failed.payload.data.api_key.id, key.id);
      assert.equal(failed.attempts, 3, 'the first attempt and two retries');
      assert.equal(failed.lastStatusCode, 500);
      assert.ok(failed.lastError);
      assert.equal(failed.deliveredAt, null);
      const attempts = receiver.at(path);
      assert.equal(attempts.length, 3);
      assert.ok(attempts.every((r) => r.headers['webhook-id'] === failed.eventId));

      // A new secret, then the receiver recovers and the delivery is sent again.
      const rotated = await admin.webhookEndpoints.rotateSecret(endpoint.id);
      receiver.answer(path, 200);
      const queued = await admin.webhookDeliveries.redeliver(failed.id);
      assert.equal(queued.id, failed.id);
      assert.equal(queued.eventId, failed.eventId);
      assert.notEqual(queued.status, 'failed');

      const succeeded = await waitFor('the redelivery to succeed', async () => {
        const delivery = await admin.webhookDeliveries.get(failed.id);
        return delivery.status === 'succeeded' ? delivery : null;
      });
      assert.equal(succeeded.lastStatusCode, 200);
      assert.ok(succeeded.deliveredAt);
      const last = receiver.at(path).at(-1);
      assert.equal(last.status, 200);
      assert.equal(last.headers['webhook-id'], failed.eventId);
      assert.equal(webhooks.verify(last.body, last.headers, rotated.secret.value).data.api_key.id, key.id);
      assert.throws(() => webhooks.verify(last.body, last.headers, endpoint.secret.value), WebhookVerificationError);
    } finally {
      await admin.webhookEndpoints.delete(endpoint.id);
    }
  });
});

describe('webhook signing secret', TEST_TIMEOUT, () => {
  it("rotate returns a new whsec_ secret once; it signs deliveries to a key's rotationWebhookUrl", async () => {
    const first = await admin.webhookSigningSecret.rotate();
    assert.deepEqual(Object.keys(first), ['secret']);
    assert.ok(first.secret instanceof SecretKey);
    assert.match(first.secret.value, /^whsec_/);
    assert.equal(util.inspect(first), '{ secret: SecretKey(whsec_…) }');
    assert.equal(JSON.stringify(first), '{"secret":"whsec_…"}');
    const { secret } = await admin.webhookSigningSecret.rotate();
    assert.notEqual(secret.value, first.secret.value);

    const path = '/rotation';
    const key = await admin.apiKeys.create({ name: unique('rotating'), rotationWebhookUrl: receiver.url(path) });
    assert.equal(key.rotationWebhookUrl, receiver.url(path));
    const rotated = await admin.apiKeys.rotate(key.id, { gracePeriodSeconds: 60 });

    const request = await waitFor('api_key.rotated at the key URL', () =>
      receiver.at(path).find((r) => bodyOf(r).type === 'api_key.rotated'),
    );
    const event = webhooks.verify(request.body, request.headers, secret.value);
    assert.equal(event.data.api_key.id, key.id);
    assert.equal(event.data.new_api_key.id, rotated.newKeyId);
    assert.ok(!request.body.toString('utf8').includes(rotated.key.value), 'no plaintext in the event');
    assert.throws(() => webhooks.verify(request.body, request.headers, first.secret.value), WebhookVerificationError);

    const [delivery] = await collect(admin.webhookDeliveries.list({ apiKeyId: key.id, eventType: 'api_key.rotated' }));
    assert.ok(delivery, 'the key-URL delivery is listed by apiKeyId');
    assert.equal(delivery.endpointId, null);
    assert.equal(delivery.apiKeyId, key.id);
    assert.equal(delivery.eventId, request.headers['webhook-id']);
  });
});

describe('key import', TEST_TIMEOUT, () => {
  it('imports a key by its SHA-256; it then verifies, and a second import of it conflicts', async () => {
    const legacy = `sk_live_${crypto.randomBytes(18).toString('base64url')}`;
    const hash = crypto.createHash('sha256').update(legacy).digest('hex');
    assert.equal(keyHash(legacy), hash);
    assert.equal(keyHash(new SecretKey(legacy)), hash);

    const { imported } = await admin.apiKeys.import({
      keys: [
        {
          keyHash: hash,
          keyPrefix: legacy.slice(0, 12),
          last4: legacy.slice(-4),
          name: 'legacy billing key',
          scopes: ['billing:read'],
          meta: { legacy_id: 42, camelCase: true },
          expiresAt: new Date(Date.now() + 30 * 86_400_000),
        },
      ],
    });
    assert.equal(imported.length, 1);
    const [key] = imported;
    assert.equal(key.source, 'import');
    assert.equal(key.name, 'legacy billing key');
    assert.equal(key.keyPrefix, legacy.slice(0, 12));
    assert.equal(key.last4, legacy.slice(-4));
    assert.deepEqual(key.scopes, ['billing:read']);
    assert.deepEqual(key.meta, { legacy_id: 42, camelCase: true });
    assert.equal(key.isActive, true);
    assert.ok(key.expiresAt);
    assert.equal(key.rotationWebhookUrl, null, 'null-filled like every ApiKey');
    assert.ok(!('key' in key), 'no plaintext comes back');
    assert.deepEqual(await admin.apiKeys.get(key.id), key);

    const verified = await admin.keys.verify({ key: legacy, requiredScopes: ['billing:read'] });
    assert.equal(verified.code, 'VALID');
    assert.equal(verified.valid, true);
    assert.equal(verified.keyId, key.id);
    assert.deepEqual(verified.meta, { legacy_id: 42, camelCase: true });
    assert.equal((await admin.keys.verify({ key: `${legacy}x` })).valid, false);

    const again = await rejectsWith(
      admin.apiKeys.import({ keys: [{ keyHash: hash, keyPrefix: 'sk_live_dupe', name: 'again' }] }),
      [ConflictError, APIError, KeywardError],
    );
    assert.equal(again.status, 409);

    await admin.apiKeys.revoke(key.id);
    assert.equal((await admin.keys.verify({ key: legacy })).code, 'REVOKED');
  });

  it('imports several keys in order, all or none; a bad field is a BadRequestError naming keys[i].field', async () => {
    const legacies = [0, 1].map(() => `legacy_${crypto.randomBytes(16).toString('hex')}`);
    const items = legacies.map((legacy, i) => ({ keyHash: keyHash(legacy), keyPrefix: legacy.slice(0, 11), name: `legacy ${i}` }));

    // A bound the spec declares (a SHA-256 is 64 hex characters): refused before any request.
    const bad = await rejectsWith(admin.apiKeys.import({ keys: [{ ...items[0], keyHash: 'abc123' }, items[1]] }), [KeywardError]);
    assert.ok(!(bad instanceof APIError));
    assert.match(bad.message, /keys\[0\]\.key_hash/);
    // The server refuses the second item (its hash repeats the first's) after
    // the first was written: the whole batch is rolled back.
    const badSecond = await rejectsWith(admin.apiKeys.import({ keys: [items[0], { ...items[1], keyHash: items[0].keyHash }] }), [ConflictError]);
    assert.match(badSecond.message, /keys\[1\]\.key_hash/);
    // All or none: neither key of the refused batches exists.
    for (const legacy of legacies) assert.equal((await admin.keys.verify({ key: legacy })).valid, false);

    const { imported } = await admin.apiKeys.import({ keys: items });
    assert.deepEqual(imported.map((key) => key.name), ['legacy 0', 'legacy 1']);
    for (const [i, legacy] of legacies.entries()) {
      const result = await admin.keys.verify({ key: legacy });
      assert.equal(result.code, 'VALID');
      assert.equal(result.keyId, imported[i].id);
    }
    const listed = await collect(admin.apiKeys.list());
    for (const key of imported) assert.ok(listed.some((k) => k.id === key.id && k.source === 'import'));

    // Refused before any request: no keys array, or an item missing a required field.
    await rejectsWith(admin.apiKeys.import({}), [KeywardError]);
    const missing = await rejectsWith(admin.apiKeys.import({ keys: [{ keyHash: keyHash('x'), name: 'n' }] }), [KeywardError]);
    assert.ok(!(missing instanceof APIError));
    for (const key of imported) await admin.apiKeys.revoke(key.id);
  });
});

describe('project key-hygiene settings', TEST_TIMEOUT, () => {
  it('expiryWarningDays and leakPolicy: defaults, create, update, get and list round-trip', async () => {
    const plain = await admin.projects.create({ name: unique('defaults') });
    assert.equal(plain.expiryWarningDays, 7);
    assert.equal(plain.leakPolicy, 'revoke');

    const project = await admin.projects.create({ name: unique('hygiene'), expiryWarningDays: 14, leakPolicy: 'flag' });
    assert.equal(project.expiryWarningDays, 14);
    assert.equal(project.leakPolicy, 'flag');
    assert.deepEqual(await admin.projects.get(project.id), project);

    const updated = await admin.projects.update(project.id, { expiryWarningDays: 0, leakPolicy: 'revoke' });
    assert.equal(updated.expiryWarningDays, 0);
    assert.equal(updated.leakPolicy, 'revoke');
    assert.equal(updated.name, project.name);
    const listed = (await collect(admin.projects.list())).find((p) => p.id === project.id);
    assert.deepEqual(listed, updated);
    // Only the fields given change.
    const renamed = await admin.projects.update(project.id, { name: unique('renamed') });
    assert.equal(renamed.expiryWarningDays, 0);
    assert.equal(renamed.leakPolicy, 'revoke');

    const tooMany = await rejectsWith(admin.projects.update(project.id, { expiryWarningDays: 366 }), [KeywardError]);
    assert.ok(!(tooMany instanceof APIError), 'a bound the spec declares is checked before sending');
    assert.match(tooMany.message, /`expiry_warning_days` must be at most 365/);
    const badPolicy = await rejectsWith(admin.projects.update(project.id, { leakPolicy: 'delete' }), [KeywardError]);
    assert.ok(!(badPolicy instanceof APIError), 'an unknown policy is refused before any request');

    await admin.projects.delete(plain.id);
    await admin.projects.delete(project.id);
  });
});
