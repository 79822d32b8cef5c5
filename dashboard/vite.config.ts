import tailwindcss from '@tailwindcss/vite';
import { defineConfig } from 'vite';

/**
 * The System Internals page, built into `dashboard/dist` and served by the `admin-page` and
 * `admin-assets` functions under `/admin/system`. No React plugin: esbuild compiles the JSX, and
 * the page needs no fast refresh.
 */
export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/system/',
  plugins: [tailwindcss()],
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    // One script and one style sheet: the page is small and served by a Lambda.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  logLevel: 'warn',
});
