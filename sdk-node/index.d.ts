// Type definitions for the `keyward` npm package (hand-written wrapper types;
// field names are the API's, in camelCase). Timestamps are RFC 3339 strings;
// ids are UUID strings.

export type Uuid = string;
/** RFC 3339 timestamp, e.g. `2026-01-31T12:00:00Z`. Inputs also accept a Date. */
export type Timestamp = string;
type TimestampInput = string | Date;
/** Free-form JSON object, passed through untouched (keys are not case-converted). */
export type Meta = { [key: string]: unknown };

// ---------------------------------------------------------------------------
// Client

export interface ClientOptions {
  /** Defaults to `process.env.KEYWARD_API_KEY`; the constructor throws when neither is set. */
  apiKey?: string;
  /** Defaults to `process.env.KEYWARD_BASE_URL`, then `http://127.0.0.1:8080`. */
  baseURL?: string;
  /** Per-request timeout in milliseconds (default 30000). */
  timeout?: number;
  /** Retries on connection errors, timeouts, 408/429/5xx, with backoff (default 2). */
  maxRetries?: number;
  /**
   * The organization a session (dashboard user JWT as `apiKey`) acts in, sent as
   * `X-Organization-Id` on every request. Defaults to `process.env.KEYWARD_ORGANIZATION_ID`;
   * without it a session acts in its `org_id` claim's or its first organization.
   */
  organizationId?: string;
}

export interface RequestOptions {
  /** Timeout in milliseconds for this call. */
  timeout?: number;
  /** Retries for this call. */
  maxRetries?: number;
  /** Idempotency key for a mutating POST (one is generated when omitted). */
  idempotencyKey?: string;
  /** Aborting rejects the call with an `APIUserAbortError` (`name === 'AbortError'`). */
  signal?: AbortSignal;
}

export declare class Keyward {
  constructor(options?: ClientOptions);
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  /** The `X-Organization-Id` sent on every request, or null. */
  readonly organizationId: string | null;
  /** `/v1/api-keys`: the project-level key family. */
  readonly apiKeys: ApiKeys;
  /** `/v1/keys/verify`. */
  readonly keys: Keys;
  /** `/v1/organizations/{org}/api-keys`. */
  readonly organizationApiKeys: OrganizationApiKeys;
  /** `/v1/projects`. */
  readonly projects: Projects;
  /** `/v1/organizations`. */
  readonly organizations: Organizations;
  /** `/v1/organizations/{org}/members`. */
  readonly members: Members;
  /** `/v1/projects/{id}/environments`. */
  readonly environments: Environments;
  /** `/v1/audit-events`. */
  readonly auditEvents: AuditEvents;
  /** `/v1/webhook-endpoints`: where the organization's key events are delivered. */
  readonly webhookEndpoints: WebhookEndpoints;
  /** `/v1/webhook-deliveries`: each event's delivery to each destination. */
  readonly webhookDeliveries: WebhookDeliveries;
  /** `/v1/webhook-signing-secret`: the secret of deliveries to keys' own `rotationWebhookUrl`. */
  readonly webhookSigningSecret: WebhookSigningSecret;
}

// ---------------------------------------------------------------------------
// Secrets and pagination

/**
 * A plaintext secret: an API key, or a webhook signing secret (`whsec_…`).
 * `.value` returns it; `toString()`, template strings, `console.log`,
 * `util.inspect` and `JSON.stringify` show only its prefix.
 */
export declare class SecretKey {
  constructor(value: string);
  /** The full plaintext. */
  readonly value: string;
  /** `{prefix}_{env}_` plus the first 4 secret characters, e.g. `kw_live_abc1`; `whsec_` for a webhook secret. */
  readonly prefix: string;
  /** The masked form, e.g. `kw_live_abc1…` or `whsec_…`. */
  toString(): string;
  toJSON(): string;
}

export interface Page<T> {
  data: T[];
  /** Pass as `startingAfter` (or `cursor` for organization keys); null on the last page. */
  nextCursor: string | null;
}

