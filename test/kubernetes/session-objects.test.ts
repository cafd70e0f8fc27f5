import { describe, expect, it } from 'vitest';
import { xfceTemplate } from '../../cluster-agent/kubernetes/default-templates.js';
import { homeClaimName, sessionName, userLabelValue, vncSecretName, type SessionResource, type TemplateResource } from '../../cluster-agent/kubernetes/resources.js';
import { buildHomeClaim, buildSession, buildSessionPod, buildVncSecret, SECRET_PASSWD_FILE_KEY, SECRET_PASSWORD_KEY, SECRET_STREAMER_KEY } from '../../cluster-agent/kubernetes/session-objects.js';
import { vncPasswordFile } from '../../cluster-agent/vnc/des.js';
import { restrictedViolations } from '../support/pod-security.js';

const NS = 'desktops';

function session(user = 'alice', template = 'xfce'): SessionResource {
  const s = buildSession(sessionName(user, template), NS, user, template);
  s.metadata.uid = '0b1d6c3e-1111-2222-3333-444455556666';
  return s;
}

function template(patch: Partial<TemplateResource['spec']> = {}): TemplateResource {
  const t = xfceTemplate(NS);
  t.spec = { ...t.spec, ...patch };
  return t;
}

describe('names', () => {
  it('are deterministic, DNS-safe and distinct for look-alike users', () => {
    expect(sessionName('alice', 'xfce')).toBe(sessionName('alice', 'xfce'));
    expect(sessionName('alice', 'xfce')).toMatch(/^alice-xfce-[0-9a-f]{8}$/);
    expect(sessionName('a_b', 'xfce')).not.toBe(sessionName('a-b', 'xfce'));
    const long = sessionName('u'.repeat(32), 't'.repeat(63));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    expect(homeClaimName('alice')).toBe('home-alice');
    expect(homeClaimName('a_b')).toMatch(/^home-a-b-[0-9a-f]{8}$/);
    expect(userLabelValue('bob_')).toMatch(/^bob-[0-9a-f]{8}$/);
    expect(userLabelValue('b_ob')).toBe('b_ob');
  });
});

