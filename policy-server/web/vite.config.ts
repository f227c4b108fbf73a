import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The console is served by the policy server under /console/ with a strict CSP: no inline script, so no
// module-preload polyfill (it would be inlined) and every asset is a file with a content hash.
export default defineConfig({
  base: '/console/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 400,
    reportCompressedSize: true,
  },
});
