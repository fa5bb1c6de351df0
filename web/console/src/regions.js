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

/** `root` and every region below it, each after its parent: [{ code, label, depth }] for an indented picker. */
export function governedRegions(regions, root) {
  const byParent = new Map()
  for (const region of regions) {
    const siblings = byParent.get(region.parent_code) ?? []
    siblings.push(region)
    byParent.set(region.parent_code, siblings)
  }
  const listed = []
  const visit = (region, depth) => {
    listed.push({ code: region.code, label: `${region.name}（${region.code}）`, depth: Math.min(depth, 2) })
    for (const below of byParent.get(region.code) ?? []) visit(below, depth + 1)
  }
  const top = regions.find((region) => region.code === root)
  if (top) visit(top, 0)
  return listed
}

export function regionLabel(regions, code) {
  const region = regions.find((candidate) => candidate.code === code)
  return region ? `${region.name}（${code}）` : code ?? '—'
}
