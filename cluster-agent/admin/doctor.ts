/**
 * `doctor`: can this kubeconfig install Porthole here, and what is already here? Every failure is a
 * sentence with the fix. Errors stop an install; warnings are said and do not.
 */
import { ApiextensionsV1Api, AuthorizationV1Api, CoreV1Api, StorageV1Api, VersionApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { CRD_REVISION, CRD_REVISION_ANNOTATION } from '../kubernetes/crds.js';
import { agentRules } from '../kubernetes/install-manifests.js';
import { apiMessage } from './cluster.js';
import { describePermission, installPermissions, type Permission } from './permissions.js';

export interface Check {
  id: string;
  level: 'ok' | 'warning' | 'error';
  sentence: string;
  fix?: string;
}

export interface DoctorReport {
  server: string;
  version?: string;
  checks: Check[];
  /** the permissions the kubeconfig lacks (empty when it may install) */
  missing: Permission[];
  ok: boolean;
}

/** Kubernetes 1.25: Pod Security admission and policy/v1 are GA; older servers cannot take the install. */
export const MIN_MINOR = 25;

/** Pure: the CRD found against ours. */
export function crdCheck(name: string, found: { annotations?: Record<string, string> } | undefined): Check {
  if (!found) return { id: `crd:${name}`, level: 'ok', sentence: `CustomResourceDefinition ${name} is not installed yet; install creates it` };
  const revision = Number(found.annotations?.[CRD_REVISION_ANNOTATION] ?? 0);
  if (revision > CRD_REVISION) {
    return { id: `crd:${name}`, level: 'error', sentence: `CustomResourceDefinition ${name} is newer (schema revision ${revision}) than this installer's (${CRD_REVISION})`, fix: 'use the porthole-agent of the version that installed it, or a newer one; installing would downgrade it' };
  }
  if (revision < CRD_REVISION) return { id: `crd:${name}`, level: 'ok', sentence: `CustomResourceDefinition ${name} is older (schema revision ${revision || 'none'}); install upgrades it to ${CRD_REVISION}` };
  return { id: `crd:${name}`, level: 'ok', sentence: `CustomResourceDefinition ${name} is current (schema revision ${CRD_REVISION})` };
}

export async function doctor(kc: KubeConfig, objects: KubernetesObject[], namespace: string): Promise<DoctorReport> {
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const checks: Check[] = [];
  let version: string | undefined;
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    version = v.gitVersion;
    const minor = Number.parseInt(v.minor, 10);
    checks.push(
      minor >= MIN_MINOR
        ? { id: 'version', level: 'ok', sentence: `the API server at ${server} answers: Kubernetes ${v.gitVersion}` }
        : { id: 'version', level: 'error', sentence: `Kubernetes ${v.gitVersion} is too old: Porthole needs 1.${MIN_MINOR} or newer (Pod Security admission, policy/v1)`, fix: 'upgrade the cluster' },
    );
  } catch (err) {
    checks.push({ id: 'reachable', level: 'error', sentence: `the API server at ${server} does not answer (${apiMessage(err)})`, fix: 'check the kubeconfig and context, and that this machine can reach the cluster (VPN, firewall)' });
    return { server, checks, missing: [], ok: false };
  }

  // Every permission, asked of the API server itself (SelfSubjectAccessReview), as the person it knows.
  const authz = kc.makeApiClient(AuthorizationV1Api);
  const wanted = installPermissions(objects, agentRules(), namespace);
  const answers = await Promise.all(
    wanted.map(async (p) => {
      const review = await authz.createSelfSubjectAccessReview({
        body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: p.verb, group: p.group, resource: p.resource, ...(p.namespace ? { namespace: p.namespace } : {}), ...(p.name ? { name: p.name } : {}) } } },
      });
      return review.status?.allowed === true;
    }),
  );
  const missing = wanted.filter((_, i) => !answers[i]);
  checks.push(
    missing.length === 0
      ? { id: 'permissions', level: 'ok', sentence: `this kubeconfig may do all ${wanted.length} things the install and the agent need` }
      : {
          id: 'permissions',
          level: 'error',
          sentence: `this kubeconfig may not: ${missing.map(describePermission).join('; ')}`,
          fix: 'install as a cluster administrator, or grant these to the installing account with a Role in the namespace and a ClusterRole for the cluster-wide ones',
        },
  );

  try {
    const classes = await kc.makeApiClient(StorageV1Api).listStorageClass();
    const byDefault = classes.items.filter((c) => c.metadata?.annotations?.['storageclass.kubernetes.io/is-default-class'] === 'true');
    checks.push(
      byDefault.length
        ? { id: 'storage', level: 'ok', sentence: `default StorageClass ${byDefault[0]!.metadata!.name}: home volumes are made from it` }
        : { id: 'storage', level: 'warning', sentence: 'the cluster has no default StorageClass, so home volumes (PVCs) would wait unbound', fix: 'mark one StorageClass as default (annotation storageclass.kubernetes.io/is-default-class=true)' },
    );
  } catch (err) {
    checks.push({ id: 'storage', level: 'warning', sentence: `could not list StorageClasses (${apiMessage(err)})`, fix: 'make sure home volumes can be provisioned in this cluster' });
  }

  try {
    const ns = await kc.makeApiClient(CoreV1Api).readNamespace({ name: namespace });
    const enforce = ns.metadata?.labels?.['pod-security.kubernetes.io/enforce'];
    checks.push(
      enforce === 'restricted'
        ? { id: 'pod-security', level: 'ok', sentence: `namespace ${namespace} enforces the restricted Pod Security Standard` }
        : { id: 'pod-security', level: 'ok', sentence: `namespace ${namespace} exists and enforces "${enforce ?? 'nothing'}"; install sets it to restricted (every Porthole pod passes it)` },
    );
  } catch {
    checks.push({ id: 'pod-security', level: 'ok', sentence: `namespace ${namespace} does not exist yet; install creates it enforcing the restricted Pod Security Standard` });
  }

  const ext = kc.makeApiClient(ApiextensionsV1Api);
  for (const crd of objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const name = crd.metadata!.name!;
    const found = await ext.readCustomResourceDefinition({ name }).then(
      (c) => ({ ...(c.metadata?.annotations ? { annotations: c.metadata.annotations } : {}) }),
      () => undefined,
    );
    checks.push(crdCheck(name, found));
  }
  return { server, ...(version ? { version } : {}), checks, missing, ok: !checks.some((c) => c.level === 'error') };
}
