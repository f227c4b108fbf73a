import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by the policy server under /console/ with a strict CSP: no inline script, so no
// module-preload polyfill (it would be inlined) and every asset is a file with a content hash.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  // The pages are written against React's API and types, and run on Preact through its compatibility layer:
  // the same components in an 80 kB bundle instead of 280 kB. On the low-spec, busy PCs this console is opened
  // on, compiling React was the largest single part of the export log's first render (bench: about 50 ms at
  // p50, measured with page visits alternating against the React build).
  resolve: {
    alias: [
      { find: /^react\/jsx-(dev-)?runtime$/, replacement: 'preact/jsx-runtime' },
      { find: /^react-dom\/client$/, replacement: 'preact/compat/client' },
      { find: /^react(-dom)?$/, replacement: 'preact/compat' },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
    reportCompressedSize: true,
  },
});
