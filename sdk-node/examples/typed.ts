// Type-checked (not run) by `npm run typecheck`: the public surface as a
// TypeScript user sees it, through index.d.ts and express.d.ts.
import express from 'express';
import {
  Keyward,
  SecretKey,
  APIError,
  NotFoundError,
  APITimeoutError,
  APIConnectionError,
  type ApiKey,
  type CreatedApiKey,
  type RotatedApiKey,
  type Project,
  type LeakPolicy,
  type Page,
  type VerifyKeyResult,
  type VerifyCode,
  type Organization,
  type Member,
  type Environment,
  type AuditEvent,
  type Role,
  ConflictError,
  webhooks,
  Webhook,
  WebhookVerificationError,
  KeywardError,
  type WebhookVerificationCode,
  type WebhookEndpoint,
  type CreatedWebhookEndpoint,
  type WebhookDelivery,
  type WebhookDeliveryStatus,
  type WebhookEventType,
  type ImportApiKeysResult,
  type ApiKeyImportItem,
  BadRequestError,
  keyHash,
} from 'keyward';
import { requireKey } from 'keyward/express';

async function tour(client: Keyward): Promise<void> {
  const created: CreatedApiKey = await client.apiKeys.create({
    name: 'typed',
    scopes: ['reports:read'],
    expiresAt: new Date(Date.now() + 86_400_000),
    rateLimit: { limit: 10, windowMs: 1000 },
    usageLimit: { remaining: 100, refill: { amount: 100, intervalMs: 86_400_000 } },
    meta: { anything: ['goes', 1, { nested: true }] },
  });
  const secret: SecretKey = created.key;
  const plaintext: string = secret.value;
  const projectId: string | null = created.projectId;

  const fetched: ApiKey = await client.apiKeys.get(created.id, { timeout: 5_000, maxRetries: 1 });
  const active: boolean = fetched.isActive;
  // `null` clears a clearable field (nullable in the spec's PATCH body)…
  await client.apiKeys.update(created.id, { isActive: false, deviceName: null, expiresAt: null });
  // @ts-expect-error …and only those: a key's name cannot be cleared.
  await client.apiKeys.update(created.id, { name: null });
  const regenerated: CreatedApiKey = await client.apiKeys.regenerate(created.id, { idempotencyKey: 'abc' });
  const rotated: RotatedApiKey = await client.apiKeys.rotate(created.id, { gracePeriodSeconds: 60 });
  const newId: string = rotated.newKeyId;
  await client.apiKeys.revoke(created.id, { signal: AbortSignal.timeout(1000) });

  for await (const key of client.apiKeys.list({ projectId: projectId ?? undefined, limit: 10 })) {
    const prefix: string = key.keyPrefix;
    void prefix;
  }
  const page: Page<ApiKey> = await client.apiKeys.listPage({ limit: 2 });
  const cursor: string | null = page.nextCursor;

  const project: Project = await client.projects.create({ name: 'p', keyPrefix: 'pp', defaultScopes: ['a'] });
  await client.projects.update(project.id, { defaultTtlSeconds: 3600, expiryWarningDays: 14, leakPolicy: 'flag' });
  const warningDays: number = project.expiryWarningDays;
  // A result's enum may hold a value newer than this SDK: `LeakPolicy | (string & {})`.
  const leakPolicy: LeakPolicy | (string & {}) = project.leakPolicy;
  void [warningDays, leakPolicy];
  // @ts-expect-error leakPolicy is 'revoke' or 'flag'
  await client.projects.update(project.id, { leakPolicy: 'delete' });
  const projects: Project[] = await client.projects.list().toArray({ max: 10 });

  const org = await client.organizationApiKeys.create(project.organizationId, { name: 'o', scopes: ['keys:read'] });
  const orgSecret: SecretKey = org.plaintextApiKey;
  for await (const key of client.organizationApiKeys.list(project.organizationId, { cursor: undefined })) void key;
  const revokedOrgKey: boolean = (await client.organizationApiKeys.revoke(project.organizationId, org.apiKey.id)).revoked;
  void [orgSecret, revokedOrgKey];

  const usage = await client.apiKeys.getUsage(created.id, { from: new Date(Date.now() - 86_400_000), granularity: 'hour' });
  const buckets: number[] = usage.buckets.map((bucket) => bucket.total);
  const validCount: number | undefined = usage.counts['VALID'];
  void [buckets, validCount];
  // @ts-expect-error not a granularity
  await client.apiKeys.getUsage(created.id, { granularity: 'week' });

  const verified: VerifyKeyResult = await client.keys.verify({ key: plaintext, ip: '10.0.0.1', requiredScopes: ['a'], cost: 1 });
  const code: VerifyCode | (string & {}) = verified.code;
  const remaining: number | null = verified.ratelimit?.remaining ?? verified.remaining;

  try {
    await client.apiKeys.get('missing');
  } catch (error) {
    if (error instanceof NotFoundError) {
      const status: number = error.status;
      const requestId: string | null = error.requestId;
      void [status, requestId];
    } else if (error instanceof APITimeoutError || error instanceof APIConnectionError) {
      // retry later
    } else if (error instanceof APIError) {
      const code: string = error.code;
      void code;
    }
  }
  void [active, regenerated, newId, cursor, projects, code, remaining];

  // Tenancy: a dashboard session (a user's JWT) acting in one organization.
  const dashboard = new Keyward({ apiKey: 'eyJ...session-jwt', organizationId: project.organizationId });
  const orgId: string | null = dashboard.organizationId;
  const organization: Organization = await dashboard.organizations.create({ name: 'Acme', keyPrefix: 'acme' });
  const role: Role | (string & {}) | null = organization.role;
  await dashboard.organizations.update(organization.id, { name: 'Acme Inc' });
  const member: Member = await dashboard.members.add(organization.id, { userId: 'user_2abc', role: 'admin' });
  await dashboard.members.update(organization.id, member.userId, { role: 'viewer' });
  try {
    await dashboard.members.remove(organization.id, 'the-last-owner');
  } catch (error) {
    if (error instanceof ConflictError) void error.status;
  }
  for await (const m of dashboard.members.list(organization.id, { limit: 50 })) void m.role;
  const environment: Environment = await dashboard.environments.create(project.id, { name: 'staging' });
  const environments: Environment[] = await dashboard.environments.list(project.id).toArray();
  for await (const event of dashboard.auditEvents.list({ action: 'member.added', actorId: 'user_2abc', since: new Date(0), until: '2030-01-01T00:00:00Z' })) {
    const audited: AuditEvent = event;
    const actorType: string = audited.actor.type;
    const userAgent: string | null = audited.userAgent;
    void [actorType, userAgent, audited.changes];
  }
  for await (const o of dashboard.organizations.list()) void o.keyPrefix;
  await dashboard.projects.delete(project.id);
  await dashboard.organizations.delete(organization.id);
  void [orgId, role, environment, environments];

  // @ts-expect-error not a role
  await dashboard.members.add(organization.id, { userId: 'u', role: 'superuser' });
  // @ts-expect-error results are camelCase
  void member.user_id;

  // @ts-expect-error name is required
  await client.apiKeys.create({ scopes: ['x'] });
  // @ts-expect-error results are camelCase
  void fetched.key_prefix;
  // @ts-expect-error verify takes { key }, not a bare string
  await client.keys.verify(plaintext);
  // @ts-expect-error unknown option
  new Keyward({ apiKey: 'k', baseUrl: 'http://x' });
}

