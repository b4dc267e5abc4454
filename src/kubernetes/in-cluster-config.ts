/**
 * @module The agent's KubeConfig in production: the in-cluster configuration (KubeConfig.loadFromCluster), after
 * checking that it exists. The client itself would build `https://undefined:undefined` and fail later with an
 * unrelated message; this fails at startup naming what is missing.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeAccessError, RBAC_NAMES } from './kube-access-error.js';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * `pathPrefix` is prepended to the service account paths, as loadFromCluster does (tests point it at a
 * temporary directory).
 */
/** A kubeconfig file (out of cluster: `--kubeconfig FILE`); its errors name the option. */
export function kubeConfigFromFile(path: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(path);
  } catch (e) {
    throw new KubeAccessError(`--kubeconfig ${path}: cannot load it (${(e as Error).message})`, 'other', { cause: e });
  }
  if (!kc.getCurrentCluster()) throw new KubeAccessError(`--kubeconfig ${path}: no current cluster (set current-context)`, 'other');
  return kc;
}

export function inClusterKubeConfig(pathPrefix = ''): KubeConfig {
  const host = process.env['KUBERNETES_SERVICE_HOST'];
  const port = process.env['KUBERNETES_SERVICE_PORT'];
  const { serviceAccount } = RBAC_NAMES;
  if (!host || !port) {
    throw new KubeAccessError(
      '--kubernetes: no in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set, so this is not running in a Kubernetes pod; run the agent as the DaemonSet in agent/deploy (docs/deploy.md), or give --inventory FILE instead',
      'no-in-cluster-config',
    );
  }
  for (const file of ['token', 'ca.crt']) {
    const path = `${pathPrefix}${SERVICE_ACCOUNT_DIR}/${file}`;
    if (!existsSync(path)) {
      throw new KubeAccessError(
        `--kubernetes: no in-cluster configuration: ${path} is missing; the pod needs its service account token mounted (serviceAccountName: ${serviceAccount} and automountServiceAccountToken not false, as in agent/deploy/daemonset.yaml)`,
        'no-in-cluster-config',
      );
    }
  }
  const kc = new KubeConfig();
  kc.loadFromCluster(pathPrefix);
  return kc;
}
