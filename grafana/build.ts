/**
 * @module `npm run build:dashboards`: renders the dashboards (grafana/dashboards/*.ts) to JSON and the alert rules
 * (grafana/alerts/rules.ts) to a Prometheus rules file and a PrometheusRule manifest. Deterministic: the same
 * sources give byte-identical files. `--check` writes nothing and exits 1 when a committed file differs from
 * what the sources give (for CI and for a forgotten `npm run build`).
 *
 * Writes: grafana/dist/*.json and grafana/dashboards/json/*.json (the same dashboards; the latter committed),
 * grafana/alerts/hopscope-rules.yaml, agent/deploy/prometheusrule.yaml.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prometheusRuleYaml, rulesFileYaml } from './alerts/rules.js';
import { dashboardJson, DASHBOARDS } from './dashboards/index.js';

/** The checkout's root: the nearest directory above this file (source or compiled) with hopscope's package.json. */
export function repoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hopscope') return dir;
    if (dirname(dir) === dir) throw new Error(`no hopscope package.json above ${from}`);
  }
}

/** Every generated file, by path relative to the repository root. */
export function generatedFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const d of DASHBOARDS) {
    const json = dashboardJson(d.build());
    files.set(`grafana/dashboards/json/${d.file}`, json);
    files.set(`grafana/dist/${d.file}`, json);
  }
  files.set('grafana/alerts/hopscope-rules.yaml', rulesFileYaml());
  files.set('agent/deploy/prometheusrule.yaml', prometheusRuleYaml());
  return files;
}

/** Paths (relative) whose content on disk differs from the generated one. grafana/dist/ is a build output and not compared. */
export function staleFiles(root = repoRoot()): string[] {
  const stale: string[] = [];
  for (const [path, content] of generatedFiles()) {
    if (path.startsWith('grafana/dist/')) continue;
    const full = join(root, path);
    if (!existsSync(full) || readFileSync(full, 'utf8') !== content) stale.push(path);
  }
  return stale;
}

export function writeGenerated(root = repoRoot()): string[] {
  const written: string[] = [];
  for (const [path, content] of generatedFiles()) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    if (existsSync(full) && readFileSync(full, 'utf8') === content) continue;
    writeFileSync(full, content);
    written.push(path);
  }
  return written;
}

function main(argv: string[]): number {
  const root = repoRoot();
  if (argv.includes('--check')) {
    const stale = staleFiles(root);
    if (stale.length === 0) return 0;
    console.error(`hopscope: generated files are out of date (run \`npm run build\`): ${stale.join(', ')}`);
    return 1;
  }
  const written = writeGenerated(root);
  console.log(written.length ? `hopscope: wrote ${written.map((p) => relative(process.cwd(), join(root, p))).join(', ')}` : 'hopscope: dashboards and alert rules up to date');
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = main(process.argv.slice(2));
