'use strict';
// No server needed: case conversion, SecretKey masking, error mapping, and the
// nullable-field lists checked against the committed OpenAPI document.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

const { toSnake, toCamel } = require('../lib/case.js');
const { NULLABLE } = require('../lib/models.js');
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

describe('models match openapi/keyward.json', () => {
  const spec = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'openapi', 'keyward.json'), 'utf8'));
  for (const [model, fields] of Object.entries(NULLABLE)) {
    it(`${model}: every optional field is null-filled`, () => {
      const schema = spec.components.schemas[model];
      assert.ok(schema, `schema ${model} is in the spec`);
      const optional = Object.keys(schema.properties).filter((name) => !(schema.required || []).includes(name));
      assert.deepEqual([...fields].sort(), optional.sort());
    });
  }
  it('index.d.ts declares every field of every model', () => {
    const dts = fs.readFileSync(path.join(__dirname, '..', 'index.d.ts'), 'utf8');
    const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
    const interfaces = { ApiKey: 'ApiKey', Project: 'Project', RotatedApiKey: 'RotatedApiKey', VerifyKeyResponse: 'VerifyKeyResult', CreateApiKeyRequest: 'ApiKeyCreateParams', UpdateApiKeyRequest: 'ApiKeyUpdateParams', CreateProjectRequest: 'ProjectCreateParams', UpdateProjectRequest: 'ProjectUpdateParams', VerifyKeyRequest: 'VerifyKeyParams', RateLimit: 'RateLimit', UsageLimit: 'UsageLimit', UsageRefill: 'UsageRefill', RateLimitState: 'RateLimitState', Organization: 'Organization', Member: 'Member', Environment: 'Environment', AuditEvent: 'AuditEvent', AuditActor: 'AuditActor', AuditTarget: 'AuditTarget', CreateOrganizationRequest: 'OrganizationCreateParams', UpdateOrganizationRequest: 'OrganizationUpdateParams', AddMemberRequest: 'MemberAddParams', UpdateMemberRequest: 'MemberUpdateParams', CreateEnvironmentRequest: 'EnvironmentCreateParams', WebhookEndpoint: 'WebhookEndpoint', WebhookDelivery: 'WebhookDelivery', CreateWebhookEndpointRequest: 'WebhookEndpointCreateParams', UpdateWebhookEndpointRequest: 'WebhookEndpointUpdateParams', WebhookSigningSecret: 'WebhookSigningSecretResult', ImportedApiKey: 'ApiKeyImportItem', ImportApiKeysRequest: 'ApiKeyImportParams', ImportApiKeysResponse: 'ImportApiKeysResult' };
    for (const [schemaName, iface] of Object.entries(interfaces)) {
      const match = new RegExp(`export interface ${iface} (?:extends \\w+ )?\\{([\\s\\S]*?)\\n\\}`).exec(dts);
      assert.ok(match, `interface ${iface} in index.d.ts`);
      const declared = [...match[1].matchAll(/^\s+(\w+)\??:/gm)].map((m) => m[1]);
      const expected = Object.keys(spec.components.schemas[schemaName].properties).map(camel);
      assert.deepEqual(declared.sort(), expected.sort(), `${iface} vs ${schemaName}`);
    }
  });
});