// Key hygiene: webhook endpoints and deliveries, the signing secret, key import.
async function hygiene(client: Keyward): Promise<void> {
  const endpoint: CreatedWebhookEndpoint = await client.webhookEndpoints.create({
    url: 'https://hooks.example.com/keyward',
    description: 'key events to ops',
    eventTypes: ['api_key.rotated', 'api_key.leaked'],
  });
  const endpointSecret: SecretKey = endpoint.secret;
  const receiver = new Webhook(endpointSecret.value);
  const fetchedEndpoint: WebhookEndpoint = await client.webhookEndpoints.get(endpoint.id, { timeout: 5_000 });
  const types: (WebhookEventType | (string & {}))[] = fetchedEndpoint.eventTypes;
  const description: string | null = fetchedEndpoint.description;
  await client.webhookEndpoints.update(endpoint.id, { eventTypes: [], isActive: false, description: null });
  for await (const e of client.webhookEndpoints.list({ limit: 10 })) void e.url;
  const endpointPage: Page<WebhookEndpoint> = await client.webhookEndpoints.listPage({ startingAfter: endpoint.id });
  const rotatedSecret: SecretKey = (await client.webhookEndpoints.rotateSecret(endpoint.id)).secret;
  await client.webhookEndpoints.delete(endpoint.id, { signal: AbortSignal.timeout(1000) });

  const status: WebhookDeliveryStatus = 'failed';
  for await (const delivery of client.webhookDeliveries.list({ endpointId: endpoint.id, eventType: 'api_key.rotated', status })) {
    const d: WebhookDelivery = delivery;
    const lastStatus: number | null = d.lastStatusCode;
    const payloadType: unknown = d.payload.type;
    if (d.status === 'failed') await client.webhookDeliveries.redeliver(d.id, { idempotencyKey: 'redeliver-1' });
    void [lastStatus, payloadType, d.eventId, d.apiKeyId];
  }
  const deliveries: Page<WebhookDelivery> = await client.webhookDeliveries.listPage({ apiKeyId: 'k', limit: 5 });
  const one: WebhookDelivery = await client.webhookDeliveries.get('d');

  const signing: SecretKey = (await client.webhookSigningSecret.rotate()).secret;

  const legacy = 'sk_live_legacyABCDEFGH12345678';
  const item: ApiKeyImportItem = { keyHash: keyHash(legacy), keyPrefix: 'sk_live_lega', last4: '5678', name: 'legacy', expiresAt: new Date() };
  try {
    const result: ImportApiKeysResult = await client.apiKeys.import({ keys: [item, { keyHash: keyHash(new SecretKey(legacy)), keyPrefix: 'x', name: 'y', meta: { a: 1 } }] });
    const imported: ApiKey[] = result.imported;
    void imported[0]?.source;
  } catch (error) {
    if (error instanceof ConflictError || error instanceof BadRequestError) void error.message;
  }
  void [receiver, types, description, endpointPage, rotatedSecret, deliveries, one, signing];

  // @ts-expect-error not an event type
  await client.webhookEndpoints.create({ url: 'https://x', eventTypes: ['api_key.exploded'] });
  // @ts-expect-error url is required
  await client.webhookEndpoints.create({ description: 'no url' });
  // @ts-expect-error not a delivery status
  client.webhookDeliveries.list({ status: 'done' });
  // @ts-expect-error import takes { keys }, with keyHash (never the plaintext)
  await client.apiKeys.import({ keys: [{ key: legacy, keyPrefix: 'x', name: 'y' }] });
  // @ts-expect-error results are camelCase
  void one.event_type;
}

