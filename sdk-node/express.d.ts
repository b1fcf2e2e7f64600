// keyward/express: Express middleware that guards routes with keyward's verify.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Keyward, VerifyKeyResult } from './index';

export interface RequireKeyOptions {
  /** Scopes the presented key must all hold. */
  scopes?: string[];
  /** The client that verifies; defaults to `new Keyward()` (KEYWARD_API_KEY / KEYWARD_BASE_URL), made on first use. */
  client?: Keyward;
  /** Credits each request spends (server default 1). */
  cost?: number;
  /** The caller IP checked against the key's allowedIps (default `req.ip`); return undefined to skip the check. */
  ip?: (req: any) => string | undefined;
  /** Called when keyward could not be reached (the middleware has answered 503). */
  onError?: (error: unknown, req: any) => void;
}

/** The JSON body the middleware answers with when it rejects a request. */
export interface RequireKeyErrorBody {
  error: string;
  /** `missing_api_key`, `verification_unavailable`, or a lower-cased verify code (`not_found`, `insufficient_scopes`, …). */
  code: string;
}

export type KeywardMiddleware = (
  req: IncomingMessage & { keyward?: VerifyKeyResult },
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void;

/**
 * Reads `Authorization: Bearer <key>` or `x-api-key`, verifies it, sets
 * `req.keyward` and calls next(); otherwise answers 401/403/429 (or 503) JSON.
 */
export declare function requireKey(options?: RequireKeyOptions): KeywardMiddleware;

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
