'use strict';
// No server needed: case conversion, SecretKey masking, error mapping, and the
// generated result shapes and declarations checked against the committed
// OpenAPI document.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

const { toSnake, toCamel } = require('../lib/case.js');
const { SHAPES } = require('../lib/resources.js');
const { shapes } = require('../lib/operation.js');
const { fromNative } = require('../lib/errors.js');
const keyward = require('..');

const KEY = 'kros_live_abc1DEFghiJKLmnoPQRstuVWXyz0123456789';

describe('SecretKey', () => {
  const secret = new keyward.SecretKey(KEY);
  it('.value returns the plaintext', () => {
    assert.equal(secret.value, KEY);
  });
  it('every printed form shows only the prefix', () => {
    assert.equal(secret.prefix, 'kros_live_abc1');
    assert.equal(String(secret), 'kros_live_abc1…');
    assert.equal(`${secret}`, 'kros_live_abc1…');
    assert.equal(secret + '', 'kros_live_abc1…');
    assert.equal(JSON.stringify({ key: secret }), '{"key":"kros_live_abc1…"}');
    assert.equal(util.inspect(secret), 'SecretKey(kros_live_abc1…)');
    assert.equal(util.format('%s %o %j', secret, secret, secret).includes(KEY), false);
    assert.equal(util.inspect({ nested: { secret } }, { depth: 5 }).includes(KEY), false);
    assert.deepEqual(Object.keys(secret), []);
  });
  it('a webhook secret shows only whsec_ (its base64 may contain _)', () => {
    const value = 'whsec_ab_cdEFGH_ijklMNOPqrstUVWXyz0123456789';
    const webhookSecret = new keyward.SecretKey(value);
    assert.equal(webhookSecret.value, value);
    assert.equal(webhookSecret.prefix, 'whsec_');
    assert.equal(String(webhookSecret), 'whsec_…');
    assert.equal(util.inspect({ webhookSecret }), '{ webhookSecret: SecretKey(whsec_…) }');
    assert.equal(JSON.stringify({ webhookSecret }), '{"webhookSecret":"whsec_…"}');
  });
  it('is immutable', () => {
    assert.throws(() => {
      'use strict';
      secret.value = 'x';
    });
  });
});

describe('case conversion', () => {
  it('camelCase → snake_case, dropping undefined, Dates to RFC 3339, meta untouched', () => {
    const date = new Date('2030-01-02T03:04:05.000Z');
    assert.deepEqual(
      toSnake({ projectId: 'p', rateLimit: { windowMs: 5 }, expiresAt: date, skip: undefined, meta: { camelKey: { innerKey: 1 } }, allowedIps: ['1.2.3.4'] }),
      { project_id: 'p', rate_limit: { window_ms: 5 }, expires_at: '2030-01-02T03:04:05.000Z', meta: { camelKey: { innerKey: 1 } }, allowed_ips: ['1.2.3.4'] },
    );
  });
  it('snake_case → camelCase, meta untouched', () => {
    assert.deepEqual(
      toCamel({ key_id: 'k', ratelimit: { reset_at: 'r' }, meta: { some_key: { inner_key: 1 } }, last4: 'abcd', items: [{ window_ms: 1 }] }),
      { keyId: 'k', ratelimit: { resetAt: 'r' }, meta: { some_key: { inner_key: 1 } }, last4: 'abcd', items: [{ windowMs: 1 }] },
    );
  });
  it("a webhook delivery's payload passes through untouched (it is the signed body)", () => {
    assert.deepEqual(
      toCamel({ event_type: 'api_key.created', payload: { type: 'api_key.created', data: { api_key: { key_prefix: 'kw' } } } }),
      { eventType: 'api_key.created', payload: { type: 'api_key.created', data: { api_key: { key_prefix: 'kw' } } } },
    );
  });
  it("an audit event's changes pass through untouched", () => {
    assert.deepEqual(
      toCamel({ user_agent: 'ua', changes: { before: { key_prefix: 'kw' }, after: { key_prefix: 'acme' } } }),
      { userAgent: 'ua', changes: { before: { key_prefix: 'kw' }, after: { key_prefix: 'acme' } } },
    );
  });
});

describe('error mapping', () => {
  const native = (info) => new Error(JSON.stringify(info));
  const cases = [
    [400, keyward.BadRequestError],
    [422, keyward.BadRequestError],
    [401, keyward.AuthenticationError],
    [403, keyward.PermissionDeniedError],
    [404, keyward.NotFoundError],
    [409, keyward.ConflictError],
    [429, keyward.RateLimitError],
    [500, keyward.InternalServerError],
    [503, keyward.InternalServerError],
  ];
  for (const [status, Class] of cases) {
    it(`${status} → ${Class.name}`, () => {
      const error = fromNative(native({ type: 'api', status, code: 'c', message: 'm', request_id: 'r' }));
      assert.ok(error instanceof Class);
      assert.ok(error instanceof keyward.APIError);
      assert.ok(error instanceof keyward.KeywardError);
      assert.deepEqual([error.status, error.code, error.message, error.requestId, error.name], [status, 'c', 'm', 'r', Class.name]);
    });
  }
  it('timeout / connection / aborted', () => {
    assert.ok(fromNative(native({ type: 'timeout', message: 't' })) instanceof keyward.APITimeoutError);
    assert.ok(fromNative(native({ type: 'timeout', message: 't' })) instanceof keyward.APIConnectionError);
    const connection = fromNative(native({ type: 'connection', message: 'refused' }));
    assert.ok(connection instanceof keyward.APIConnectionError && !(connection instanceof keyward.APITimeoutError));
    assert.equal(fromNative(native({ type: 'aborted', message: 'a' })).name, 'AbortError');
  });
  it('anything else is a plain KeywardError', () => {
    assert.ok(fromNative(new TypeError('boom')) instanceof keyward.KeywardError);
    assert.ok(fromNative(native({ type: 'decode', message: 'bad json' })) instanceof keyward.KeywardError);
  });
});

