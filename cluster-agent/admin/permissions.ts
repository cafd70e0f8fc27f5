/**
 * What the person installing needs to be allowed, derived from the objects themselves (so a new object
 * in the install is checked without anyone remembering to): create, patch and get for each, and every
 * permission the agent's Role grants (Kubernetes lets one grant only what one holds).
 */
import type { KubernetesObject, V1PolicyRule } from '@kubernetes/client-node';

export interface Permission {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  name?: string;
  /** why it is needed, for the sentence */
  why: string;
}

/** The plural resource of an object's kind (the install uses only these kinds). */
const RESOURCES: Record<string, string> = {
  Namespace: 'namespaces',
  CustomResourceDefinition: 'customresourcedefinitions',
  ServiceAccount: 'serviceaccounts',
  Role: 'roles',
  RoleBinding: 'rolebindings',
  Deployment: 'deployments',
  Service: 'services',
  NetworkPolicy: 'networkpolicies',
  PodDisruptionBudget: 'poddisruptionbudgets',
  Template: 'templates',
  Secret: 'secrets',
  ConfigMap: 'configmaps',
};

export function resourceOf(o: KubernetesObject): { group: string; resource: string } {
  const group = o.apiVersion?.includes('/') ? o.apiVersion.split('/')[0]! : '';
  const resource = RESOURCES[o.kind ?? ''];
  if (!resource) throw new Error(`the installer does not know the resource of kind ${o.kind}`);
  return { group, resource };
}

/** Pure: every permission installing `objects` takes, and those `agentRules` grant (in `namespace`). */
export function installPermissions(objects: KubernetesObject[], agentRules: V1PolicyRule[], namespace: string): Permission[] {
  const out: Permission[] = [];
  const seen = new Set<string>();
  const add = (p: Permission) => {
    const key = `${p.verb} ${p.group}/${p.resource} ${p.namespace ?? ''} ${p.name ?? ''}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push(p);
  };
  for (const o of objects) {
    const { group, resource } = resourceOf(o);
    for (const verb of ['get', 'create', 'patch']) add({ verb, group, resource, ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}), why: `to install the ${o.kind} ${o.metadata?.name}` });
  }
  for (const rule of agentRules) {
    for (const group of rule.apiGroups ?? ['']) {
      for (const resource of rule.resources ?? []) {
        for (const verb of rule.verbs) {
          for (const name of rule.resourceNames?.length ? rule.resourceNames : [undefined]) {
            add({ verb, group, resource, namespace, ...(name ? { name } : {}), why: "to grant it to the agent's Role (Kubernetes lets you grant only what you hold)" });
          }
        }
      }
    }
  }
  return out;
}

/** "create deployments.apps in namespace porthole" */
export function describePermission(p: Permission): string {
  const what = `${p.resource}${p.group ? `.${p.group}` : ''}${p.name ? ` named ${p.name}` : ''}`;
  return `${p.verb} ${what}${p.namespace ? ` in namespace ${p.namespace}` : ' (cluster-wide)'}`;
}
