import 'element-plus/dist/index.css'
import '@shared/look.css'
import './portal.css'
import ElementPlus from 'element-plus'
import { createApp } from 'vue'
import App from './App.vue'
import { i18n } from './i18n.js'
import { router } from './router.js'

// Element Plus's popups position themselves without HTML strings, but a library clearing a container with
// `innerHTML = ''` needs this: the default policy lets the empty string through and nothing else.
window.trustedTypes?.createPolicy('default', { createHTML: (html) => (html === '' ? html : null) })

createApp(App).use(i18n).use(router).use(ElementPlus).mount('#app')