describe('session pod', () => {
  it('passes every check of the restricted Pod Security Standard', () => {
    const pod = buildSessionPod({ session: session(), template: template(), namespace: NS });
    expect(restrictedViolations(pod)).toEqual([]);
    const c = pod.spec!.containers[0]!;
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec!.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec!.automountServiceAccountToken).toBe(false);
  });

  it('runs one Xvnc container on 5901 with a TCP readiness probe and the template resources', () => {
    const pod = buildSessionPod({ session: session(), template: template(), namespace: NS });
    expect(pod.spec!.containers).toHaveLength(1);
    const c = pod.spec!.containers[0]!;
    expect(c.image).toBe(template().spec.image);
    expect(c.command!.join(' ')).toMatch(/Xvnc :1 -rfbport 5901 -SecurityTypes VncAuth -PasswordFile \/var\/run\/porthole\/vnc\/passwd/);
    expect(c.ports).toEqual([{ name: 'vnc', containerPort: 5901, protocol: 'TCP' }]);
    expect(c.readinessProbe?.tcpSocket?.port).toBe(5901);
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { cpu: '2', memory: '4Gi' } });
    expect(c.resources!.limits!['nvidia.com/gpu']).toBeUndefined();
  });

  it('asks for GPUs in limits and carries node selector and tolerations', () => {
    const tolerations = [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }];
    const pod = buildSessionPod({ session: session(), template: template({ gpu: 2, nodeSelector: { 'porthole.dev/gpu': 'true' }, tolerations }), namespace: NS });
    expect(pod.spec!.containers[0]!.resources!.limits!['nvidia.com/gpu']).toBe('2');
    expect(pod.spec!.nodeSelector).toEqual({ 'porthole.dev/gpu': 'true' });
    expect(pod.spec!.tolerations).toEqual(tolerations);
  });

  it('is labelled, owned by its Session and mounts the home claim and the VNC secret', () => {
    const s = session('carol', 'xfce');
    const pod = buildSessionPod({ session: s, template: template(), namespace: NS });
    expect(pod.metadata!.name).toBe(s.metadata.name);
    expect(pod.metadata!.namespace).toBe(NS);
    expect(pod.metadata!.labels).toMatchObject({ 'porthole.dev/user': 'carol', 'porthole.dev/session': s.metadata.name, 'porthole.dev/template': 'xfce' });
    expect(pod.metadata!.ownerReferences).toEqual([{ apiVersion: 'porthole.dev/v1alpha1', kind: 'Session', name: s.metadata.name, uid: s.metadata.uid, controller: true }]);
    const volumes = Object.fromEntries(pod.spec!.volumes!.map((v) => [v.name, v]));
    expect(volumes.home!.persistentVolumeClaim!.claimName).toBe('home-carol');
    expect(volumes['vnc-secret']!.secret!.secretName).toBe(vncSecretName(s.metadata.name!));
  });

  it('a WebRTC template adds a restricted streamer container on 8443 that sees the X socket and only its own secret', () => {
    const pod = buildSessionPod({ session: session(), template: template({ protocols: ['webrtc', 'vnc'] }), namespace: NS });
    expect(restrictedViolations(pod)).toEqual([]);
    expect(pod.spec!.containers.map((c) => c.name)).toEqual(['desktop', 'streamer']);
    const streamer = pod.spec!.containers[1]!;
    expect(streamer.ports).toEqual([{ name: 'webrtc', containerPort: 8443, protocol: 'TCP' }]);
    expect(streamer.command!.join(' ')).toMatch(/porthole-streamer --listen 0\.0\.0\.0:8443 --secret-file \/var\/run\/porthole\/streamer\/streamer-secret/);
    expect(streamer.volumeMounts!.map((m) => m.name).sort()).toEqual(['streamer-secret', 'tmp']);
    const volumes = Object.fromEntries(pod.spec!.volumes!.map((v) => [v.name, v]));
    expect(volumes['streamer-secret']!.secret!.items).toEqual([{ key: SECRET_STREAMER_KEY, path: SECRET_STREAMER_KEY }]);
    // the desktop container never mounts the streamer's secret, nor the streamer the VNC password
    expect(pod.spec!.containers[0]!.volumeMounts!.map((m) => m.name)).not.toContain('streamer-secret');
    expect(streamer.volumeMounts!.map((m) => m.name)).not.toContain('vnc-secret');
  });

  it('a VNC-only template has no streamer container and no streamer volume', () => {
    const pod = buildSessionPod({ session: session(), template: template({ protocols: ['vnc'] }), namespace: NS });
    expect(pod.spec!.containers.map((c) => c.name)).toEqual(['desktop']);
    expect(pod.spec!.volumes!.map((v) => v.name)).not.toContain('streamer-secret');
  });

  it('refuses a Session that has no uid yet (the owner reference needs it)', () => {
    const s = session();
    delete s.metadata.uid;
    expect(() => buildSessionPod({ session: s, template: template(), namespace: NS })).toThrow(/no uid/);
  });
});

describe('secret and home', () => {
  it('the secret holds the password and the Xvnc password file, owned by the Session', () => {
    const s = session();
    const secret = buildVncSecret(s, NS, 'Pa55word', 'streamer-s3cret');
    expect(Buffer.from(secret.data![SECRET_PASSWORD_KEY]!, 'base64').toString()).toBe('Pa55word');
    expect(Buffer.from(secret.data![SECRET_STREAMER_KEY]!, 'base64').toString()).toBe('streamer-s3cret');
    expect(Buffer.from(secret.data![SECRET_PASSWD_FILE_KEY]!, 'base64')).toEqual(vncPasswordFile('Pa55word'));
    expect(secret.metadata!.ownerReferences![0]!.uid).toBe(s.metadata.uid);
  });

  it('the home claim has no owner: it outlives sessions', () => {
    const pvc = buildHomeClaim('alice', NS);
    expect(pvc.metadata!.name).toBe('home-alice');
    expect(pvc.metadata!.ownerReferences).toBeUndefined();
    expect(pvc.spec!.resources!.requests!.storage).toBe('5Gi');
  });
});
