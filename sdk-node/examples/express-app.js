'use strict';
// An Express service whose /reports route only answers callers presenting a
// keyward key with the `reports:read` scope.
//
//   KEYWARD_API_KEY=<a key with keys:verify> KEYWARD_BASE_URL=http://127.0.0.1:8080 \
//     node examples/express-app.js
//   curl -H "Authorization: Bearer <customer key>" http://127.0.0.1:3000/reports

const express = require('express');
const { requireKey } = require('keyward/express');

const app = express();

app.get('/healthz', (req, res) => res.json({ ok: true }));

app.get('/reports', requireKey({ scopes: ['reports:read'] }), (req, res) => {
  // req.keyward is the verify result: keyId, organizationId, projectId, scopes, meta, …
  res.json({ organization: req.keyward.organizationId, key: req.keyward.name, reports: [] });
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${port}`);
});
