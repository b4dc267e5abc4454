/**
 * @module Every hopscope dashboard, with the file name its JSON is written to (grafana/dist/ and the committed
 * copy in grafana/dashboards/json/).
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { clusterNetworkDashboard } from './cluster-network.js';
import { nodeDashboard } from './node.js';

export interface DashboardFile {
  readonly file: string;
  readonly build: () => Dashboard;
}

export const DASHBOARDS: readonly DashboardFile[] = [
  { file: 'hopscope-cluster-network.json', build: clusterNetworkDashboard },
  { file: 'hopscope-node.json', build: nodeDashboard },
];

/** Dashboard JSON as written: two-space indent, trailing newline (the SDK builds keys in a fixed order). */
export function dashboardJson(d: Dashboard): string {
  return JSON.stringify(d, null, 2) + '\n';
}
