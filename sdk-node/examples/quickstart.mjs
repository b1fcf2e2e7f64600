// Create a key, verify it, page through keys, handle a typed error.
//   KEYWARD_API_KEY=<admin key> KEYWARD_BASE_URL=http://127.0.0.1:8080 node examples/quickstart.mjs
import { Keyward, NotFoundError } from 'keyward';

const client = new Keyward(); // KEYWARD_API_KEY / KEYWARD_BASE_URL

const created = await client.apiKeys.create({ name: 'quickstart', scopes: ['reports:read'], meta: { plan: 'pro' } });
console.log('created', created.id, String(created.key)); // only the prefix is printed: kw_live_abc1…
const plaintext = created.key.value; // hand this to your customer, once

const result = await client.keys.verify({ key: plaintext, requiredScopes: ['reports:read'] });
console.log('verify', result.valid, result.code, result.meta);

let count = 0;
for await (const _key of client.apiKeys.list({ limit: 50 })) {
  count += 1;
  if (count >= 1000) break;
}
console.log('keys visible', count);

await client.apiKeys.revoke(created.id);
try {
  await client.projects.get('01900000-0000-7000-8000-000000000000');
} catch (error) {
  if (error instanceof NotFoundError) console.log('not found', error.status, error.code, error.requestId);
  else throw error;
}