/** Lazily fetches every page: `for await (const key of client.apiKeys.list())`. */
export declare class PageIterator<T> implements AsyncIterable<T> {
  [Symbol.asyncIterator](): AsyncIterator<T>;
  /** Iterates pages instead of items. */
  pages(): AsyncIterableIterator<Page<T>>;
  /** Collects items, stopping after `max`. */
  toArray(options?: { max?: number }): Promise<T[]>;
}

// ---------------------------------------------------------------------------
// Models

export type KeySource = 'api' | 'dashboard' | 'bootstrap' | 'rotation' | 'import';

export type VerifyCode =
  | 'VALID'
  | 'NOT_FOUND'
  | 'MALFORMED'
  | 'REVOKED'
  | 'EXPIRED'
  | 'FORBIDDEN_IP'
  | 'INSUFFICIENT_SCOPES'
  | 'RATE_LIMITED'
  | 'USAGE_EXCEEDED'
  | 'DISABLED';

export interface RateLimit {
  /** Requests (verify `cost` units) allowed per window; 1 or more. */
  limit: number;
  /** Window length in milliseconds; 1 000 ms to 1 day. */
  windowMs: number;
}

export interface UsageRefill {
  /** `remaining` is reset to this amount every interval. */
  amount: number;
  /** Interval in milliseconds (at least 1 000). */
  intervalMs: number;
}

export interface UsageLimit {
  /** Credits left; each verify spends `cost` (default 1). */
  remaining: number;
  refill?: UsageRefill | null;
}

export interface ApiKey {
  id: Uuid;
  organizationId: Uuid;
  /** `null` for an org-wide key. */
  projectId: Uuid | null;
  environmentId: Uuid;
  /** Environment name, e.g. `live` or `test`. */
  environment: string;
  name: string;
  /** `{prefix}_{env}_` plus the first 4 secret characters, e.g. `kros_live_abc1`. */
  keyPrefix: string;
  last4: string;
  scopes: string[];
  /** IPs and CIDR blocks allowed to present the key; empty allows all. */
  allowedIps: string[];
  meta: Meta;
  expiresAt: Timestamp | null;
  lastUsedAt: Timestamp | null;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  revokedAt: Timestamp | null;
  /** False when disabled by update or revoked. */
  isActive: boolean;
  createdByUserId: string | null;
  deviceName: string | null;
  source: KeySource;
  rateLimit: RateLimit | null;
  usageLimit: UsageLimit | null;
  /** Verifications counted so far. */
  usageCount: number;
  replacedByKeyId: Uuid | null;
  graceExpiresAt: Timestamp | null;
  rotationIntervalDays: number | null;
  nextRotationAt: Timestamp | null;
  rotationWebhookUrl: string | null;
}

/** An ApiKey with its plaintext, returned once by create and regenerate. */
export interface CreatedApiKey extends ApiKey {
  key: SecretKey;
}

export interface RotatedApiKey {
  oldKeyId: Uuid;
  newKeyId: Uuid;
  projectId: Uuid | null;
  name: string;
  /** The new key's plaintext. */
  key: SecretKey;
  keyPrefix: string;
  scopes: string[];
  expiresAt: Timestamp | null;
  createdAt: Timestamp;
  /** Until when the old key still verifies; null when it was revoked at once. */
  graceExpiresAt: Timestamp | null;
}

/** What a leak report does to a matching key: revoke it at once, or only flag it (audit + webhook). */
export type LeakPolicy = 'revoke' | 'flag';

