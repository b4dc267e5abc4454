/**
 * @module Shared pieces of the hopscope dashboards: the datasource variable, the template variables, links to
 * the agent's live web view, and one function per kind of panel. Every panel gets an explicit, stable id, the
 * `${datasource}` variable (on the panel and on each query), a unit and a description, so the generated JSON is
 * the same on every build and importable as is.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as cog from '@grafana/grafana-foundation-sdk/cog';
import {
  DashboardLinkBuilder,
  DashboardLinkType,
  DatasourceVariableBuilder,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  TextBoxVariableBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableHide,
  VariableRefresh,
  VariableSort,
  type DashboardLink,
  type DataTransformerConfig,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import {
  CellValuesBuilder,
  HeatmapColorMode,
  HeatmapColorOptionsBuilder,
  HeatmapColorScale,
  PanelBuilder as HeatmapPanelBuilder,
  RowsHeatmapOptionsBuilder,
  YAxisConfigBuilder,
} from '@grafana/grafana-foundation-sdk/heatmap';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TablePanelBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** Every panel and every query reads from the dashboard's `datasource` variable (type prometheus). */
export const DATASOURCE: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** The live web view of one agent: `kubectl -n hopscope port-forward` (or the lab's agent) serves it here. */
export const DEFAULT_AGENT_URL = 'http://127.0.0.1:9940/';

/** Tag shared by the hopscope dashboards; the dashboards link to each other through it. */
export const TAG = 'hopscope';

/** Filter words of the agent's API and web view (DESIGN.md "Filters"), as a link carries them. */
export interface WebFilter {
  readonly path?: 'same-pod' | 'same-node' | 'cross-node' | 'unrouted' | string;
  readonly node?: string;
  readonly outcome?: 'delivered' | 'forwarded' | 'dropped' | 'route-miss' | 'in-flight' | string;
  readonly protocol?: string;
}

/**
 * URL of the agent's web view with a filter, for a Grafana link: `${agent_url}?path=cross-node&node=...`. The
 * same words also go in the fragment (`#path=...`), which is where the web view reads shareable filters from
 * today; a web view that reads the query string gets the same filter either way.
 */
export function webViewUrl(filter: WebFilter): string {
  const parts = Object.entries(filter)
    .filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== '')
    .map(([k, v]) => `${k}=${v}`);
  const q = parts.join('&');
  return q ? '${agent_url}?' + q + '#' + q : '${agent_url}';
}

function webLink(title: string, filter: WebFilter): cog.Builder<DashboardLink> {
  return new DashboardLinkBuilder(title).type(DashboardLinkType.Link).url(webViewUrl(filter)).targetBlank(true);
}

// ---- variables ----------------------------------------------------------------------------------------------

export function datasourceVariable() {
  return new DatasourceVariableBuilder('datasource')
    .label('Data source')
    .type('prometheus')
    .description('Prometheus that scrapes the hopscope agents');
}

