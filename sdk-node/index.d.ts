// Type definitions for the `keyward` npm package. The per-operation surface —
// the resource classes and one interface per schema, field names the API's in
// camelCase — is generated from openapi/keyward.json into lib/resources.d.ts
// and re-exported here; this file holds the hand-written rest (client, secrets,
// pagination, errors, webhooks). Timestamps are RFC 3339 strings; ids are UUID
// strings.

import type {
  AddMemberRequest,
  AuditEventsListParams,
  CreateApiKeyRequest,
  CreateEnvironmentRequest,
  CreateOrganizationRequest,
  CreateProjectRequest,
  CreateWebhookEndpointRequest,
  EnvironmentsListParams,
  ImportApiKeysRequest,
  ImportApiKeysResponse,
  ImportedApiKey,
  KeywardResources,
  MembersListParams,
  OrganizationApiKeysListParams,
  OrganizationsListParams,
  ProjectsListParams,
  RotateApiKeyRequest,
  UpdateApiKeyRequest,
  UpdateMemberRequest,
  UpdateOrganizationRequest,
  UpdateProjectRequest,
  UpdateWebhookEndpointRequest,
  ApiKeysListParams,
  VerifyKeyRequest,
  VerifyKeyResponse,
  WebhookDeliveriesListParams,
  WebhookEndpointsListParams,
  WebhookSigningSecret,
} from './lib/resources.js';

export * from './lib/resources.js';

export type Uuid = string;
/** RFC 3339 timestamp, e.g. `2026-01-31T12:00:00Z`. Inputs also accept a Date. */
export type Timestamp = string;
export type TimestampInput = string | Date;
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
  /** Headers added to this call's requests (a tracing id, a proxy's routing header). */
  headers?: Record<string, string>;
}

/**
 * The client. Its resource handles (`client.apiKeys`, `client.projects`, …)
 * are generated: see `KeywardResources` in lib/resources.d.ts.
 */
export declare class Keyward {
  constructor(options?: ClientOptions);
  readonly baseURL: string;
  readonly timeout: number;
  readonly maxRetries: number;
  /** The `X-Organization-Id` sent on every request, or null. */
  readonly organizationId: string | null;
}

export interface Keyward extends KeywardResources {}

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
// Former names of generated types (lib/resources.d.ts names each after its
// schema in openapi/keyward.json, and a list's query parameters after the
// resource and method, e.g. `ApiKeysListParams`).

export type VerifyKeyResult = VerifyKeyResponse;
export type VerifyKeyParams = VerifyKeyRequest;
export type WebhookSigningSecretResult = WebhookSigningSecret;
export type ImportApiKeysResult = ImportApiKeysResponse;
export type ApiKeyImportItem = ImportedApiKey;
export type ApiKeyImportParams = ImportApiKeysRequest;
export type ApiKeyCreateParams = CreateApiKeyRequest;
export type ApiKeyUpdateParams = UpdateApiKeyRequest;
export type ApiKeyListParams = ApiKeysListParams;
export type ApiKeyRotateParams = RotateApiKeyRequest;
export type OrganizationApiKeyCreateParams = CreateApiKeyRequest;
export type OrganizationApiKeyListParams = OrganizationApiKeysListParams;
export type ProjectCreateParams = CreateProjectRequest;
export type ProjectUpdateParams = UpdateProjectRequest;
export type ProjectListParams = ProjectsListParams;
export type OrganizationCreateParams = CreateOrganizationRequest;
export type OrganizationUpdateParams = UpdateOrganizationRequest;
export type OrganizationListParams = OrganizationsListParams;
export type MemberAddParams = AddMemberRequest;
export type MemberUpdateParams = UpdateMemberRequest;
export type MemberListParams = MembersListParams;
export type EnvironmentCreateParams = CreateEnvironmentRequest;
export type EnvironmentListParams = EnvironmentsListParams;
export type AuditEventListParams = AuditEventsListParams;
export type WebhookEndpointCreateParams = CreateWebhookEndpointRequest;
export type WebhookEndpointUpdateParams = UpdateWebhookEndpointRequest;
export type WebhookEndpointListParams = WebhookEndpointsListParams;
export type WebhookDeliveryListParams = WebhookDeliveriesListParams;

/** SHA-256 of a key's full text as 64 lower-case hex characters: the `keyHash` to import it by. */
export declare function keyHash(key: string | SecretKey): string;

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