// Webhooks keyward sends: verify the raw body against the request's headers.
interface KeyEvent { type: string; data: { id: string } }
const hook = new Webhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', { toleranceSeconds: 60 });
const tolerance: number = hook.toleranceSeconds;
const signature: string = hook.sign('msg_1', new Date(), '{"type":"x"}');
const viaFetch: unknown = webhooks.verify(Buffer.from('{}'), new Headers({ 'webhook-id': 'msg_1' }), 'whsec_x');
const typed: KeyEvent = hook.verify<KeyEvent>('{}', { 'webhook-id': 'msg_1', 'webhook-signature': [signature], host: undefined });
const fromPairs = new webhooks.Webhook('whsec_x').verify(new Uint8Array(2), [['webhook-id', 'msg_1']]);
try {
  webhooks.verify('{}', new Map([['webhook-id', 'msg_1']]), 'whsec_x', { toleranceSeconds: 10 });
} catch (error) {
  if (error instanceof WebhookVerificationError) {
    const why: WebhookVerificationCode = error.code;
    const base: KeywardError = error;
    void [why, base];
  }
}
void [tolerance, viaFetch, typed.data.id, fromPairs, webhooks.DEFAULT_TOLERANCE_SECONDS];
// @ts-expect-error the timestamp is seconds or a Date
hook.sign('msg_1', '1614265330', '{}');
// @ts-expect-error headers are an object, Headers, Map or pairs
webhooks.verify('{}', 'webhook-id: msg_1', 'whsec_x');
// @ts-expect-error the option is toleranceSeconds
new Webhook('whsec_x', { tolerance: 5 });

const app = express();
app.get('/reports', requireKey({ scopes: ['reports:read'], client: new Keyward({ apiKey: 'k' }) }), (req, res) => {
  const who: VerifyKeyResult | undefined = req.keyward;
  res.json({ org: who?.organizationId });
});

void tour;
void hygiene;
