// Validates the operators' resources (Strimzi, CloudNativePG, Prometheus Operator) of a rendered overlay against
// the CRD schemas the kubernetes-models packages publish; built-in kinds are left to kubernetes-validate.
// Usage: kustomize build deploy/k8s/overlays/prod | node deploy/tools/validate-resources.mjs
// Prints one line per resource checked; exits 1 naming every invalid resource, or one of a kind it cannot check.
import { readFileSync } from 'node:fs'
import yaml from 'js-yaml'
import * as cnpg from '@kubernetes-models/cloudnative-pg/postgresql.cnpg.io/v1'
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1'
import * as strimzi from '@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1beta2'

const MODELS = {
  'postgresql.cnpg.io/v1': cnpg,
  'monitoring.coreos.com/v1': monitoring,
  'kafka.strimzi.io/v1beta2': strimzi,
}

let failed = false
for (const resource of yaml.loadAll(readFileSync(0, 'utf8'))) {
  if (!resource || !resource.apiVersion.includes('.') || resource.apiVersion.endsWith('.k8s.io/v1')) continue
  const name = `${resource.kind}/${resource.metadata.name}`
  const Model = MODELS[resource.apiVersion]?.[resource.kind]
  if (!Model) {
    console.log(`UNCHECKED ${name} (${resource.apiVersion}): no published schema here`)
    failed = true
    continue
  }
  try {
    new Model(resource).validate()
    console.log(`valid ${name}`)
  } catch (error) {
    console.log(`INVALID ${name}: ${error.message}`)
    failed = true
  }
}
process.exit(failed ? 1 : 0)
