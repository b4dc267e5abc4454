/**
 * @module The one error type of Kubernetes enrichment: what went wrong talking to the API server, as a message
 * that names what is missing (the in-cluster configuration, the ClusterRole, the token), with flags to branch on
 * and the original error as `cause`.
 */

export type KubeFailure =
  /** Not running in a pod: no KUBERNETES_SERVICE_HOST/PORT or no mounted service account. */
  | 'no-in-cluster-config'
  /** HTTP 401: the token was not accepted. */
  | 'unauthorized'
  /** HTTP 403: RBAC does not allow the request. */
  | 'forbidden'
  /** HTTP 410 or a watch ERROR event with code 410: the resourceVersion is too old; relist. */
  | 'expired'
  /** No answer: DNS, connection refused, TLS, timeout. */
  | 'unreachable'
  | 'other';

export class KubeAccessError extends Error {
  override readonly name = 'KubeAccessError';
  readonly failure: KubeFailure;
  /** The HTTP status (or the watch ERROR event's code), when there was one. */
  readonly status: number | undefined;

  constructor(message: string, failure: KubeFailure, o: { status?: number; cause?: unknown } = {}) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.failure = failure;
    this.status = o.status;
  }

  get forbidden(): boolean {
    return this.failure === 'forbidden';
  }

  get expired(): boolean {
    return this.failure === 'expired';
  }
}

/** The names the manifests in agent/deploy/ give the agent's identity and permissions. */
export const RBAC_NAMES = {
  namespace: 'hopscope',
  serviceAccount: 'hopscope-agent',
  clusterRole: 'hopscope-agent',
  clusterRoleBinding: 'hopscope-agent',
} as const;

/** What was being attempted, for the message: `list`/`watch` of `pods` (with a field selector) or `nodes`. */
export interface KubeRequest {
  readonly verb: 'list' | 'watch';
  readonly resource: string;
  readonly fieldSelector?: string;
  readonly server?: string;
}

/** HTTP status of an error from the client: ApiException has `code`, the watch's error has `statusCode`. */
export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number') return e.code;
  return undefined;
}

/** The API server's own explanation (a Status object's `message`), when the error carries one. */
function serverMessage(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const body = (err as { body?: unknown }).body;
  let status: unknown = body;
  if (typeof body === 'string') {
    try {
      status = JSON.parse(body);
    } catch {
      return body.trim().slice(0, 300) || undefined;
    }
  }
  if (typeof status === 'object' && status !== null && typeof (status as { message?: unknown }).message === 'string') {
    return (status as { message: string }).message;
  }
  return undefined;
}

/** Turns whatever the client threw into a KubeAccessError whose message says what to do. */
export function describeKubeError(err: unknown, req: KubeRequest): KubeAccessError {
  if (err instanceof KubeAccessError) return err;
  const what = `${req.verb} ${req.resource}${req.fieldSelector ? ` (fieldSelector ${req.fieldSelector})` : ''}`;
  const status = statusOf(err);
  const said = serverMessage(err);
  const tail = said ? ` The API server said: ${said}` : '';
  const { namespace, serviceAccount, clusterRole, clusterRoleBinding } = RBAC_NAMES;
  if (status === 403) {
    return new KubeAccessError(
      `--kubernetes: the API server refused to ${what} (HTTP 403 Forbidden): the ServiceAccount ${namespace}/${serviceAccount} needs the ClusterRole ${clusterRole} (get, list, watch on pods and nodes) bound to it by the ClusterRoleBinding ${clusterRoleBinding}; apply agent/deploy (kubectl apply -k agent/deploy) and check with: kubectl auth can-i ${req.verb} ${req.resource} --as=system:serviceaccount:${namespace}:${serviceAccount}.${tail}`,
      'forbidden',
      { status, cause: err },
    );
  }
  if (status === 401) {
    return new KubeAccessError(
      `--kubernetes: the API server did not accept the agent's token to ${what} (HTTP 401 Unauthorized): the pod needs its service account token mounted (serviceAccountName ${serviceAccount}, automountServiceAccountToken not false) and the token must not be expired.${tail}`,
      'unauthorized',
      { status, cause: err },
    );
  }
  if (status === 410) {
    return new KubeAccessError(`--kubernetes: ${what}: resourceVersion expired (HTTP 410 Gone); relisting`, 'expired', { status, cause: err });
  }
  if (status !== undefined) {
    return new KubeAccessError(`--kubernetes: ${what} failed with HTTP ${status}${req.server ? ` from ${req.server}` : ''}.${tail}`, 'other', { status, cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  const code = typeof (err as { code?: unknown })?.code === 'string' ? `${(err as { code: string }).code}: ` : '';
  return new KubeAccessError(
    `--kubernetes: cannot reach the Kubernetes API server${req.server ? ` at ${req.server}` : ''} to ${what} (${code}${message})`,
    'unreachable',
    { cause: err },
  );
}
