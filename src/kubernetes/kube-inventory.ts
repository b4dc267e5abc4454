/**
 * @module `--kubernetes`: the inventory kept current from the API server instead of a file. Watches the Pods on
 * this agent's node (fieldSelector spec.nodeName=<node>) for IP -> pod, and all Nodes for Pod CIDR / InternalIP ->
 * node, each by list then watch (./reflector.ts) through @kubernetes/client-node. `current()` is an ordinary
 * {@link Inventory}, rebuilt lazily after a change that matters (an address, a CIDR), so the trace stages keep
 * calling `inventory()` as with a file. A deleted pod is announced once per address it held, so its flows can
 * be forgotten (FlowTable.forgetAddress). Services and EndpointSlices (all namespaces) give the ClusterIP
 * Services and their backends (./kube-services.ts), so traces through a Service's NAT name it; they are not
 * needed for readiness (without RBAC on them the agent works, without Service names).
 *
 * In production the KubeConfig is the in-cluster one (./in-cluster-config.ts); tests inject their own.
 */
import { CoreV1Api, DiscoveryV1Api, KubeConfig, Watch } from '@kubernetes/client-node';
import { Inventory, type InventoryNode, type InventoryPod } from '../inventory/inventory.js';
import { inClusterKubeConfig } from './in-cluster-config.js';
import { KubeAccessError } from './kube-access-error.js';
import { inventoryNode, podKey, podRecord, rawPodAddresses, sameNode, samePod, type NodeLike, type PodLike, type PodRecord } from './kube-objects.js';
import { Reflector, type Backoff } from './reflector.js';
import {
  inventoryServices,
  sameService,
  sameSlice,
  serviceRecord,
  sliceRecord,
  type EndpointSliceLike,
  type ServiceLike,
  type ServiceRecord,
  type SliceRecord,
} from './kube-services.js';

export interface KubeInventoryOptions {
  /** This agent's node: only its pods are watched. */
  readonly node: string;
  /** Default: the in-cluster configuration (throws a KubeAccessError naming what is missing outside a pod). */
  readonly kubeConfig?: KubeConfig;
  readonly log?: (message: string) => void;
  readonly backoff?: Backoff;
  readonly pageSize?: number;
  readonly watchTimeoutSeconds?: number;
  readonly listTimeoutMs?: number;
}

export interface DeletedPod {
  readonly namespace: string;
  readonly name: string;
  /** One address the pod held that no other pod on this node holds now. */
  readonly ip: string;
}

export interface KubeInventoryStatus {
  /** Both pods and nodes have been listed at least once. */
  readonly ready: boolean;
  /** Why not ready, or (when ready) why the inventory may be stale. */
  readonly reasons: readonly string[];
}

export class KubeInventory {
  readonly node: string;
  readonly server: string | undefined;
  private readonly pods = new Map<string, PodRecord & { readonly held: readonly string[] }>();
  private readonly nodes = new Map<string, InventoryNode>();
  private readonly podReflector: Reflector<PodLike>;
  private readonly nodeReflector: Reflector<NodeLike>;
  private readonly services = new Map<string, ServiceRecord>();
  private readonly slices = new Map<string, SliceRecord>();
  private readonly serviceReflector: Reflector<ServiceLike>;
  private readonly sliceReflector: Reflector<EndpointSliceLike>;
  private readonly deletedListeners: ((pod: DeletedPod) => void)[] = [];
  private readonly readyWaiters: (() => void)[] = [];
  private readonly log: (message: string) => void;
  private cached: Inventory = Inventory.empty();
  private dirty = false;
  private stopped = false;
  private warnedMissingNode = false;

  /** Builds and starts watching. Throws a KubeAccessError when there is no in-cluster configuration. */
  static start(o: KubeInventoryOptions): KubeInventory {
    const k = new KubeInventory(o);
    k.start();
    return k;
  }

