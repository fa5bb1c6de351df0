// Sector names (web/shared/catalog.js) in the console's language.
import { sectorName as nameIn } from '@shared/catalog.js'
import { i18n } from './i18n.js'

export function sectorName(code) {
  return nameIn(code, i18n.global.locale.value)
}
