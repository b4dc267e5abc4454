/**
 * @module Checks on generated dashboard JSON, shared by the unit lint and the end-to-end test: every panel has a
 * stable id, the `${datasource}` variable, a unit, a description and a link to the agent's web view; and the
 * PromQL of every query, with the dashboard variables replaced by concrete values, for promtool or Prometheus.
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';

/** The loose shape of a panel as JSON (rows and panels of every type). */
export interface PanelJson {
  readonly id?: number;
  readonly type: string;
  readonly title?: string;
  readonly description?: string;
  readonly datasource?: { readonly type?: string; readonly uid?: string };
  readonly targets?: readonly { readonly expr?: string; readonly refId?: string; readonly datasource?: { readonly type?: string; readonly uid?: string } }[];
  readonly fieldConfig?: { readonly defaults?: { readonly unit?: string; readonly links?: readonly { readonly url?: string }[] } };
  readonly links?: readonly { readonly url?: string }[];
  readonly gridPos?: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly panels?: readonly PanelJson[];
}

/** Every panel, rows included, with the panels inside collapsed rows. */
export function allPanels(d: Dashboard): PanelJson[] {
  const out: PanelJson[] = [];
  const walk = (ps: readonly PanelJson[]) => {
    for (const p of ps) {
      out.push(p);
      if (p.panels) walk(p.panels);
    }
  };
  walk((d.panels ?? []) as unknown as PanelJson[]);
  return out;
}

export interface DashboardQuery {
  readonly panelId: number;
  readonly panelTitle: string;
  readonly refId: string;
  readonly expr: string;
}

export function dashboardQueries(d: Dashboard): DashboardQuery[] {
  return allPanels(d).flatMap((p) =>
    (p.targets ?? []).filter((t) => typeof t.expr === 'string').map((t) => ({ panelId: p.id ?? -1, panelTitle: p.title ?? '', refId: t.refId ?? '', expr: t.expr as string })),
  );
}

/** Values for the variables the dashboards use: Grafana's built-ins and the dashboard's own. */
export type VariableValues = Record<string, string>;

export const DEFAULT_TEST_VARIABLES: VariableValues = {
  __rate_interval: '1m',
  __interval: '15s',
  __range: '1h',
  node: '.*',
  source_node: '.*',
  destination_node: '.*',
};

/**
 * Replaces `$name`, `${name}` and `${name:format}` as Grafana does for a single value. Throws on a variable it has
 * no value for, so a query never reaches Prometheus with a `$` in it.
 */
export function substituteVariables(expr: string, values: VariableValues): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare) as string;
    const v = values[name];
    if (v === undefined) throw new Error(`no value for dashboard variable ${whole} in: ${expr}`);
    return v;
  });
}

/** Problems of one dashboard, one line each; empty when it passes. */
export function lintDashboard(d: Dashboard): string[] {
  const problems: string[] = [];
  const where = (p: PanelJson) => `${d.uid ?? '?'} panel ${p.id ?? '?'} "${p.title ?? ''}"`;
  if (!d.uid || !/^[a-z0-9-]{1,40}$/.test(d.uid)) problems.push(`dashboard "${d.title}": uid "${d.uid}" is not a stable slug`);
  const vars = d.templating?.list ?? [];
  const ds = vars.find((v) => v.name === 'datasource');
  if (!ds || ds.type !== 'datasource' || ds.query !== 'prometheus') problems.push(`${d.uid}: no datasource variable of type prometheus`);
  for (const v of vars) {
    if (v.type === 'query' && (v.datasource as { uid?: string } | undefined)?.uid !== '${datasource}') problems.push(`${d.uid}: variable ${v.name} does not use \${datasource}`);
  }
  const ids = new Set<number>();
  for (const p of allPanels(d)) {
    if (typeof p.id !== 'number' || !Number.isInteger(p.id) || p.id <= 0) problems.push(`${where(p)}: no id`);
    else if (ids.has(p.id)) problems.push(`${where(p)}: id ${p.id} used twice`);
    else ids.add(p.id);
    const g = p.gridPos;
    if (!g || g.x < 0 || g.w <= 0 || g.h <= 0 || g.x + g.w > 24) problems.push(`${where(p)}: gridPos ${JSON.stringify(g)} outside the 24-column grid`);
    if (p.type === 'row') continue;
    if (!p.title) problems.push(`${where(p)}: no title`);
    if (!p.description || p.description.trim().length < 20) problems.push(`${where(p)}: no description`);
    if (p.datasource?.type !== 'prometheus' || p.datasource.uid !== '${datasource}') problems.push(`${where(p)}: datasource is not \${datasource}: ${JSON.stringify(p.datasource)}`);
    const unit = p.fieldConfig?.defaults?.unit;
    if (!unit) problems.push(`${where(p)}: no unit`);
    const targets = p.targets ?? [];
    if (targets.length === 0) problems.push(`${where(p)}: no query`);
    for (const t of targets) {
      if (!t.expr) problems.push(`${where(p)} ${t.refId}: empty expr`);
      if (t.datasource?.type !== 'prometheus' || t.datasource.uid !== '${datasource}') problems.push(`${where(p)} ${t.refId}: query datasource is not \${datasource}`);
    }
    if (!(p.links ?? []).some((l) => l.url?.startsWith('${agent_url}'))) problems.push(`${where(p)}: no link to the agent's web view (\${agent_url})`);
  }
  // panels must not overlap
  const boxes = allPanels(d).filter((p) => p.gridPos);
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i]?.gridPos;
      const b = boxes[j]?.gridPos;
      if (a && b && a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        problems.push(`${d.uid}: panels ${boxes[i]?.id} and ${boxes[j]?.id} overlap`);
      }
    }
  }
  return problems;
}
