'use strict';
// Loads the compiled addon if the install step built it. Its absence is not an error: the agent then uses
// node:crypto, which gives the same bytes more slowly. `loadError` says why it is absent, for diagnostics.
const path = require('node:path');

let binding = null;
let loadError = null;
try {
  binding = require(path.join(__dirname, 'build', 'Release', 'exitseal_native.node'));
} catch (error) {
  loadError = error instanceof Error ? error.message : String(error);
}

module.exports = { binding, loadError };
