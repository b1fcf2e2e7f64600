// Not a test: times N verifies through the SDK (napi → Rust → HTTP) against the
// same N with raw fetch, against the same server in the same run.
//
//   node bench/verify-bench.mjs [N=2000] [concurrency=1]
//
// Starts target/debug/keyward on a free port unless KEYWARD_BASE_URL and
// KEYWARD_API_KEY are set. Prints per-verify latency and the SDK/fetch ratio.
import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';

const require = createRequire(import.meta.url);
const { Keyward } = require('../index.js');
const { startServer } = require('../test/helpers/server.js');

const N = Math.min(Math.max(Number(process.argv[2] ?? 2000), 1), 1_000_000);
const CONCURRENCY = Math.min(Math.max(Number(process.argv[3] ?? 1), 1), 256);
const WARMUP = Math.min(200, N);

let server = null;
let baseURL = process.env.KEYWARD_BASE_URL;
let adminKey = process.env.KEYWARD_API_KEY;
if (!baseURL || !adminKey) {
  server = await startServer();
  ({ baseURL, adminKey } = server);
}

try {
  const client = new Keyward({ apiKey: adminKey, baseURL });
  const created = await client.apiKeys.create({ name: 'bench', scopes: ['bench:read'] });
  const plaintext = created.key.value;

  const viaSdk = () => client.keys.verify({ key: plaintext, requiredScopes: ['bench:read'] });
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  const body = JSON.stringify({ key: plaintext, required_scopes: ['bench:read'] });
  const viaFetch = async () => {
    const res = await fetch(`${baseURL}/v1/keys/verify`, { method: 'POST', headers, body });
    if (!res.ok) throw new Error(`verify answered ${res.status}`);
    return res.json();
  };

  async function time(label, fn) {
    for (let i = 0; i < WARMUP; i++) await fn();
    let next = 0;
    const latencies = new Float64Array(N);
    const started = performance.now();
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= N) return;
        const t0 = performance.now();
        const result = await fn();
        latencies[i] = performance.now() - t0;
        if (!result.valid) throw new Error(`${label}: verify said ${result.code}`);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const elapsed = performance.now() - started;
    latencies.sort();
    const pct = (p) => latencies[Math.min(N - 1, Math.floor((p / 100) * N))] * 1000;
    const out = { label, elapsedMs: elapsed, perSec: (N / elapsed) * 1000, p50us: pct(50), p99us: pct(99) };
    console.log(
      `${label.padEnd(12)} ${N} verifies in ${elapsed.toFixed(0)} ms  ${out.perSec.toFixed(0)}/s  p50 ${out.p50us.toFixed(0)} µs  p99 ${out.p99us.toFixed(0)} µs`,
    );
    return out;
  }

  console.log(`server ${baseURL}  N=${N}  concurrency=${CONCURRENCY}  warmup=${WARMUP}`);
  // Alternate the order so neither side always runs on a colder server.
  const fetch1 = await time('raw fetch', viaFetch);
  const sdk1 = await time('keyward SDK', viaSdk);
  const sdk2 = await time('keyward SDK', viaSdk);
  const fetch2 = await time('raw fetch', viaFetch);
  const sdkMs = (sdk1.elapsedMs + sdk2.elapsedMs) / 2;
  const fetchMs = (fetch1.elapsedMs + fetch2.elapsedMs) / 2;
  console.log(`ratio SDK/fetch (total time, mean of 2 runs each): ${(sdkMs / fetchMs).toFixed(2)}`);
  await client.apiKeys.revoke(created.id);
} finally {
  if (server) await server.stop();
}
