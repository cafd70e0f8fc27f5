/**
 * Pure builders for what one session needs in the cluster: its Pod, the Secret with the VNC password,
 * and the user's home PVC. The Pod and Secret are owned by the Session (deleting it cleans them up);
 * the PVC is not, because homes outlive sessions.
 */
import type { V1OwnerReference, V1PersistentVolumeClaim, V1Pod, V1PodSpec, V1Secret, V1SecurityContext } from '@kubernetes/client-node';
import { vncPasswordFile } from '../vnc/des.js';
import {
  API_VERSION,
  AGENT_NAME,
  DESKTOP_NAME,
  homeClaimName,
  LABELS,
  STREAMER_PORT,
  USER_ANNOTATION,
  userLabelValue,
  VNC_PORT,
  vncSecretName,
  type SessionResource,
  type TemplateResource,
} from './resources.js';

/** The uid/gid the desktop runs as: not root, matches the images' usual first user. */
export const DESKTOP_UID = 1000;
export const HOME_MOUNT = '/home/porthole';
const VNC_SECRET_MOUNT = '/var/run/porthole/vnc';
export const DEFAULT_HOME_SIZE = '5Gi';

/** Secret keys: the plain password (read by the agent's gateway) and Xvnc's obfuscated password file. */
export const SECRET_PASSWORD_KEY = 'password';
export const SECRET_PASSWD_FILE_KEY = 'passwd';
/** The streamer secret the agent shows the pod's streamer (never the viewer). */
export const SECRET_STREAMER_KEY = 'streamer-secret';
const STREAMER_SECRET_MOUNT = '/var/run/porthole/streamer';

/**
 * The streamer beside the desktop (templates that stream over WebRTC): it waits for the display's X
 * socket on the shared /tmp, then serves signalling on STREAMER_PORT with the session's secret.
 */
export const STREAMER_SCRIPT = `set -u
i=0; while [ ! -S /tmp/.X11-unix/X1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
exec porthole-streamer --listen 0.0.0.0:${STREAMER_PORT} --secret-file ${STREAMER_SECRET_MOUNT}/${SECRET_STREAMER_KEY}
`;

export function streamsWebrtc(template: TemplateResource): boolean {
  return template.spec.protocols?.includes('webrtc') ?? false;
}

export function sessionLabels(session: SessionResource): Record<string, string> {
  return {
    [LABELS.name]: DESKTOP_NAME,
    [LABELS.partOf]: 'porthole',
    [LABELS.managedBy]: AGENT_NAME,
    [LABELS.component]: 'session',
    [LABELS.user]: userLabelValue(session.spec.user),
    [LABELS.session]: session.metadata.name!,
    [LABELS.template]: session.spec.template,
  };
}

/** Controller reference to the Session: the garbage collector deletes the object with it. */
export function ownerReference(session: SessionResource): V1OwnerReference {
  if (!session.metadata.uid) throw new Error(`Session ${session.metadata.name} has no uid yet: read it back from the API server first`);
  // No blockOwnerDeletion: it would need update on sessions/finalizers, and background deletion is enough.
  return { apiVersion: API_VERSION, kind: 'Session', name: session.metadata.name!, uid: session.metadata.uid, controller: true };
}

/** The restricted Pod Security Standard, container level. Exported so tests can hold it to the standard. */
export function restrictedContainerSecurity(): V1SecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: DESKTOP_UID,
    runAsGroup: DESKTOP_UID,
    allowPrivilegeEscalation: false,
    privileged: false,
    // the desktop writes only /tmp (an emptyDir) and its home volume
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/**
 * Xvnc and the desktop in one container. The session ends (exit 0, pod Succeeded) when the desktop's
 * programs exit (logout); Xvnc dying is a crash (exit 1), which restartPolicy OnFailure retries and
 * the kubelet reports as CrashLoopBackOff when it keeps happening. The runtime calls the session
 * Failed/Crashed on CrashLoopBackOff, after 3 restarts, or when the pod itself is Failed (not on the
 * first non-zero exit: see CRASH_RESTARTS in runtime/kubernetes/session-status.ts).
 */
export const DESKTOP_SCRIPT = `set -u
Xvnc :1 -rfbport ${VNC_PORT} -SecurityTypes VncAuth -PasswordFile ${VNC_SECRET_MOUNT}/${SECRET_PASSWD_FILE_KEY} \\
  -AlwaysShared -UseBlacklist=0 -noreset -nolisten tcp -geometry 1280x800 -depth 24 -dpi 96 \\
  -SendCutText=1 -AcceptCutText=1 -desktop "$PORTHOLE_DESKTOP_NAME" &
xvnc=$!
i=0; while [ ! -S /tmp/.X11-unix/X1 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
sh -c "$PORTHOLE_DESKTOP_COMMAND" &
desktop=$!
while kill -0 $xvnc 2>/dev/null && kill -0 $desktop 2>/dev/null; do sleep 1; done
if ! kill -0 $xvnc 2>/dev/null; then echo "Xvnc exited" >&2; kill $desktop 2>/dev/null; exit 1; fi
kill $xvnc 2>/dev/null; exit 0
`;

