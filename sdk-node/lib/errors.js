'use strict';
// Error classes. The native layer rejects (or throws) with an Error whose
// message is a JSON object {type, status?, code?, message, request_id?};
// fromNative() turns it into the matching class below.

class KeywardError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The request did not get a response: connection refused, reset, DNS… (after retries). */
class APIConnectionError extends KeywardError {
  constructor(message = 'Connection error.', options) {
    super(message, options);
  }
}

/** No complete response arrived within the timeout (after retries). */
class APITimeoutError extends APIConnectionError {
  constructor(message = 'Request timed out.', options) {
    super(message, options);
  }
}

/** The call was aborted through its AbortSignal. `name` is 'AbortError'. */
class APIUserAbortError extends KeywardError {
  constructor(message = 'Request was aborted.', options) {
    super(message, options);
    this.name = 'AbortError';
    this.code = 'ABORT_ERR';
  }
}

/** The server answered 4xx/5xx; body {error, code, request_id}. */
class APIError extends KeywardError {
  constructor(status, code, message, requestId) {
    super(message);
    /** HTTP status, e.g. 404. */
    this.status = status;
    /** Stable snake_case code, e.g. `not_found`. */
    this.code = code;
    /** The request's x-request-id, for support. */
    this.requestId = requestId ?? null;
  }
}

class BadRequestError extends APIError {}
class AuthenticationError extends APIError {}
class PermissionDeniedError extends APIError {}
class NotFoundError extends APIError {}
class ConflictError extends APIError {}
class RateLimitError extends APIError {}
class InternalServerError extends APIError {}

/**
 * A received webhook is not authentic or not current: answer 400 and drop it.
 * `code` is the stable reason, the same in every keyward SDK: `missing_header`,
 * `invalid_timestamp`, `timestamp_too_old`, `timestamp_too_new`,
 * `no_matching_signature` or `invalid_payload` (signed, but not JSON).
 */
class WebhookVerificationError extends KeywardError {
  constructor(message, code, options) {
    super(message, options);
    /** Why the message was rejected, e.g. `no_matching_signature`. */
    this.code = code;
  }
}

function apiErrorClass(status) {
  if (status === 400 || status === 422) return BadRequestError;
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitError;
  if (status >= 500) return InternalServerError;
  return APIError;
}

function parseNative(error) {
  if (!error || typeof error.message !== 'string' || !error.message.startsWith('{')) return null;
  try {
    const parsed = JSON.parse(error.message);
    return parsed && typeof parsed === 'object' && typeof parsed.type === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** Maps an error from the native layer to a KeywardError subclass. */
function fromNative(error) {
  if (error instanceof KeywardError) return error;
  const info = parseNative(error);
  if (!info) {
    // A JS-side conversion failure (e.g. a param of the wrong type).
    return new KeywardError(error && error.message ? error.message : String(error), { cause: error });
  }
  switch (info.type) {
    case 'api': {
      const Class = apiErrorClass(info.status);
      return new Class(info.status, info.code, info.message, info.request_id);
    }
    case 'timeout':
      return new APITimeoutError(info.message || undefined);
    case 'connection':
      return new APIConnectionError(info.message || undefined);
    case 'aborted':
      return new APIUserAbortError();
    case 'webhook':
      return new WebhookVerificationError(info.message, info.code);
    default:
      // invalid_config, invalid_argument, decode, unknown
      return Object.assign(new KeywardError(info.message), { type: info.type });
  }
}

module.exports = {
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
  WebhookVerificationError,
  fromNative,
  apiErrorClass,
};