/** A label's values from a hopscope metric, multi-select with All (`.*`) unless `single`. */
export function labelVariable(name: string, label: string, metric: string, description: string, opts: { single?: boolean } = {}) {
  const query = `label_values(${metric}, ${name})`;
  const v = new QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query({ qryType: 1, query, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
    .definition(query)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .sort(VariableSort.NaturalAsc);
  return opts.single ? v.multi(false).includeAll(false) : v.multi(true).includeAll(true).allValue('.*');
}

export function agentUrlVariable() {
  return new TextBoxVariableBuilder('agent_url')
    .label('Agent web view')
    .description("Base URL of a hopscope agent's live web view (panel links open it with the panel's filter)")
    .defaultValue(DEFAULT_AGENT_URL)
    .current({ text: DEFAULT_AGENT_URL, value: DEFAULT_AGENT_URL })
    .hide(VariableHide.DontHide);
}

/** Link between the hopscope dashboards (by tag), keeping time range and variables. */
export function dashboardsLink() {
  return new DashboardLinkBuilder('hopscope')
    .type(DashboardLinkType.Dashboards)
    .tags([TAG])
    .asDropdown(true)
    .includeVars(true)
    .keepTime(true)
    .targetBlank(false);
}

// ---- queries ------------------------------------------------------------------------------------------------

export interface Query {
  readonly expr: string;
  readonly legend?: string;
  /** Instant query (tables, stats); default a range query. */
  readonly instant?: boolean;
  readonly format?: 'time_series' | 'table' | 'heatmap';
}

function target(q: Query, refId: string) {
  const b = new DataqueryBuilder().datasource(DATASOURCE).expr(q.expr).refId(refId).legendFormat(q.legend ?? '__auto');
  if (q.instant) b.instant();
  else b.range();
  if (q.format === 'table') b.format(PromQueryFormat.Table);
  else if (q.format === 'heatmap') b.format(PromQueryFormat.Heatmap);
  else b.format(PromQueryFormat.TimeSeries);
  return b;
}

// ---- panels -------------------------------------------------------------------------------------------------

export interface PanelSpec {
  /** Stable panel id, unique in its dashboard: never renumber, only add. */
  readonly id: number;
  readonly title: string;
  readonly description: string;
  /** Grafana unit id: s, pps, cps, short, none, ... */
  readonly unit: string;
  readonly queries: readonly Query[];
  /** Panel link to the agent's web view with this filter. */
  readonly web?: { readonly title: string; readonly filter: WebFilter };
  /** Per-series data links (Grafana `${__field.labels.X}` allowed in filter values). */
  readonly seriesLinks?: readonly { readonly title: string; readonly filter: WebFilter }[];
  /** Width (of 24) and height in grid units; the dashboard builder places panels left to right, row by row. */
  readonly w: number;
  readonly h: number;
}

/** The methods every panel builder of the SDK has and that the specs use. */
interface CommonPanelBuilder {
  id(id: number): this;
  title(title: string): this;
  description(description: string): this;
  datasource(ds: common.DataSourceRef): this;
  unit(unit: string): this;
  span(w: number): this;
  height(h: number): this;
  withTarget(target: cog.Builder<cog.Dataquery>): this;
  links(links: cog.Builder<DashboardLink>[]): this;
  dataLinks(links: cog.Builder<DashboardLink>[]): this;
}

function applySpec<B extends CommonPanelBuilder>(b: B, spec: PanelSpec): B {
  b.id(spec.id).title(spec.title).description(spec.description).datasource(DATASOURCE).unit(spec.unit).span(spec.w).height(spec.h);
  spec.queries.forEach((q, i) => b.withTarget(target(q, String.fromCharCode(65 + i))));
  if (spec.web) b.links([webLink(spec.web.title, spec.web.filter)]);
  if (spec.seriesLinks) b.dataLinks(spec.seriesLinks.map((l) => webLink(l.title, l.filter)));
  return b;
}

export interface Step {
  readonly color: string;
  /** null: the base step. */
  readonly value: number | null;
}

/** Absolute thresholds (colours of stats and tables, lines on time series). */
export function thresholds(steps: readonly Step[]) {
  return new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps(steps.map((s) => ({ color: s.color, value: s.value })));
}

export function timeseries(spec: PanelSpec & { readonly stacked?: boolean; readonly thresholdLines?: readonly Step[] }) {
  const b = applySpec(new TimeseriesPanelBuilder(), spec)
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.Table)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true)
        .calcs(['lastNotNull', 'max']),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .fillOpacity(spec.stacked ? 30 : 10)
    .lineWidth(1)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false);
  if (spec.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal).group('A'));
  if (spec.thresholdLines) {
    b.thresholds(thresholds(spec.thresholdLines)).thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
  }
  return b;
}

export function stat(spec: PanelSpec & { readonly mappings?: ValueMapping[]; readonly steps?: readonly Step[] }) {
  const b = applySpec(new StatPanelBuilder(), spec)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false).fields(''))
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .textMode(common.BigValueTextMode.ValueAndName);
  if (spec.mappings) b.mappings(spec.mappings);
  if (spec.steps) b.thresholds(thresholds(spec.steps));
  return b;
}

/** hopscope_probe_native: what runs a probe group. */
export const NATIVE_SCRIPT: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'bpftrace', color: 'orange', index: 0 }, '1': { text: 'native', color: 'green', index: 1 } },
  },
];

/** 1 / 0 shown as up / down in green / red. */
export const UP_DOWN: ValueMapping[] = [
  {
    type: MappingType.ValueToText,
    options: { '0': { text: 'down', color: 'red', index: 0 }, '1': { text: 'up', color: 'green', index: 1 } },
  },
];

export function table(spec: PanelSpec & { readonly transformations?: DataTransformerConfig[]; readonly steps?: readonly Step[]; readonly plainColumns?: readonly string[] }) {
  const b = applySpec(new TablePanelBuilder(), spec)
    .showHeader(true)
    .cellOptions({ type: common.TableCellDisplayMode.ColorBackground, mode: common.TableCellBackgroundDisplayMode.Basic });
  for (const t of spec.transformations ?? []) b.withTransformation(t);
  // label columns keep the plain look; only the values are coloured
  for (const name of spec.plainColumns ?? []) b.overrideByName(name, [{ id: 'custom.cellOptions', value: { type: common.TableCellDisplayMode.Auto } }]);
  if (spec.steps) b.thresholds(thresholds(spec.steps));
  return b;
}

/** A Prometheus histogram (`format: heatmap`, buckets by `le`) drawn as a heatmap over time. */
export function heatmap(spec: PanelSpec) {
  return applySpec(new HeatmapPanelBuilder(), spec)
    .calculate(false)
    .yAxis(new YAxisConfigBuilder().unit(spec.unit).axisPlacement(common.AxisPlacement.Left))
    .cellValues(new CellValuesBuilder().unit('short'))
    .color(
      new HeatmapColorOptionsBuilder()
        .mode(HeatmapColorMode.Scheme)
        .scheme('Oranges')
        .fill('dark-orange')
        .scale(HeatmapColorScale.Exponential)
        .exponent(0.5)
        .steps(64)
        .reverse(false),
    )
    .showValue(common.VisibilityMode.Never)
    .rowsFrame(new RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le));
}

/** A full-width, open row header with a stable id; the panels added after it belong to it. */
export function row(id: number, title: string) {
  return new RowBuilder(title).id(id).collapsed(false);
}
