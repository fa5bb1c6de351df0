import 'element-plus/dist/index.css'
import '@shared/theme.css'
import ElementPlus from 'element-plus'
import { createApp } from 'vue'
import App from './App.vue'
import { i18n } from './i18n.js'
import { router } from './router.js'

// zrender, ECharts' renderer, empties its container with `innerHTML = ''`, which Trusted Types block like any string.
// The default policy lets the empty string through and nothing else, so no markup can reach a sink this way.
window.trustedTypes?.createPolicy('default', { createHTML: (html) => (html === '' ? html : null) })

createApp(App).use(i18n).use(router).use(ElementPlus).mount('#app')
