import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// No node:url here: renderer/ is linted as browser code, and a decoded file: URL path is enough.
const here = (path: string) => decodeURIComponent(new URL(path, import.meta.url).pathname);

export default defineConfig({
  root: here('.'),
  // Relative asset paths: the page is loaded from file:// by Electron and from / by the web shell.
  base: './',
  plugins: [react()],
  build: {
    outDir: here('../dist/renderer'),
    emptyOutDir: true,
    // noVNC uses top-level await and other modern syntax.
    target: 'es2022',
    // CSP script-src 'self' (no inline scripts) and img-src without data: for our own assets.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  optimizeDeps: { esbuildOptions: { target: 'es2022' } },
  esbuild: { target: 'es2022' },
  server: { host: '127.0.0.1', strictPort: false },
});
