'use strict';
// Loads the napi-rs addon through the loader `napi build` writes (native.js).

let binding;
try {
  binding = require('../native.js');
} catch (error) {
  const hint = new Error(
    'keyward: the native addon is not built or could not be loaded. Build it from source with ' +
      '`npm ci && npm run build` inside sdk-node/ (needs a Rust toolchain), then install the package ' +
      `again. Cause: ${error && error.message}`,
    { cause: error },
  );
  throw hint;
}

module.exports = binding;