export interface Project {
  id: Uuid;
  organizationId: Uuid;
  name: string;
  /** Overrides the organization's key prefix for this project's keys. */
  keyPrefix: string | null;
  defaultScopes: string[] | null;
  defaultRateLimit: RateLimit | null;
  defaultTtlSeconds: number | null;
  defaultGracePeriodSeconds: number | null;
  /**
   * Days before a key's `expiresAt` / `nextRotationAt` that `api_key.expiring` /
   * `api_key.rotation_due` go out, once (default 7; 0: never).
   */
  expiryWarningDays: number;
  /** What a leak report does to a matching key of the project (default `revoke`). */
  leakPolicy: LeakPolicy;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** A user's role in an organization (see docs/roles.md). */
export type Role = 'owner' | 'admin' | 'member' | 'viewer';

export interface Organization {
  id: Uuid;
  name: string;
  /** Default prefix of the organization's keys (projects may override it). */
  keyPrefix: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  /** The calling user's role; null for an API-key caller. */
  role: Role | null;
}

/** A user's membership in an organization. */
export interface Member {
  organizationId: Uuid;
  /** The user's id at the identity provider (the session JWT's `sub`). */
  userId: string;
  role: Role;
  /** When the user joined. */
  createdAt: Timestamp;
}

/** A label keys carry and verify returns (e.g. `live`, `test`), shared by the organization's projects. */
export interface Environment {
  id: Uuid;
  organizationId: Uuid;
  /** 1-16 lowercase letters or digits. */
  name: string;
  createdAt: Timestamp;
}

/** Who performed an action. */
export interface AuditActor {
  /** `user`, `api_key` or `system`. */
  type: 'user' | 'api_key' | 'system' | (string & {});
  /** The user id (JWT `sub`) or the API key id. */
  id: string;
}

/** What an action was performed on. */
export interface AuditTarget {
  /** `api_key`, `organization`, `user` (a membership), `project`, `environment` or `route`. */
  type: string;
  id: string;
}

/** One append-only audit record. Never holds a plaintext key or a token. */
export interface AuditEvent {
  id: Uuid;
  organizationId: Uuid;
  actor: AuditActor;
  /** E.g. `api_key.created`, `member.added`, `organization.deleted`, `auth.denied`. */
  action: string;
  target: AuditTarget;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  createdAt: Timestamp;
  /** Before/after summary of the change, as the server recorded it (keys are not case-converted). */
  changes: { [key: string]: unknown };
  /** How many times it happened: failed or denied authentication is one event per credential, address and minute with a count; others are 1. */
  count: number;
}

/** What happened to a key: the `type` of a webhook event. */
export type WebhookEventType =
  | 'api_key.created'
  | 'api_key.updated'
  | 'api_key.revoked'
  | 'api_key.regenerated'
  | 'api_key.rotated'
  | 'api_key.expiring'
  | 'api_key.rotation_due'
  | 'api_key.leaked'
  | 'api_key.usage_exceeded';

/** `failed`: dead-lettered after its last retry (send it again with `redeliver`). */
export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** A destination for the organization's key events. Its secret is not shown again after creation. */
export interface WebhookEndpoint {
  id: Uuid;
  organizationId: Uuid;
  url: string;
  description: string | null;
  /** Event types delivered here; empty: every event. */
  eventTypes: WebhookEventType[];
  /** False pauses deliveries (events are not queued for it meanwhile). */
  isActive: boolean;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** An endpoint with its signing secret, returned once by create and rotateSecret. */
export interface CreatedWebhookEndpoint extends WebhookEndpoint {
  /** `whsec_…`: pass `secret.value` to `webhooks.verify` / `new Webhook()` in your receiver. */
  secret: SecretKey;
}

/** One event on its way to one destination. */
export interface WebhookDelivery {
  id: Uuid;
  /** The `webhook-id` header: the same on every attempt (receivers deduplicate by it). */
  eventId: string;
  eventType: WebhookEventType;
  /** The endpoint, or null for a key's own `rotationWebhookUrl`. */
  endpointId: Uuid | null;
  /** The key whose `rotationWebhookUrl` this goes to, for such deliveries. */
  apiKeyId: Uuid | null;
  url: string;
  status: WebhookDeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  nextAttemptAt: Timestamp | null;
  lastAttemptAt: Timestamp | null;
  /** HTTP status of the last attempt; null when it got no answer. */
  lastStatusCode: number | null;
  /** Why the last attempt failed. */
  lastError: string | null;
  deliveredAt: Timestamp | null;
  createdAt: Timestamp;
  /**
   * The signed body, `{type, timestamp, data: {api_key, …}}`, exactly as sent
   * (snake_case keys, not converted: what `webhooks.verify` returns to a receiver).
   */
  payload: { [key: string]: unknown };
}

/** The organization's new secret for deliveries to keys' own `rotationWebhookUrl`. */
export interface WebhookSigningSecretResult {
  /** `whsec_…`, shown once; the previous secret stops signing at once. */
  secret: SecretKey;
}

export interface ImportApiKeysResult {
  /** The imported keys, in request order (`source` = `'import'`). */
  imported: ApiKey[];
}

export interface RateLimitState {
  limit: number;
  remaining: number;
  /** When the window resets (RFC 3339). */
  resetAt: Timestamp;
}

export interface VerifyKeyResult {
  valid: boolean;
  code: VerifyCode;
  keyId: Uuid | null;
  organizationId: Uuid | null;
  projectId: Uuid | null;
  environment: string | null;
  name: string | null;
  scopes: string[] | null;
  meta: Meta | null;
  expiresAt: Timestamp | null;
  /** Set while the key is in a rotation grace period. */
  graceExpiresAt: Timestamp | null;
  ratelimit: RateLimitState | null;
  /** Usage credits left, for keys with a `usageLimit`. */
  remaining: number | null;
}

// ---------------------------------------------------------------------------
// Params

export interface ApiKeyCreateParams {
  /** Defaults to the calling key's project (none for an org-wide caller: an org-wide key). */
  projectId?: Uuid | null;
  /** 1-200 characters. */
  name: string;
  /** Scopes (`[a-z0-9_:.*-]`); defaults to the project's default scopes. */
  scopes?: string[] | null;
  /** Must be in the future. */
  expiresAt?: TimestampInput | null;
  allowedIps?: string[] | null;
  /** At most 4 KiB of JSON. */
  meta?: Meta | null;
  rateLimit?: RateLimit | null;
  usageLimit?: UsageLimit | null;
  /** Environment name (default `live`). */
  environment?: string | null;
  deviceName?: string | null;
  /** Rotate automatically every N days (1-3650). */
  rotationIntervalDays?: number | null;
  rotationWebhookUrl?: string | null;
}

export interface ApiKeyUpdateParams {
  name?: string | null;
  scopes?: string[] | null;
  expiresAt?: TimestampInput | null;
  allowedIps?: string[] | null;
  meta?: Meta | null;
  rateLimit?: RateLimit | null;
  usageLimit?: UsageLimit | null;
  /** `false` disables the key without revoking it (verify answers DISABLED). */
  isActive?: boolean | null;
  deviceName?: string | null;
  rotationIntervalDays?: number | null;
  rotationWebhookUrl?: string | null;
}

export interface ApiKeyListParams {
  projectId?: Uuid;
  environment?: string;
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this key id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

export interface ApiKeyRotateParams {
  /** Seconds the old key keeps verifying (0 or absent: revoked at once, unless the project sets a default). */
  gracePeriodSeconds?: number | null;
}

export interface OrganizationApiKeyCreateParams extends ApiKeyCreateParams {}

export interface OrganizationApiKeyListParams {
  projectId?: Uuid;
  environment?: string;
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** A previous page's `nextCursor`. */
  cursor?: string;
}

export interface ProjectCreateParams {
  name: string;
  /** 2-8 lowercase letters or digits, unique in the organization. */
  keyPrefix?: string | null;
  defaultScopes?: string[] | null;
  defaultRateLimit?: RateLimit | null;
  defaultTtlSeconds?: number | null;
  defaultGracePeriodSeconds?: number | null;
  /** 0-365 (default 7; 0 turns the expiry and rotation-due warnings off). */
  expiryWarningDays?: number | null;
  /** Default `revoke`. */
  leakPolicy?: LeakPolicy | null;
}

export interface ProjectUpdateParams {
  name?: string | null;
  keyPrefix?: string | null;
  defaultScopes?: string[] | null;
  defaultRateLimit?: RateLimit | null;
  defaultTtlSeconds?: number | null;
  defaultGracePeriodSeconds?: number | null;
  /** 0-365; 0 turns the expiry and rotation-due warnings off. */
  expiryWarningDays?: number | null;
  leakPolicy?: LeakPolicy | null;
}

export interface ProjectListParams {
  /** Page size, 1-200 (default 50). */
  limit?: number;
  startingAfter?: string;
}

export interface OrganizationCreateParams {
  /** 1-200 characters. */
  name: string;
  /** 2-8 lowercase letters or digits (default `kw`). */
  keyPrefix?: string | null;
}

export interface OrganizationUpdateParams {
  name?: string | null;
  /** 2-8 lowercase letters or digits; applies to keys created from now on. */
  keyPrefix?: string | null;
}

export interface OrganizationListParams {
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this organization id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

export interface MemberAddParams {
  /** The user's id (their session JWT `sub`); 1-255 characters. */
  userId: string;
  role: Role;
}

export interface MemberUpdateParams {
  role: Role;
}

export interface MemberListParams {
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this user id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

export interface EnvironmentCreateParams {
  /** 1-16 lowercase letters or digits, unique in the organization. */
  name: string;
}

export interface EnvironmentListParams {
  /** Page size, 1-200 (default 50). */
  limit?: number;
  startingAfter?: string;
}

export interface AuditEventListParams {
  /** Only this action, e.g. `api_key.revoked`. */
  action?: string;
  /** Only events by this actor (user id or API key id). */
  actorId?: string;
  /** Only events on this target id. */
  targetId?: string;
  /** Only events at or after this time. */
  since?: TimestampInput;
  /** Only events before this time. */
  until?: TimestampInput;
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this event id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

export interface WebhookEndpointCreateParams {
  /** Absolute http(s) URL; private, loopback and link-local targets are refused (400). */
  url: string;
  description?: string | null;
  /** Only these events (default: every event). */
  eventTypes?: WebhookEventType[] | null;
  /** Default true. */
  isActive?: boolean | null;
}

export interface WebhookEndpointUpdateParams {
  url?: string | null;
  description?: string | null;
  /** Replaces the filter; `[]` means every event. */
  eventTypes?: WebhookEventType[] | null;
  /** `false` pauses deliveries. */
  isActive?: boolean | null;
}

export interface WebhookEndpointListParams {
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this endpoint id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

export interface WebhookDeliveryListParams {
  /** Only deliveries to this endpoint. */
  endpointId?: Uuid;
  /** Only deliveries to this key's own `rotationWebhookUrl`. */
  apiKeyId?: Uuid;
  eventType?: WebhookEventType;
  status?: WebhookDeliveryStatus;
  /** Page size, 1-200 (default 50). */
  limit?: number;
  /** Start after this delivery id (a previous page's `nextCursor`). */
  startingAfter?: string;
}

/** An existing key, known by its hash (its plaintext is never sent). */
export interface ApiKeyImportItem {
  /** SHA-256 of the key's full text, 64 hex characters: `keyHash(key)`. */
  keyHash: string;
  /** What people see of the key, e.g. `sk_live_ab12` (1-32 printable characters). */
  keyPrefix: string;
  /** The key's last 4 characters, if known. */
  last4?: string | null;
  name: string;
  /** Defaults to the calling key's project (none: an org-wide key). */
  projectId?: Uuid | null;
  /** Environment name (default `live`). */
  environment?: string | null;
  scopes?: string[] | null;
  expiresAt?: TimestampInput | null;
  allowedIps?: string[] | null;
  meta?: Meta | null;
  rateLimit?: RateLimit | null;
  usageLimit?: UsageLimit | null;
}

export interface ApiKeyImportParams {
  /** 1-100 keys; all are imported or none. */
  keys: ApiKeyImportItem[];
}

export interface VerifyKeyParams {
  /** The key presented to your service (a SecretKey is accepted too). */
  key: string | SecretKey;
  /** Your caller's IP, checked against the key's `allowedIps`. */
  ip?: string | null;
  /** Scopes the key must all hold (`*` and `prefix:*` in the key's scopes match). */
  requiredScopes?: string[] | null;
  /** Credits and rate-limit tokens this request spends (default 1). */
  cost?: number | null;
}

// ---------------------------------------------------------------------------
// Resources

export declare class ApiKeys {
  create(params: ApiKeyCreateParams, options?: RequestOptions): Promise<CreatedApiKey>;
  list(params?: ApiKeyListParams, options?: RequestOptions): PageIterator<ApiKey>;
  listPage(params?: ApiKeyListParams, options?: RequestOptions): Promise<Page<ApiKey>>;
  get(id: Uuid, options?: RequestOptions): Promise<ApiKey>;
  update(id: Uuid, params: ApiKeyUpdateParams, options?: RequestOptions): Promise<ApiKey>;
  /** Idempotent. */
  revoke(id: Uuid, options?: RequestOptions): Promise<void>;
  /** Same id, new secret; the old secret stops working at once. */
  regenerate(id: Uuid, options?: RequestOptions): Promise<CreatedApiKey>;
  rotate(id: Uuid, params?: ApiKeyRotateParams, options?: RequestOptions): Promise<RotatedApiKey>;
  /**
   * Imports existing keys by their SHA-256 (all or none); they then verify, list,
   * rotate and revoke like keys issued here. A hash already stored rejects with a
   * ConflictError; an invalid item with a BadRequestError naming it (`keys[0].key_hash`).
   */
  import(params: ApiKeyImportParams, options?: RequestOptions): Promise<ImportApiKeysResult>;
}

export declare class OrganizationApiKeys {
  create(organizationId: Uuid, params: OrganizationApiKeyCreateParams, options?: RequestOptions): Promise<CreatedApiKey>;
  list(organizationId: Uuid, params?: OrganizationApiKeyListParams, options?: RequestOptions): PageIterator<ApiKey>;
  listPage(
    organizationId: Uuid,
    params?: OrganizationApiKeyListParams,
    options?: RequestOptions,
  ): Promise<Page<ApiKey>>;
  revoke(organizationId: Uuid, id: Uuid, options?: RequestOptions): Promise<void>;
}

export declare class Projects {
  create(params: ProjectCreateParams, options?: RequestOptions): Promise<Project>;
  list(params?: ProjectListParams, options?: RequestOptions): PageIterator<Project>;
  listPage(params?: ProjectListParams, options?: RequestOptions): Promise<Page<Project>>;
  get(id: Uuid, options?: RequestOptions): Promise<Project>;
  update(id: Uuid, params: ProjectUpdateParams, options?: RequestOptions): Promise<Project>;
  /** Deletes the project and revokes its keys. */
  delete(id: Uuid, options?: RequestOptions): Promise<void>;
}

export declare class Organizations {
  /** A session only: the caller becomes the owner; `live` and `test` environments are created. */
  create(params: OrganizationCreateParams, options?: RequestOptions): Promise<Organization>;
  /** A session's memberships (each with its `role`), or an API key's own organization. */
  list(params?: OrganizationListParams, options?: RequestOptions): PageIterator<Organization>;
  listPage(params?: OrganizationListParams, options?: RequestOptions): Promise<Page<Organization>>;
  /** Another tenant's (or a deleted) organization rejects with a NotFoundError. */
  get(organizationId: Uuid, options?: RequestOptions): Promise<Organization>;
  update(organizationId: Uuid, params: OrganizationUpdateParams, options?: RequestOptions): Promise<Organization>;
  /** Revokes every key of the organization and deletes it. */
  delete(organizationId: Uuid, options?: RequestOptions): Promise<void>;
}

export declare class Members {
  list(organizationId: Uuid, params?: MemberListParams, options?: RequestOptions): PageIterator<Member>;
  listPage(organizationId: Uuid, params?: MemberListParams, options?: RequestOptions): Promise<Page<Member>>;
  /** An existing member rejects with a ConflictError. */
  add(organizationId: Uuid, params: MemberAddParams, options?: RequestOptions): Promise<Member>;
  /** Demoting the last owner rejects with a ConflictError. */
  update(organizationId: Uuid, userId: string, params: MemberUpdateParams, options?: RequestOptions): Promise<Member>;
  /** Removing the last owner rejects with a ConflictError. */
  remove(organizationId: Uuid, userId: string, options?: RequestOptions): Promise<void>;
}

export declare class Environments {
  /** The environments of the project's organization (shared by all its projects). */
  list(projectId: Uuid, params?: EnvironmentListParams, options?: RequestOptions): PageIterator<Environment>;
  listPage(projectId: Uuid, params?: EnvironmentListParams, options?: RequestOptions): Promise<Page<Environment>>;
  /** A name already taken rejects with a ConflictError. */
  create(projectId: Uuid, params: EnvironmentCreateParams, options?: RequestOptions): Promise<Environment>;
}

export declare class AuditEvents {
  /** Newest first; admins, owners or an `orgs:admin` key. */
  list(params?: AuditEventListParams, options?: RequestOptions): PageIterator<AuditEvent>;
  listPage(params?: AuditEventListParams, options?: RequestOptions): Promise<Page<AuditEvent>>;
}

export declare class WebhookEndpoints {
  /** Owners and admins, or an `orgs:admin` key. The result's `secret` is shown only this once. */
  create(params: WebhookEndpointCreateParams, options?: RequestOptions): Promise<CreatedWebhookEndpoint>;
  list(params?: WebhookEndpointListParams, options?: RequestOptions): PageIterator<WebhookEndpoint>;
  listPage(params?: WebhookEndpointListParams, options?: RequestOptions): Promise<Page<WebhookEndpoint>>;
  /** Without its secret; a deleted (or another tenant's) endpoint rejects with a NotFoundError. */
  get(id: Uuid, options?: RequestOptions): Promise<WebhookEndpoint>;
  update(id: Uuid, params: WebhookEndpointUpdateParams, options?: RequestOptions): Promise<WebhookEndpoint>;
  /** No new deliveries go to it (those already queued still do). */
  delete(id: Uuid, options?: RequestOptions): Promise<void>;
  /** A new secret, shown this once; the old one stops signing at once. */
  rotateSecret(id: Uuid, options?: RequestOptions): Promise<CreatedWebhookEndpoint>;
}

export declare class WebhookDeliveries {
  /** Newest first. */
  list(params?: WebhookDeliveryListParams, options?: RequestOptions): PageIterator<WebhookDelivery>;
  listPage(params?: WebhookDeliveryListParams, options?: RequestOptions): Promise<Page<WebhookDelivery>>;
  get(id: Uuid, options?: RequestOptions): Promise<WebhookDelivery>;
  /** Sends it again now: same `webhook-id`, a fresh retry schedule, the destination's current secret. */
  redeliver(id: Uuid, options?: RequestOptions): Promise<WebhookDelivery>;
}

export declare class WebhookSigningSecret {
  /** Replaces the organization's secret for keys' `rotationWebhookUrl` deliveries; shown this once. */
  rotate(options?: RequestOptions): Promise<WebhookSigningSecretResult>;
}

/** SHA-256 of a key's full text as 64 lower-case hex characters: the `keyHash` to import it by. */
export declare function keyHash(key: string | SecretKey): string;

export declare class Keys {
  /** Resolves for every well-formed request: check `valid` and `code`. */
  verify(params: VerifyKeyParams, options?: RequestOptions): Promise<VerifyKeyResult>;
}

// ---------------------------------------------------------------------------
// Errors

export declare class KeywardError extends Error {}

/** No response: connection refused/reset, DNS failure… (after retries). */
export declare class APIConnectionError extends KeywardError {}

/** No complete response within the timeout (after retries). */
export declare class APITimeoutError extends APIConnectionError {}

/** The call's AbortSignal fired. */
export declare class APIUserAbortError extends KeywardError {
  readonly name: 'AbortError';
  readonly code: 'ABORT_ERR';
}

/** The server answered 4xx/5xx with `{error, code, request_id}`. */
export declare class APIError extends KeywardError {
  constructor(status: number, code: string, message: string, requestId?: string | null);
  /** HTTP status, e.g. 404. */
  readonly status: number;
  /** Stable snake_case identifier, e.g. `not_found`, `invalid_request`. */
  readonly code: string;
  /** The request's `x-request-id`. */
  readonly requestId: string | null;
}
/** 400 and 422. */
export declare class BadRequestError extends APIError {}
/** 401. */
export declare class AuthenticationError extends APIError {}
/** 403. */
export declare class PermissionDeniedError extends APIError {}
/** 404 (also another tenant's objects). */
export declare class NotFoundError extends APIError {}
/** 409. */
export declare class ConflictError extends APIError {}
/** 429. */
export declare class RateLimitError extends APIError {}
/** 5xx. */
export declare class InternalServerError extends APIError {}

/**
 * Why a received webhook was rejected (`WebhookVerificationError.code`); the
 * same strings in every keyward SDK.
 */
export type WebhookVerificationCode =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature'
  | 'invalid_payload';

/** A received webhook is not authentic or not current: answer 400 and drop it. */
export declare class WebhookVerificationError extends KeywardError {
  constructor(message: string, code: WebhookVerificationCode);
  readonly code: WebhookVerificationCode;
}

// ---------------------------------------------------------------------------
// Webhooks (Standard Webhooks signatures)

/** The raw request body, exactly as received (a string is taken as UTF-8). */
export type WebhookPayload = string | Buffer | Uint8Array | ArrayBuffer;

/**
 * Request headers: Node's `req.headers`, a fetch `Headers`, a `Map` or
 * `[name, value]` pairs. Names match case-insensitively; a repeated header's
 * values form one list.
 */
export type WebhookHeaders =
  | Record<string, string | string[] | undefined>
  | Headers
  | Map<string, string | string[]>
  | Iterable<readonly [string, string]>;

export interface WebhookOptions {
  /** How far `webhook-timestamp` may be from now, into the past or the future, in seconds (default 300). */
  toleranceSeconds?: number;
}

/**
 * One webhook endpoint's secret (`whsec_…`, the bare base64 works too). A
 * malformed secret throws a `KeywardError` (`type: 'invalid_argument'`).
 */
export declare class Webhook {
  constructor(secret: string, options?: WebhookOptions);
  readonly toleranceSeconds: number;
  /**
   * Checks the headers, the timestamp (within the tolerance) and that one `v1`
   * signature matches (constant time; other versions are ignored), then returns
   * the body parsed as JSON (typed as `T`, not validated). Throws
   * `WebhookVerificationError`.
   */
  verify<T = unknown>(payload: WebhookPayload, headers: WebhookHeaders): T;
  /** The `webhook-signature` value (`v1,<base64>`); `timestamp` in Unix seconds or a Date. */
  sign(msgId: string, timestamp: number | Date, payload: WebhookPayload): string;
}

/** `webhooks.verify(body, headers, secret)`: verify one webhook keyward sent. */
export declare const webhooks: {
  /** `new Webhook(secret, options).verify(payload, headers)`. */
  verify<T = unknown>(payload: WebhookPayload, headers: WebhookHeaders, secret: string, options?: WebhookOptions): T;
  readonly Webhook: typeof Webhook;
  readonly WebhookVerificationError: typeof WebhookVerificationError;
  /** 300. */
  readonly DEFAULT_TOLERANCE_SECONDS: number;
};
