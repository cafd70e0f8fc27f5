/** The Template a fresh install ships, so there is something to start on day one. */
import { API_VERSION, type TemplateResource } from './resources.js';

/**
 * The project's desktop image (build/images/desktop: Xvnc, XFCE, the streamer, uid 1000, made from Debian
 * packages by `npm run images`). Any image with TigerVNC's Xvnc, XFCE and dbus-launch on PATH works: the
 * pod runs them itself and ignores the image's entrypoint.
 */
export const DEFAULT_DESKTOP_IMAGE = 'ghcr.io/porthole-dev/porthole-desktop:0.1.0';

export function xfceTemplate(namespace: string, image = DEFAULT_DESKTOP_IMAGE): TemplateResource {
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