export interface SessionPodInput {
  session: SessionResource;
  template: TemplateResource;
  namespace: string;
}

export function buildSessionPod({ session, template, namespace }: SessionPodInput): V1Pod {
  const name = session.metadata.name!;
  const t = template.spec;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: { ...t.podLabels, ...sessionLabels(session) },
      annotations: { ...t.podAnnotations, [USER_ANNOTATION]: session.spec.user },
      ownerReferences: [ownerReference(session)],
    },
    spec: desktopPodSpec(template, {
      user: session.spec.user,
      session: name,
      desktopName: `${session.spec.user}'s ${t.displayName ?? template.metadata.name}`,
      secretName: vncSecretName(name),
      homeClaim: homeClaimName(session.spec.user),
    }),
  };
}

/** A warm-pool pod's user: the desktop starts before anyone is assigned to it. */
export const WARM_POD_USER = 'porthole';

/**
 * A pre-started pod of a template's warm pool, owned by the Template until a session claims it.
 * It cannot know whose it will be, so its home is a scratch emptyDir (not the user's PVC: a volume
 * cannot be added to a running pod) and its VNC Secret is its own, `<pod>-vnc`, owned by the pod.
 */
export function buildWarmPod(template: TemplateResource, namespace: string, name: string): V1Pod {
  if (!template.metadata.uid) throw new Error(`Template ${template.metadata.name} has no uid yet: read it back from the API server first`);
  const t = template.spec;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      labels: {
        ...t.podLabels,
        [LABELS.name]: DESKTOP_NAME,
        [LABELS.partOf]: 'porthole',
        [LABELS.managedBy]: AGENT_NAME,
        [LABELS.component]: 'session',
        [LABELS.template]: template.metadata.name!,
        [LABELS.warm]: 'true',
      },
      annotations: { ...t.podAnnotations },
      ownerReferences: [{ apiVersion: API_VERSION, kind: 'Template', name: template.metadata.name!, uid: template.metadata.uid, controller: true }],
    },
    spec: desktopPodSpec(template, {
      user: WARM_POD_USER,
      session: name,
      desktopName: t.displayName ?? template.metadata.name!,
      secretName: vncSecretName(name),
    }),
  };
}

/** The VNC Secret of a warm pod: owned by the pod, so it goes when the pod goes (claimed or not). */
export function buildWarmPodSecret(pod: V1Pod, password: string, streamerSecret: string): V1Secret {
  if (!pod.metadata?.uid) throw new Error(`Pod ${pod.metadata?.name} has no uid yet: read it back from the API server first`);
  const name = pod.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: vncSecretName(name),
      namespace: pod.metadata.namespace!,
      labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'session' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name, uid: pod.metadata.uid, controller: true }],
    },
    immutable: true,
    data: secretData(password, streamerSecret),
  };
}

interface DesktopPodOptions {
  user: string;
  session: string;
  desktopName: string;
  secretName: string;
  /** the user's home PVC; absent = a scratch emptyDir (warm pods) */
  homeClaim?: string;
}

