// keyward/express: Express middleware that guards routes with keyward's verify.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Keyward, VerifyKeyResult } from './index';

export interface RequireKeyOptions {
  /** Scopes the presented key must all hold. */
  scopes?: string[];
  /**
   * The client that verifies. Default: one built when `requireKey()` is called from
   * KEYWARD_API_KEY and KEYWARD_BASE_URL; a missing variable throws a `KeywardError` naming it.
   */
  client?: Keyward;
  /** Credits each request spends (server default 1). */
  cost?: number;
  /** The caller IP checked against the key's allowedIps (default `req.ip`); return undefined to skip the check. */
  ip?: (req: any) => string | undefined;
  /**
   * Answers a rejected request instead of the default (`res.status(...).json(...)` yourself);
   * if it returns without sending, the default rejection is sent.
   */
  onReject?: (rejection: Rejection, req: any, res: any) => void | Promise<void>;
  /** Where a refused guard key (configuration) or an unreachable keyward (outage) is reported. Default `console`. */
  logger?: { error: (message: string) => void };
  /** How often, at most, each of those problems is logged, in ms (default 60000). */
  logIntervalMs?: number;
  /** Called when keyward gave no verdict (the middleware answers 503). */
  onError?: (error: unknown, req: any) => void;
}

/** The JSON body every keyward guard answers a rejected request with (docs/sdk-contract.md). */
export interface RequireKeyErrorBody {
  error: string;
  /** `missing_key`, `verification_unavailable`, or a lower-cased verify code (`not_found`, `revoked`, `insufficient_scopes`, …). */
  code: string;
  /** The request's own `x-request-id` header, when it carried one; else null. */
  request_id: string | null;
}

/** Why a request was turned away, as given to `onReject`. */
export interface Rejection {
  /** 401, 403, 429 or 503. */
  status: number;
  code: string;
  message: string;
  requestId: string | null;
  /** `www-authenticate` and `retry-after`, when they apply. */
  headers: Record<string, string>;
  body: RequireKeyErrorBody;
  /** keyward's verdict when it gave one (`valid: false`). */
  verdict: VerifyKeyResult | null;
  /** Why keyward gave no verdict (the 503 case). */
  error: unknown;
}

export type KeywardMiddleware = (
  req: IncomingMessage & { keyward?: VerifyKeyResult },
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Reads `Authorization: Bearer <key>` or `x-api-key`, verifies it, sets
 * `req.keyward` and calls next(); otherwise answers 401/403/429 (or 503) with a
 * `RequireKeyErrorBody`. Throws a `KeywardError` at once when it has no client and
 * KEYWARD_API_KEY or KEYWARD_BASE_URL is missing.
 */
export declare function requireKey(options?: RequireKeyOptions): KeywardMiddleware;

/** How often, at most, each problem with keyward itself is logged by default (ms). */
export declare const DEFAULT_LOG_INTERVAL_MS: number;

/** The key a request presents, or null. */
export declare function extractKey(req: { headers: Record<string, string | string[] | undefined> }): string | null;

declare global {
  namespace Express {
    interface Request {
      /** Set by keyward's `requireKey()` to the verify result of the presented key. */
      keyward?: VerifyKeyResult;
    }
  }
}
