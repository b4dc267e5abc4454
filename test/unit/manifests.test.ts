/**
 * The Kubernetes manifests in agent/deploy/, checked statically (no API server can run here): every file is in
 * the kustomization, the DaemonSet is least privilege, RBAC is read-only and wildcard-free, the Service,
 * ServiceMonitor and PrometheusRule fit together, and the alert rules pass `promtool test rules`.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isMap, isSeq, parseAllDocuments, stringify, type Document } from 'yaml';
import { RBAC_NAMES } from '../../src/kubernetes/kube-access-error.js';

const DEPLOY = 'agent/deploy';
const NAMESPACE = 'hopscope';
/** What bpftrace may be given, at most; each has its reason in daemonset.yaml and docs/deploy.md. */
const ALLOWED_CAPABILITIES = ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_RESOURCE', 'NET_ADMIN'];
const WRITE_VERBS = ['create', 'update', 'patch', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate'];
const EXPECTED_HOST_PATHS = ['/run/netns', '/sys/kernel/btf', '/sys/kernel/tracing'];

type Obj = Record<string, any>;

interface Loaded {
  readonly file: string;
  readonly doc: Document;
  readonly obj: Obj;
}

function load(): Loaded[] {
  const out: Loaded[] = [];
  for (const file of readdirSync(DEPLOY).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const docs = parseAllDocuments(readFileSync(join(DEPLOY, file), 'utf8'));
    if (!Array.isArray(docs)) throw new Error(`${file}: not YAML documents`);
    for (const doc of docs) {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const obj = doc.toJS() as Obj | null;
      if (obj) out.push({ file, doc, obj });
    }
  }
  return out;
}

const all = load();
const objects = all.filter((l) => l.obj['kind'] !== 'Kustomization');
const byKind = (kind: string) => objects.filter((l) => l.obj['kind'] === kind);
const one = (kind: string): Loaded => {
  const found = byKind(kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0] as Loaded;
};

const ds = () => one('DaemonSet');
const podSpec = () => ds().obj['spec']['template']['spec'] as Obj;
const agentContainer = () => (podSpec()['containers'] as Obj[])[0] as Obj;

/** The comment written above a key or a list item (yaml keeps comments on the nodes). */
function commentAt(doc: Document, path: (string | number)[]): string {
  const parentPath = path.slice(0, -1);
  const last = path[path.length - 1];
  const parent = doc.getIn(parentPath, true);
  if (isMap(parent)) {
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
    return `${(pair?.key as { commentBefore?: string } | undefined)?.commentBefore ?? ''}`;
  }
  if (isSeq(parent) && typeof last === 'number') {
    // the first item's comment belongs to the sequence itself
    const own = (parent.items[last] as { commentBefore?: string } | undefined)?.commentBefore;
    return `${own ?? (last === 0 ? parent.commentBefore : '') ?? ''}`;
  }
  return '';
}

describe('agent/deploy: files and kustomization', () => {
  it('lists every manifest in kustomization.yaml, and lists nothing that does not exist', () => {
    const kustomization = all.find((l) => l.file === 'kustomization.yaml')?.obj;
    expect(kustomization?.['kind']).toBe('Kustomization');
    const listed = [...(kustomization?.['resources'] as string[])].sort();
    const files = readdirSync(DEPLOY)
      .filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml')
      .sort();
    expect(listed).toEqual(files);
    expect(new Set(listed).size).toBe(listed.length);
  });

  it('holds each object the deployment needs, namespaced objects in the hopscope namespace', () => {
    const kinds = objects.map((l) => l.obj['kind'] as string).sort();
    expect(kinds).toEqual(['ClusterRole', 'ClusterRoleBinding', 'DaemonSet', 'Namespace', 'PrometheusRule', 'Role', 'RoleBinding', 'Service', 'ServiceAccount', 'ServiceMonitor']);
    expect(one('Namespace').obj['metadata']['name']).toBe(NAMESPACE);
    for (const l of objects) {
      expect(l.obj['apiVersion'], `${l.file} apiVersion`).toBeTruthy();
      if (['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(l.obj['kind'])) expect(l.obj['metadata']['namespace'], l.file).toBeUndefined();
      else expect(l.obj['metadata']['namespace'], `${l.file} namespace`).toBe(NAMESPACE);
    }
  });

  it('names the ServiceAccount and ClusterRole(Binding) as the agent\'s error messages do', () => {
    expect(one('ServiceAccount').obj['metadata']['name']).toBe(RBAC_NAMES.serviceAccount);
    expect(one('ClusterRole').obj['metadata']['name']).toBe(RBAC_NAMES.clusterRole);
    expect(one('ClusterRoleBinding').obj['metadata']['name']).toBe(RBAC_NAMES.clusterRoleBinding);
    expect(NAMESPACE).toBe(RBAC_NAMES.namespace);
  });
});

describe('agent/deploy: DaemonSet', () => {
  it('is not privileged: no privilege escalation, read-only root, capabilities dropped and only allowed ones added', () => {
    const pod = podSpec();
    expect(pod['securityContext']?.['privileged']).toBeUndefined();
    for (const c of [...(pod['initContainers'] ?? []), ...pod['containers']] as Obj[]) {
      const sc = c['securityContext'] as Obj;
      expect(sc, `${c['name']} securityContext`).toBeDefined();
      expect(sc['privileged']).toBe(false);
      expect(sc['allowPrivilegeEscalation']).toBe(false);
      expect(sc['readOnlyRootFilesystem']).toBe(true);
      expect(sc['capabilities']['drop']).toEqual(['ALL']);
      const add = sc['capabilities']['add'] as string[];
      for (const cap of add) expect(ALLOWED_CAPABILITIES, `capability ${cap}`).toContain(cap);
      expect(add).toEqual(expect.arrayContaining(['BPF', 'PERFMON']));
      expect(new Set(add).size).toBe(add.length);
    }
  });

  it('says why for each added capability, for uid 0 and for each host namespace it shares', () => {
    const { doc } = ds();
    const base = ['spec', 'template', 'spec'];
    const add = agentContainer()['securityContext']['capabilities']['add'] as string[];
    add.forEach((cap, i) => {
      expect(commentAt(doc, [...base, 'containers', 0, 'securityContext', 'capabilities', 'add', i]).length, `comment above ${cap}`).toBeGreaterThan(20);
    });
    if (agentContainer()['securityContext']['runAsUser'] === 0) {
      expect(commentAt(doc, [...base, 'containers', 0, 'securityContext', 'runAsUser'])).toMatch(/bpftrace/);
    }
    for (const key of ['hostNetwork', 'hostPID', 'hostIPC']) {
      if (podSpec()[key] === true) expect(commentAt(doc, [...base, key]).length, `comment above ${key}`).toBeGreaterThan(20);
    }
    expect(podSpec()['hostIPC']).toBeUndefined();
  });

  it('mounts only the expected host paths, every one read-only, /run/netns with HostToContainer propagation', () => {
    const volumes = podSpec()['volumes'] as Obj[];
    const hostPaths = volumes.filter((v) => v['hostPath']);
    expect(hostPaths.map((v) => v['hostPath']['path']).sort()).toEqual(EXPECTED_HOST_PATHS);
    const mounts = (podSpec()['containers'] as Obj[]).flatMap((c) => (c['volumeMounts'] ?? []) as Obj[]);
    for (const v of hostPaths) {
      const used = mounts.filter((m) => m['name'] === v['name']);
      expect(used.length, `mounts of ${v['name']}`).toBeGreaterThan(0);
      for (const m of used) expect(m['readOnly'], `${m['mountPath']} readOnly`).toBe(true);
    }
    const netns = mounts.find((m) => m['mountPath'] === '/run/netns');
    expect(netns?.['mountPropagation']).toBe('HostToContainer');
    expect(mounts.find((m) => m['mountPath'] === '/sys/kernel/tracing')).toBeDefined();
    expect(mounts.find((m) => m['mountPath'] === '/sys/kernel/btf')).toBeDefined();
    // with a read-only root, anything writable is an explicit emptyDir
    const tmp = mounts.find((m) => m['mountPath'] === '/tmp');
    expect(volumes.find((v) => v['name'] === tmp?.['name'])?.['emptyDir']).toBeDefined();
  });

  it('runs the agent with --kubernetes, a token file from a Secret, and a non-loopback --listen', () => {
    const c = agentContainer();
    const args = c['args'] as string[];
    const value = (flag: string) => args[args.indexOf(flag) + 1];
    expect(args[0]).toBe('agent');
    expect(args).toContain('--kubernetes');
    expect(args).not.toContain('--insecure-listen');
    expect(args).not.toContain('--inventory');
    expect(value('--node')).toBe('$(NODE_NAME)');
    const env = (c['env'] as Obj[]).find((e) => e['name'] === 'NODE_NAME');
    expect(env?.['valueFrom']?.['fieldRef']?.['fieldPath']).toBe('spec.nodeName');

    const listen = value('--listen') ?? '';
    const host = listen.replace(/:\d+$/, '');
    expect(listen).toMatch(/:9940$/);
    expect(host).not.toMatch(/^(127\.|localhost$|::1$|\[::1\]$)/);

    const tokenFile = value('--token-file') ?? '';
    expect(tokenFile).toMatch(/^\//);
    const mount = ((c['volumeMounts'] ?? []) as Obj[]).find((m) => tokenFile.startsWith(`${m['mountPath']}/`));
    expect(mount?.['readOnly']).toBe(true);
    const volume = (podSpec()['volumes'] as Obj[]).find((v) => v['name'] === mount?.['name']);
    expect(volume?.['secret']?.['secretName']).toBeTruthy();
    const file = tokenFile.slice(`${mount?.['mountPath']}/`.length);
    expect((volume?.['secret']?.['items'] as Obj[] | undefined)?.map((i) => i['path']) ?? [file]).toContain(file);
    expect(c['ports']).toEqual([{ name: 'http', containerPort: 9940, protocol: 'TCP' }]);
  });

  it('has startup, liveness (/healthz) and readiness (/readyz) probes, requests and limits, and runs on every node', () => {
    const c = agentContainer();
    expect(c['startupProbe']?.['httpGet']?.['path']).toBe('/healthz');
    expect(c['livenessProbe']?.['httpGet']?.['path']).toBe('/healthz');
    expect(c['readinessProbe']?.['httpGet']?.['path']).toBe('/readyz');
    for (const p of ['startupProbe', 'livenessProbe', 'readinessProbe']) expect([9940, 'http']).toContain(c[p]['httpGet']['port']);
    for (const kind of ['requests', 'limits']) {
      expect(c['resources']?.[kind]?.['cpu'], `${kind}.cpu`).toBeTruthy();
      expect(c['resources']?.[kind]?.['memory'], `${kind}.memory`).toBeTruthy();
    }
    expect(podSpec()['tolerations']).toContainEqual({ operator: 'Exists' });
    expect(podSpec()['serviceAccountName']).toBe(one('ServiceAccount').obj['metadata']['name']);
    expect(podSpec()['automountServiceAccountToken']).not.toBe(false);
    const labels = ds().obj['spec']['template']['metadata']['labels'] as Obj;
    for (const [k, v] of Object.entries(ds().obj['spec']['selector']['matchLabels'] as Obj)) expect(labels[k]).toBe(v);
    expect(labels['app.kubernetes.io/name']).toBe('hopscope');
  });

  it('runs the image of this version', () => {
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(agentContainer()['image']).toMatch(new RegExp(`:${version.replace(/\./g, '\\.')}$`));
  });
});

describe('agent/deploy: RBAC', () => {
  const roles = () => [...byKind('ClusterRole'), ...byKind('Role')];

  it('grants no write verb and no wildcard anywhere', () => {
    expect(roles().length).toBeGreaterThanOrEqual(2);
    for (const { file, obj } of roles()) {
      for (const rule of obj['rules'] as Obj[]) {
        for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs']) {
          for (const v of (rule[field] ?? []) as string[]) expect(v, `${file} ${field}`).not.toMatch(/\*/);
        }
        for (const verb of rule['verbs'] as string[]) {
          expect(WRITE_VERBS, `${file} verb ${verb}`).not.toContain(verb);
          expect(['get', 'list', 'watch'], `${file} verb ${verb}`).toContain(verb);
        }
        expect(rule['nonResourceURLs'], file).toBeUndefined();
      }
    }
  });

  it('ClusterRole: exactly pods, nodes and services in the core group and endpointslices in discovery.k8s.io, get/list/watch', () => {
    const rules = one('ClusterRole').obj['rules'] as Obj[];
    const resources = rules.flatMap((r) => (r['resources'] as string[]).map((res) => `${(r['apiGroups'] as string[]).join(',')}/${res}`)).sort();
    expect(resources).toEqual(['/nodes', '/pods', '/services', 'discovery.k8s.io/endpointslices']);
    for (const r of rules) expect([...(r['verbs'] as string[])].sort()).toEqual(['get', 'list', 'watch']);
  });

  it('Role: pods and endpoints of its own namespace, to find peer agents', () => {
    const role = one('Role').obj;
    expect(role['metadata']['namespace']).toBe(NAMESPACE);
    const resources = (role['rules'] as Obj[]).flatMap((r) => r['resources'] as string[]);
    expect(resources).toEqual(expect.arrayContaining(['pods', 'endpoints']));
    for (const r of resources) expect(['pods', 'endpoints', 'endpointslices']).toContain(r);
  });

  it('binds both roles to the agent\'s ServiceAccount', () => {
    const sa = one('ServiceAccount').obj['metadata'];
    for (const [bindingKind, roleKind] of [
      ['ClusterRoleBinding', 'ClusterRole'],
      ['RoleBinding', 'Role'],
    ] as const) {
      const binding = one(bindingKind).obj;
      expect(binding['roleRef']).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: roleKind, name: one(roleKind).obj['metadata']['name'] });
      expect(binding['subjects']).toEqual([{ kind: 'ServiceAccount', name: sa['name'], namespace: sa['namespace'] }]);
    }
  });
});

describe('agent/deploy: Service, ServiceMonitor, PrometheusRule', () => {
  it('a headless Service on port 9940 named http selects the agent pods', () => {
    const svc = one('Service').obj;
    expect(svc['spec']['clusterIP']).toBe('None');
    expect(svc['spec']['ports']).toContainEqual(expect.objectContaining({ name: 'http', port: 9940 }));
    const podLabels = ds().obj['spec']['template']['metadata']['labels'] as Obj;
    for (const [k, v] of Object.entries(svc['spec']['selector'] as Obj)) expect(podLabels[k], k).toBe(v);
  });

  it('a ServiceMonitor scrapes /metrics on port http of that Service', () => {
    const sm = one('ServiceMonitor').obj;
    expect(sm['apiVersion']).toBe('monitoring.coreos.com/v1');
    expect(sm['spec']['endpoints']).toContainEqual(expect.objectContaining({ port: 'http', path: '/metrics' }));
    const svcLabels = one('Service').obj['metadata']['labels'] as Obj;
    for (const [k, v] of Object.entries(sm['spec']['selector']['matchLabels'] as Obj)) expect(svcLabels[k], k).toBe(v);
    expect(sm['spec']['namespaceSelector']?.['matchNames'] ?? [NAMESPACE]).toContain(NAMESPACE);
  });

  it('alerts HopscopeAgentDown and HopscopeProbeDown, each with for, severity, summary, a templated description and a runbook anchor that exists', () => {
    const rule = one('PrometheusRule').obj;
    expect(rule['apiVersion']).toBe('monitoring.coreos.com/v1');
    const alerts = (rule['spec']['groups'] as Obj[]).flatMap((g) => (g['rules'] as Obj[]).filter((r) => r['alert']));
    expect(alerts.map((a) => a['alert'])).toEqual(expect.arrayContaining(['HopscopeAgentDown', 'HopscopeProbeDown']));
    const runbook = readFileSync('docs/runbook.md', 'utf8');
    const anchors = [...runbook.matchAll(/^#+\s+(.+)$/gm)].map((m) => (m[1] as string).trim().toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-'));
    for (const a of alerts) {
      const name = a['alert'] as string;
      expect(a['for'], `${name} for`).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning', 'info'], `${name} severity`).toContain(a['labels']?.['severity']);
      expect(a['annotations']?.['summary'], `${name} summary`).toBeTruthy();
      expect(a['annotations']?.['description'], `${name} description`).toMatch(/\{\{ *\$labels\.\w+ *\}\}/);
      const url = a['annotations']?.['runbook_url'] as string;
      expect(url, `${name} runbook_url`).toMatch(/\/docs\/runbook\.md#[a-z0-9-]+$/);
      expect(anchors, `${name}: docs/runbook.md has a heading for ${url}`).toContain(url.split('#')[1]);
    }
  });

  const promtool = (() => {
    try {
      execFileSync('promtool', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();

  it.skipIf(!promtool)('its rules pass promtool check rules and promtool test rules (test/unit/rules/)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hopscope-rules-'));
    try {
      writeFileSync(join(dir, 'rules.yaml'), stringify(one('PrometheusRule').obj['spec']));
      writeFileSync(join(dir, 'tests.yaml'), readFileSync('test/unit/rules/prometheusrule.promtool.yaml'));
      const run = (args: string[]) => {
        try {
          return execFileSync('promtool', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
        } catch (e) {
          const err = e as { stdout?: string; stderr?: string };
          throw new Error(`promtool ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`);
        }
      };
      expect(run(['check', 'rules', 'rules.yaml'])).toMatch(/SUCCESS: \d+ rules found/);
      expect(run(['test', 'rules', 'tests.yaml'])).toMatch(/SUCCESS/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

it('the promtool test file exists where the PrometheusRule says', () => {
  expect(existsSync('test/unit/rules/prometheusrule.promtool.yaml')).toBe(true);
  expect(readFileSync(join(DEPLOY, 'prometheusrule.yaml'), 'utf8')).toContain('test/unit/rules/');
});