function desktopPodSpec(template: TemplateResource, o: DesktopPodOptions): V1PodSpec {
  const t = template.spec;
  const webrtc = streamsWebrtc(template);
  const limits: Record<string, string> = Object.fromEntries(Object.entries(t.resources?.limits ?? {}).map(([k, v]) => [k, String(v)]));
  const requests: Record<string, string> = Object.fromEntries(Object.entries(t.resources?.requests ?? {}).map(([k, v]) => [k, String(v)]));
  // Extended resources must be in limits (requests default to them); never overcommitted.
  if (t.gpu && t.gpu > 0) limits['nvidia.com/gpu'] = String(t.gpu);
  return {
    restartPolicy: 'OnFailure',
    // The desktop never talks to the API server; no token in the pod.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    hostname: 'desktop',
    terminationGracePeriodSeconds: 10,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: DESKTOP_UID,
      runAsGroup: DESKTOP_UID,
      fsGroup: DESKTOP_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    ...(t.nodeSelector && Object.keys(t.nodeSelector).length ? { nodeSelector: { ...t.nodeSelector } } : {}),
    ...(t.tolerations?.length ? { tolerations: t.tolerations.map((x) => ({ ...x })) } : {}),
    containers: [
      {
        name: 'desktop',
        image: t.image,
        imagePullPolicy: 'IfNotPresent',
        command: ['/bin/sh', '-c', DESKTOP_SCRIPT],
        env: [
          { name: 'HOME', value: HOME_MOUNT },
          { name: 'USER', value: o.user },
          { name: 'DISPLAY', value: ':1' },
          { name: 'PORTHOLE_USER', value: o.user },
          { name: 'PORTHOLE_SESSION', value: o.session },
          { name: 'PORTHOLE_DESKTOP_NAME', value: o.desktopName },
          { name: 'PORTHOLE_DESKTOP_COMMAND', value: 'exec dbus-launch --exit-with-session startxfce4' },
        ],
        ports: [{ name: 'vnc', containerPort: VNC_PORT, protocol: 'TCP' }],
        // Ready (and so the session Running) within a second of Xvnc listening: the probe is one TCP
        // connect, probed from the container's start (a 1 s delay and 2 s period cost up to 3 s, measured).
        readinessProbe: { tcpSocket: { port: VNC_PORT }, periodSeconds: 1, failureThreshold: 3 },
        resources: { ...(Object.keys(requests).length ? { requests } : {}), ...(Object.keys(limits).length ? { limits } : {}) },
        securityContext: restrictedContainerSecurity(),
        volumeMounts: [
          { name: 'home', mountPath: HOME_MOUNT },
          { name: 'vnc-secret', mountPath: VNC_SECRET_MOUNT, readOnly: true },
          { name: 'tmp', mountPath: '/tmp' },
        ],
      },
      ...(webrtc
        ? [
            {
              name: 'streamer',
              image: t.streamerImage ?? t.image,
              imagePullPolicy: 'IfNotPresent',
              command: ['/bin/sh', '-c', STREAMER_SCRIPT],
              env: [
                { name: 'DISPLAY', value: ':1' },
                { name: 'HOME', value: '/tmp' },
              ],
              ports: [{ name: 'webrtc', containerPort: STREAMER_PORT, protocol: 'TCP' }],
              resources: { requests: { cpu: '250m', memory: '128Mi' }, limits: { memory: '512Mi' } },
              securityContext: restrictedContainerSecurity(),
              // the X socket on the shared /tmp; its own secret only (not the VNC one)
              volumeMounts: [
                { name: 'tmp', mountPath: '/tmp' },
                { name: 'streamer-secret', mountPath: STREAMER_SECRET_MOUNT, readOnly: true },
              ],
            },
          ]
        : []),
    ],
    volumes: [
      o.homeClaim ? { name: 'home', persistentVolumeClaim: { claimName: o.homeClaim } } : { name: 'home', emptyDir: {} },
      // 0440 + fsGroup: readable by the desktop user only.
      { name: 'vnc-secret', secret: { secretName: o.secretName, defaultMode: 0o440, items: [{ key: SECRET_PASSWD_FILE_KEY, path: SECRET_PASSWD_FILE_KEY }] } },
      { name: 'tmp', emptyDir: {} },
      ...(webrtc ? [{ name: 'streamer-secret', secret: { secretName: o.secretName, defaultMode: 0o440, items: [{ key: SECRET_STREAMER_KEY, path: SECRET_STREAMER_KEY }] } }] : []),
    ],
  };
}

/** The name of the VNC Secret a desktop pod mounts (session pods and warm pods differ). */
export function podSecretName(pod: V1Pod): string | undefined {
  return pod.spec?.volumes?.find((v) => v.name === 'vnc-secret')?.secret?.secretName;
}

function secretData(password: string, streamerSecret: string): Record<string, string> {
  return {
    [SECRET_PASSWORD_KEY]: Buffer.from(password, 'utf8').toString('base64'),
    [SECRET_PASSWD_FILE_KEY]: vncPasswordFile(password).toString('base64'),
    [SECRET_STREAMER_KEY]: Buffer.from(streamerSecret, 'utf8').toString('base64'),
  };
}

/** The session's Secret (VNC password, streamer secret); both random and passed in so this stays pure. */
export function buildVncSecret(session: SessionResource, namespace: string, password: string, streamerSecret: string): V1Secret {
  const name = session.metadata.name!;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: { name: vncSecretName(name), namespace, labels: sessionLabels(session), ownerReferences: [ownerReference(session)] },
    immutable: true,
    data: secretData(password, streamerSecret),
  };
}

/** The user's home: no owner reference, so it survives every session of every template. */
export function buildHomeClaim(user: string, namespace: string, size = DEFAULT_HOME_SIZE): V1PersistentVolumeClaim {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: {
      name: homeClaimName(user),
      namespace,
      labels: { [LABELS.partOf]: 'porthole', [LABELS.managedBy]: AGENT_NAME, [LABELS.component]: 'home', [LABELS.user]: userLabelValue(user) },
      annotations: { [USER_ANNOTATION]: user },
    },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: size } } },
  };
}

/** The Session object the runtime creates for start-or-get. */
export function buildSession(name: string, namespace: string, user: string, template: string): SessionResource {
  return {
    apiVersion: API_VERSION,
    kind: 'Session',
    metadata: { name, namespace, labels: { [LABELS.user]: userLabelValue(user), [LABELS.template]: template, [LABELS.partOf]: 'porthole' } },
    spec: { user, template },
  };
}
