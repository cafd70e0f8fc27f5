/** The Template a fresh install ships, so there is something to start on day one. */
import { API_VERSION, type TemplateResource } from './resources.js';

/**
 * Any image with TigerVNC's Xvnc, XFCE and dbus-launch on PATH works (the pod runs them itself and
 * ignores the image's entrypoint); this Debian one has all three and a uid-1000 user.
 */
export const DEFAULT_XFCE_IMAGE = 'docker.io/accetto/debian-vnc-xfce-g3:latest';

export function xfceTemplate(namespace: string, image = DEFAULT_XFCE_IMAGE): TemplateResource {
  return {
    apiVersion: API_VERSION,
    kind: 'Template',
    metadata: { name: 'xfce', namespace, labels: { 'app.kubernetes.io/part-of': 'porthole' } },
    spec: {
      displayName: 'XFCE desktop',
      description: 'A light Linux desktop with a browser, terminal and file manager',
      image,
      // XFCE idles in ~300 MiB; 4 GiB leaves room for a browser with a few tabs.
      resources: { requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } },
      gpu: 0,
      idleTimeoutSeconds: 3600,
      allowedUsers: [],
      allowedGroups: [],
      warmPool: { replicas: 0 },
    },
  };
}
