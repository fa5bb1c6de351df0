// Sector names in the console's current language.
import { nameIn, SECTORS } from '../../shared/catalog.js'
import { i18n } from './i18n.js'

export function sectorName(code) {
  return nameIn(SECTORS, code, i18n.global.locale.value)
}