  constructor(o: KubeInventoryOptions) {
    this.node = o.node;
    this.log = o.log ?? ((m) => console.error(m));
    const kc = o.kubeConfig ?? inClusterKubeConfig();
    this.server = kc.getCurrentCluster()?.server;
    const api = kc.makeApiClient(CoreV1Api);
    const watch = new Watch(kc);
    const fieldSelector = `spec.nodeName=${o.node}`;
    const common = {
      watch,
      log: this.log,
      ...(this.server !== undefined ? { server: this.server } : {}),
      ...(o.backoff ? { backoff: o.backoff } : {}),
      ...(o.pageSize !== undefined ? { pageSize: o.pageSize } : {}),
      ...(o.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: o.watchTimeoutSeconds } : {}),
      ...(o.listTimeoutMs !== undefined ? { listTimeoutMs: o.listTimeoutMs } : {}),
    };
    this.podReflector = new Reflector<PodLike>({
      ...common,
      resource: 'pods',
      path: '/api/v1/pods',
      fieldSelector,
      list: (page) => api.listPodForAllNamespaces({ fieldSelector, ...page }),
      onList: (items) => this.replacePods(items),
      onEvent: (type, pod) => (type === 'DELETED' ? this.deletePod(pod) : this.upsertPod(pod)),
      onError: (e) => this.reportError('pods', e),
    });
    this.nodeReflector = new Reflector<NodeLike>({
      ...common,
      resource: 'nodes',
      path: '/api/v1/nodes',
      list: (page) => api.listNode({ ...page }),
      onList: (items) => this.replaceNodes(items),
      onEvent: (type, node) => (type === 'DELETED' ? this.deleteNode(node) : this.upsertNode(node)),
      onError: (e) => this.reportError('nodes', e),
    });
    const discovery = kc.makeApiClient(DiscoveryV1Api);
    this.serviceReflector = new Reflector<ServiceLike>({
      ...common,
      resource: 'services',
      path: '/api/v1/services',
      list: (page) => api.listServiceForAllNamespaces({ ...page }),
      onList: (items) => this.replaceKeyed('services', this.services, items.map(serviceRecord), sameService),
      onEvent: (type, svc) => this.changeKeyed(this.services, type, objectKey(svc), serviceRecord(svc), sameService),
      onError: (e) => this.reportError('services', e),
    });
    this.sliceReflector = new Reflector<EndpointSliceLike>({
      ...common,
      resource: 'endpointslices',
      path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: (page) => discovery.listEndpointSliceForAllNamespaces({ ...page }),
      onList: (items) => this.replaceKeyed('endpointslices', this.slices, items.map(sliceRecord), sameSlice),
      onEvent: (type, slice) => this.changeKeyed(this.slices, type, objectKey(slice), sliceRecord(slice), sameSlice),
      onError: (e) => this.reportError('endpointslices', e),
    });
  }

  start(): void {
    if (this.stopped) return;
    this.podReflector.start();
    this.nodeReflector.start();
    this.serviceReflector.start();
    this.sliceReflector.start();
  }

  /** The inventory as of now; the same object until something that matters changes. */
  current(): Inventory {
    if (this.dirty) {
      this.dirty = false;
      this.cached = this.build();
    }
    return this.cached;
  }

  /** Pods and nodes have both been listed at least once. */
  ready(): boolean {
    return this.podReflector.synced && this.nodeReflector.synced;
  }

  status(): KubeInventoryStatus {
    const reasons: string[] = [];
    const ready = this.ready();
    for (const [what, r] of [
      [`pods on node ${this.node}`, this.podReflector],
      ['nodes', this.nodeReflector],
    ] as const) {
      if (!r.synced) reasons.push(`kubernetes: ${what} not listed yet${r.lastError ? `: ${r.lastError.message}` : ''}`);
      else if (r.lastError) reasons.push(`kubernetes: ${what} may be stale: ${r.lastError.message}`);
    }
    // optional: without them traces through a Service's NAT just do not name it
    for (const [what, r] of [
      ['services', this.serviceReflector],
      ['endpointslices', this.sliceReflector],
    ] as const) {
      if (r.lastError) reasons.push(`kubernetes: ${what} ${r.synced ? 'may be stale' : 'not listed (traces will not name Services)'}: ${r.lastError.message}`);
    }
    return { ready, reasons };
  }

  /**
   * Resolves once ready; rejects with the last error (a KubeAccessError naming what is missing) if not ready
   * within `timeoutMs`. Not needed for correctness: until then `current()` is simply emptier.
   */
  whenReady(timeoutMs: number): Promise<void> {
    if (this.ready()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.readyWaiters.indexOf(done);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        const last = this.podReflector.lastError ?? this.nodeReflector.lastError;
        reject(last ?? new KubeAccessError(`--kubernetes: pods and nodes not listed within ${timeoutMs} ms${this.server ? ` from ${this.server}` : ''}`, 'unreachable'));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.readyWaiters.push(done);
    });
  }

  /** Called once per address of a pod deleted from this node. Returns a function that unsubscribes. */
  onPodDeleted(listener: (pod: DeletedPod) => void): () => void {
    this.deletedListeners.push(listener);
    return () => {
      const i = this.deletedListeners.indexOf(listener);
      if (i >= 0) this.deletedListeners.splice(i, 1);
    };
  }

  get relists(): { readonly pods: number; readonly nodes: number } {
    return { pods: this.podReflector.relists, nodes: this.nodeReflector.relists };
  }

  get serviceRelists(): { readonly services: number; readonly endpointslices: number } {
    return { services: this.serviceReflector.relists, endpointslices: this.sliceReflector.relists };
  }

  /** Services and EndpointSlices have both been listed at least once. */
  servicesSynced(): boolean {
    return this.serviceReflector.synced && this.sliceReflector.synced;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.podReflector.stop();
    this.nodeReflector.stop();
    this.serviceReflector.stop();
    this.sliceReflector.stop();
  }

  private build(): Inventory {
    const nodes = [...this.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    // a terminating pod first, so that a live pod claiming the same address wins the lookup
    const records = [...this.pods.values()].sort((a, b) => Number(b.terminating) - Number(a.terminating));
    const pods: InventoryPod[] = [];
    for (const r of records) {
      // one entry per IPv4 address, as before; a dual-stack pod's entries also list every address (`ips`), and
      // an IPv6-only pod gets one entry under its first address
      const v4 = r.ips.filter((ip) => !ip.includes(':'));
      const dual = v4.length !== r.ips.length ? { ips: r.ips } : {};
      for (const ip of v4.length > 0 ? v4 : r.ips.slice(0, 1)) pods.push({ namespace: r.namespace, name: r.name, node: r.node, ip, ...dual });
    }
    if (this.services.size === 0) return new Inventory({ nodes, pods });
    return new Inventory({ nodes, pods, services: inventoryServices(this.services.values(), this.slices.values()) });
  }

  /** A (re)list of services or slices: the complete set, replacing what was held. */
  private replaceKeyed<R extends { readonly namespace: string; readonly name: string }>(
    what: string,
    held: Map<string, R>,
    records: readonly (R | undefined)[],
    same: (a: R | undefined, b: R | undefined) => boolean,
  ): void {
    this.recovered(what);
    const next = new Map<string, R>();
    for (const r of records) if (r) next.set(podKey(r.namespace, r.name), r);
    if (next.size !== held.size || [...next].some(([k, r]) => !same(held.get(k), r))) this.dirty = true;
    held.clear();
    for (const [k, r] of next) held.set(k, r);
  }

  private changeKeyed<R extends { readonly namespace: string; readonly name: string }>(
    held: Map<string, R>,
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    key: string | undefined,
    record: R | undefined,
    same: (a: R | undefined, b: R | undefined) => boolean,
  ): void {
    if (key === undefined) return;
    // deleted, or changed into something without a cluster IP (headless) or a Service name: gone
    if (type === 'DELETED' || !record) {
      if (held.delete(key)) this.dirty = true;
      return;
    }
    if (!same(held.get(key), record)) {
      held.set(key, record);
      this.dirty = true;
    }
  }

  private replacePods(items: readonly PodLike[]): void {
    this.recovered('pods');
    const seen = new Set<string>();
    for (const item of items) {
      const key = this.upsertPod(item);
      if (key !== undefined) seen.add(key);
    }
    // gone while no watch was open (or missed before a 410): deleted as far as this agent can tell
    for (const [key, record] of [...this.pods]) if (!seen.has(key)) this.removePod(key, record, []);
    this.checkSynced();
  }

  private upsertPod(pod: PodLike): string | undefined {
    const record = podRecord(pod, this.node);
    if (!record) return undefined;
    const key = podKey(record.namespace, record.name);
    const before = this.pods.get(key);
    const held = union(before?.held ?? [], rawPodAddresses(pod));
    this.pods.set(key, { ...record, held });
    if (!samePod(before, record)) this.dirty = true;
    return key;
  }

  private deletePod(pod: PodLike): void {
    const record = podRecord(pod, this.node);
    if (!record) return;
    const key = podKey(record.namespace, record.name);
    const before = this.pods.get(key);
    if (before) this.removePod(key, before, rawPodAddresses(pod));
  }

  private removePod(key: string, record: PodRecord & { readonly held: readonly string[] }, finalAddresses: readonly string[]): void {
    this.pods.delete(key);
    this.dirty = true;
    const stillHeld = new Set<string>();
    for (const other of this.pods.values()) for (const ip of other.ips) stillHeld.add(ip);
    for (const ip of union(record.held, finalAddresses)) {
      if (stillHeld.has(ip)) continue;
      const event: DeletedPod = { namespace: record.namespace, name: record.name, ip };
      for (const listener of [...this.deletedListeners]) {
        try {
          listener(event);
        } catch (e) {
          this.log(`kubernetes: a pod-deleted listener failed for ${key} ${ip} (${(e as Error).message}); continuing`);
        }
      }
    }
  }

  private replaceNodes(items: readonly NodeLike[]): void {
    this.recovered('nodes');
    const next = new Map<string, InventoryNode>();
    for (const item of items) {
      const n = inventoryNode(item);
      if (n) next.set(n.name, n);
    }
    if (next.size !== this.nodes.size || [...next].some(([name, n]) => !sameNode(this.nodes.get(name), n))) this.dirty = true;
    this.nodes.clear();
    for (const [name, n] of next) this.nodes.set(name, n);
    if (!this.nodes.has(this.node) && !this.warnedMissingNode) {
      this.warnedMissingNode = true;
      this.log(`kubernetes: no Node named "${this.node}" in the cluster (--node must be the Kubernetes node name; the DaemonSet passes spec.nodeName as NODE_NAME)`);
    }
    this.checkSynced();
  }

  private upsertNode(node: NodeLike): void {
    const n = inventoryNode(node);
    if (!n) return;
    if (!sameNode(this.nodes.get(n.name), n)) {
      this.nodes.set(n.name, n);
      this.dirty = true;
    }
  }

  private deleteNode(node: NodeLike): void {
    const name = node?.metadata?.name;
    if (typeof name === 'string' && this.nodes.delete(name)) this.dirty = true;
  }

  private checkSynced(): void {
    if (!this.ready()) return;
    for (const waiter of this.readyWaiters.splice(0)) waiter();
  }

  private readonly lastReported = new Map<string, string>();

  private recovered(what: string): void {
    if (this.lastReported.delete(what)) this.log(`kubernetes: ${what} listed again`);
  }

  private reportError(what: string, e: KubeAccessError): void {
    // once per distinct message: the reflector retries with backoff and would repeat it
    if (this.lastReported.get(what) === e.message) return;
    this.lastReported.set(what, e.message);
    this.log(e.message);
  }
}

/** `namespace/name` of an object as a watch event carries it, or undefined without a name. */
function objectKey(o: { readonly metadata?: { readonly name?: string; readonly namespace?: string } | null } | null | undefined): string | undefined {
  const name = o?.metadata?.name;
  if (typeof name !== 'string' || name === '') return undefined;
  return podKey(typeof o?.metadata?.namespace === 'string' && o.metadata.namespace !== '' ? o.metadata.namespace : 'default', name);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  const out = [...a];
  for (const x of b) if (!out.includes(x)) out.push(x);
  return out;
}
