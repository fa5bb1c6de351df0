// Chinese first, English on request: one vue-i18n per screen, the choice kept in localStorage under the screen's
// key and set on <html lang>.
import { createI18n } from 'vue-i18n'

/** {i18n, setLocale} for a screen's messages ({'zh-CN': ..., en: ...}), remembering the choice under `key`. */
export function createScreenI18n(messages, key) {
  const i18n = createI18n({
    legacy: false,
    locale: localStorage.getItem(key) === 'en' ? 'en' : 'zh-CN',
    fallbackLocale: 'zh-CN',
    messages,
  })

  function setLocale(locale) {
    i18n.global.locale.value = locale
    localStorage.setItem(key, locale)
    document.documentElement.lang = locale
  }

  document.documentElement.lang = i18n.global.locale.value
  return { i18n, setLocale }
}
