'use strict';
// A tiny loopback HTTP proxy in front of the test server, to inject failures:
//   mode 'forward'   pass everything through
//   mode '503-once'  answer the first request 503 (Retry-After: 0), forward the rest
//   mode '500', '429', … answer every request with that status and a keyward-shaped error body
//   mode 'hang'      never answer (until the client gives up or the proxy closes)
// It records every request (method, path, idempotency key, headers) it saw.

const http = require('node:http');

async function startProxy(upstream, mode = 'forward') {
  const state = { mode, requests: [], closedSockets: 0 };
  const hanging = new Set();
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    state.requests.push({
      method: req.method,
      url: req.url,
      idempotencyKey: req.headers['idempotency-key'] ?? null,
      headers: { ...req.headers },
    });
    const current = state.mode;
    if (current === 'hang') {
      hanging.add(res);
      res.on('close', () => {
        hanging.delete(res);
        state.closedSockets++;
      });
      return;
    }
    if (/^\d{3}$/.test(current) || (current === '503-once' && state.requests.length === 1)) {
      const status = current === '503-once' ? 503 : Number(current);
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '0', 'x-request-id': 'proxy-req' });
      res.end(JSON.stringify({ error: 'injected failure', code: status === 503 ? 'unavailable' : `http_${status}`, request_id: 'proxy-req' }));
      return;
    }
    try {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers['content-length'];
      delete headers.connection;
      const upstreamRes = await fetch(upstream + req.url, {
        method: req.method,
        headers,
        body: ['GET', 'HEAD'].includes(req.method) ? undefined : body,
        signal: AbortSignal.timeout(10000),
      });
      const text = Buffer.from(await upstreamRes.arrayBuffer());
      const outHeaders = {};
      upstreamRes.headers.forEach((value, name) => {
        if (!['content-length', 'transfer-encoding', 'connection', 'content-encoding'].includes(name)) outHeaders[name] = value;
      });
      res.writeHead(upstreamRes.status, outHeaders);
      res.end(text);
    } catch (error) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    baseURL: `http://127.0.0.1:${port}`,
    state,
    setMode(next) {
      state.mode = next;
      state.requests = [];
    },
    close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

module.exports = { startProxy };
