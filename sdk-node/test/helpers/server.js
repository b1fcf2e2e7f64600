'use strict';
// Starts the real keyward server (target/debug/keyward) on a free loopback port
// with a fresh SQLite database, reads the bootstrap admin key from its first
// stdout line and polls /healthz. Every wait is bounded.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const WORKSPACE = path.resolve(__dirname, '..', '..', '..');
const BINARY = process.env.KEYWARD_SERVER_BIN || path.join(WORKSPACE, 'target', 'debug', 'keyward');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The server may deliver webhooks to loopback receivers (SSRF guard off) and
 * polls its outbox every 50 ms, so a delivery arrives within moments.
 * `env` adds or overrides variables (e.g. `KEYWARD_WEBHOOK_RETRY_DELAYS_MS`).
 *
 * @param {{timeoutMs?: number, jwtSecret?: string, env?: Record<string, string>}} [options]
 *   `jwtSecret` enables HS256 session JWTs
 * @returns {Promise<{baseURL: string, adminKey: string, organizationId: string, stop: () => Promise<void>, logs: () => string}>}
 */
async function startServer({ timeoutMs = 30000, jwtSecret, env = {} } = {}) {
  if (!fs.existsSync(BINARY)) {
    throw new Error(`${BINARY} is missing: run \`cargo build -p keyward-server\` first`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keyward-node-test-'));
  const port = await freePort();
  const baseURL = `http://127.0.0.1:${port}`;
  const child = spawn(
    BINARY,
    [
      '--listen',
      `127.0.0.1:${port}`,
      '--database-url',
      `sqlite://${path.join(dir, 'kw.db')}`,
      // HS256 session JWTs (test/tenancy.test.js mints them).
      ...(jwtSecret ? ['--jwt-secret', jwtSecret] : []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        KEYWARD_LOG: process.env.KEYWARD_LOG || 'warn',
        // Webhook deliveries to the tests' receivers on 127.0.0.1, picked up quickly.
        KEYWARD_WEBHOOK_ALLOW_PRIVATE: 'true',
        KEYWARD_WEBHOOK_POLL_INTERVAL_MS: '50',
        ...env,
      },
    },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    stderr += chunk;
    if (stderr.length > 200000) stderr = stderr.slice(-100000);
  });
  let exited = null;
  child.on('exit', (code, signal) => (exited = { code, signal }));

  const stop = async () => {
    if (exited === null) {
      child.kill('SIGTERM');
      for (let i = 0; i < 50 && exited === null; i++) await sleep(100);
      if (exited === null) child.kill('SIGKILL');
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  try {
    while (!stdout.includes('\n')) {
      if (exited) throw new Error(`keyward exited early (${JSON.stringify(exited)}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`keyward printed no admin key within ${timeoutMs} ms: ${stderr}`);
      await sleep(25);
    }
    const adminKey = stdout.split('\n')[0].trim();
    for (;;) {
      if (exited) throw new Error(`keyward exited early (${JSON.stringify(exited)}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`keyward /healthz not ready within ${timeoutMs} ms: ${stderr}`);
      try {
        const res = await fetch(`${baseURL}/healthz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    const verify = await fetch(`${baseURL}/v1/keys/verify`, {
      method: 'POST',
      headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ key: adminKey, cost: 0 }),
      signal: AbortSignal.timeout(5000),
    });
    const body = await verify.json();
    if (!body.valid) throw new Error(`admin key does not verify: ${JSON.stringify(body)}`);
    return { baseURL, adminKey, organizationId: body.organization_id, port, stop, logs: () => stderr };
  } catch (error) {
    await stop();
    throw error;
  }
}

module.exports = { startServer, freePort, sleep, WORKSPACE };
