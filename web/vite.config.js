// One multi-page build for every screen the gateway serves (the console, the station desk and the enterprise portal;
// what they share lives in web/shared, which the portal imports as @shared).
// The output lands inside the gateway package, which serves it offline; it is git-ignored and rebuilt by make.
import { fileURLToPath, URL } from 'node:url'
import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))

export default defineConfig({
  root: here('.'),
  // Absolute: every page finds the shared chunks at /web/assets/ whatever its own address.
  base: '/web/',
  plugins: [vue()],
  resolve: { alias: { '@shared': here('shared') } },
  define: {
    // The full-build flags of vue-i18n; without them the bundle warns at start-up.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
    __VUE_OPTIONS_API__: false,
    __VUE_PROD_DEVTOOLS__: false,
    __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: false,
  },
  build: {
    outDir: here('../gateway/src/gateway/webapp/dist'),
    emptyOutDir: true,
    // The polyfill would be an inline script, which the CSP forbids; every browser we target has modulepreload.
    modulePreload: { polyfill: false },
    // The chunk the screens share holds Element Plus and ECharts (about 1.6 MB, 540 KB gzipped), cached for a year.
    chunkSizeWarningLimit: 2000,
    rollupOptions: {
      input: { console: here('console/index.html'), station: here('station/index.html'),
        portal: here('portal/index.html') },
    },
  },
})
