// The regions the platform knows (GET /v1/public/regions, official Chinese names), fetched once per page load, and
// the part of them a staff member governs: their own region and every region below it.
import { getJson } from './api.js'

let loading = null

export function allRegions() {
  loading ??= getJson('/v1/public/regions').then((answer) => answer.items).catch((error) => {
    loading = null
    throw error
  })
  return loading
}

/** The tree under `root` for a tree picker: [{ value, label, children }]. */
export function governedTree(regions, root) {
  const byParent = new Map()
  for (const region of regions) {
    const siblings = byParent.get(region.parent_code) ?? []
    siblings.push(region)
    byParent.set(region.parent_code, siblings)
  }
  const node = (region) => {
    const below = (byParent.get(region.code) ?? []).map(node)
    return { value: region.code, label: `${region.name}（${region.code}）`, ...(below.length ? { children: below } : {}) }
  }
  const top = regions.find((region) => region.code === root)
  return top ? [node(top)] : []
}

export function regionLabel(regions, code) {
  const region = regions.find((candidate) => candidate.code === code)
  return region ? `${region.name}（${code}）` : code ?? '—'
}