describe('generated shapes and declarations match openapi/keyward.json', () => {
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'openapi', 'keyward.json'), 'utf8'));
  const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
  /** [name, required] of every property of a schema, following allOf. */
  const propertiesOf = (schema) => [
    ...(schema.allOf || []).flatMap((part) => propertiesOf(part.$ref ? spec.components.schemas[part.$ref.split('/').pop()] : part)),
    ...Object.keys(schema.properties || {}).map((name) => [name, (schema.required || []).includes(name)]),
  ];

  for (const [model, shape] of Object.entries(SHAPES)) {
    it(`${model}: every field is converted, every optional one null-filled`, () => {
      const schema = spec.components.schemas[model];
      assert.ok(schema, `schema ${model} is in the spec`);
      const expected = propertiesOf(schema).map(([name, required]) => [name, camel(name), required ? 0 : 1]);
      assert.deepEqual(Object.entries(shape).map(([name, [camelName, , optional]]) => [name, camelName, optional]), expected);
    });
  }

  it('a result: camelCase, optional fields null, secrets wrapped, free-form JSON untouched', () => {
    const { output, page } = shapes(SHAPES);
    const created = output('CreatedApiKey')({
      id: 'k',
      key_prefix: 'kw_live_abc1',
      key: KEY,
      meta: { some_key: 1 },
      usage_limit: { remaining: 5 },
      brand_new_field: { inner_key: 1 },
    });
    assert.ok(created.key instanceof keyward.SecretKey);
    assert.equal(created.key.value, KEY);
    assert.equal(created.keyPrefix, 'kw_live_abc1');
    assert.deepEqual(created.meta, { some_key: 1 });
    assert.deepEqual(created.usageLimit, { remaining: 5, refill: null });
    assert.equal(created.projectId, null);
    assert.equal(created.rotationWebhookUrl, null);
    assert.deepEqual(created.brandNewField, { innerKey: 1 }, 'a field newer than the SDK comes through');
    assert.ok(!Object.keys(created).some((name) => name.includes('_')));

    const org = output('OrganizationCreatedApiKey')({ api_key: { id: 'k', key_prefix: 'p' }, plaintext_api_key: KEY });
    assert.ok(org.plaintextApiKey instanceof keyward.SecretKey);
    assert.equal(org.apiKey.keyPrefix, 'p');
    assert.equal(org.apiKey.revokedAt, null);

    const listed = page('ApiKey')({ items: [{ id: 'a', allowed_ips: [] }], next_cursor: null });
    assert.deepEqual(Object.keys(listed), ['data', 'nextCursor']);
    assert.equal(listed.data[0].allowedIps.length, 0);
    assert.equal(listed.nextCursor, null);

    const delivery = output('WebhookDelivery')({ event_type: 'api_key.created', payload: { data: { api_key: { key_prefix: 'kw' } } } });
    assert.deepEqual(delivery.payload, { data: { api_key: { key_prefix: 'kw' } } });
  });

  it('lib/resources.d.ts declares every field of every schema it declares', () => {
    const dts = fs.readFileSync(path.join(__dirname, '..', 'lib', 'resources.d.ts'), 'utf8');
    const declaredSchemas = [...dts.matchAll(/^export interface (\w+) /gm)].map((m) => m[1]).filter((name) => spec.components.schemas[name]);
    for (const expected of ['ApiKey', 'CreatedApiKey', 'RotatedApiKey', 'Project', 'VerifyKeyRequest', 'VerifyKeyResponse', 'ApiKeyUsage', 'WebhookDelivery', 'ImportApiKeysRequest', 'OrganizationCreatedApiKey']) {
      assert.ok(declaredSchemas.includes(expected), `interface ${expected}`);
    }
    for (const name of declaredSchemas) {
      const match = new RegExp(`export interface ${name} (?:extends (\\w+) )?\\{([\\s\\S]*?)\\n\\}`).exec(dts);
      const base = match[1] ? propertiesOf(spec.components.schemas[match[1]]).map(([field]) => camel(field)) : [];
      const declared = [...base, ...[...match[2].matchAll(/^ {2}(\w+)\??:/gm)].map((m) => m[1])];
      const expected = propertiesOf(spec.components.schemas[name]).map(([field]) => camel(field));
      assert.deepEqual(declared.sort(), expected.sort(), name);
    }
  });
});
