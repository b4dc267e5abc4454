/**
 * The Dockerfile, checked statically (no Docker engine can run here): base images pinned by tag, OCI labels, a
 * HEALTHCHECK, bpftrace installed in the runtime stage without leaving apt's cache, and every path the stages
 * COPY present in the repository (or produced by the build stage where it is built).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

interface Instruction {
  readonly op: string;
  readonly args: string;
  readonly stage: number;
  readonly line: number;
}

/** Instructions with continuation lines joined and comments dropped, each tagged with its stage (FROM index). */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let buffer = '';
  let startLine = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (buffer === '' && (line === '' || line.startsWith('#'))) return;
    if (buffer !== '' && line.startsWith('#')) return; // comments inside a continued instruction
    if (buffer === '') startLine = i + 1;
    if (line.endsWith('\\')) {
      buffer += `${line.slice(0, -1)} `;
      return;
    }
    const full = `${buffer}${line}`.trim();
    buffer = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`Dockerfile line ${startLine}: cannot parse "${full}"`);
    const op = (m[1] as string).toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: (m[2] as string).trim(), stage, line: startLine });
  });
  return out;
}

const instructions = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
const froms = instructions.filter((i) => i.op === 'FROM');
const lastStage = froms.length - 1;
const stageNames = new Map(froms.map((f, i) => [/\bAS\s+(\S+)/i.exec(f.args)?.[1] ?? String(i), i]));
const inStage = (stage: number, op?: string) => instructions.filter((i) => i.stage === stage && (op === undefined || i.op === op));

/** A COPY's sources and destination, and the stage it copies from (undefined: the build context). */
function copyParts(i: Instruction): { from: string | undefined; sources: string[]; dest: string } {
  const words = i.args.split(/\s+/);
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift() as string;
    const m = /^--from=(.+)$/.exec(flag);
    if (m) from = m[1];
  }
  const dest = words.pop() as string;
  return { from, sources: words, dest };
}

describe('Dockerfile', () => {
  it('is multi-stage: node:20-bookworm-slim builds, debian:bookworm-slim runs', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(froms[0]?.args).toMatch(/^node:20-bookworm-slim\s+AS\s+\w+$/i);
    expect(froms[lastStage]?.args).toMatch(/^debian:bookworm-slim(\s|$)/);
  });

  it('pins every base image by a tag (or digest), never :latest', () => {
    for (const f of froms) {
      const image = f.args.split(/\s+/)[0] as string;
      if (stageNames.has(image)) continue; // FROM an earlier stage
      expect(image, `FROM on line ${f.line}`).toMatch(/^[\w./-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$/);
      expect(image, `FROM on line ${f.line}`).not.toMatch(/:latest$/);
    }
  });

  it('labels the image with OCI annotations, the source among them', () => {
    const labels = inStage(lastStage, 'LABEL')
      .map((i) => i.args)
      .join(' ');
    for (const key of ['source', 'title', 'description', 'version', 'licenses']) {
      expect(labels, `org.opencontainers.image.${key}`).toMatch(new RegExp(`org\\.opencontainers\\.image\\.${key}="[^"]+"`));
    }
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    expect(labels).toContain(`org.opencontainers.image.version="${version}"`);
    const license = (JSON.parse(readFileSync('package.json', 'utf8')) as { license: string }).license;
    expect(labels).toContain(`org.opencontainers.image.licenses="${license}"`);
  });

  it('has a HEALTHCHECK that fetches /healthz on 127.0.0.1:9940 with node (there is no curl)', () => {
    const hc = inStage(lastStage, 'HEALTHCHECK');
    expect(hc).toHaveLength(1);
    expect(hc[0]?.args).toMatch(/CMD\s+\["node",\s*"-e",/);
    expect(hc[0]?.args).toContain('http://127.0.0.1:9940/healthz');
    // the JSON (exec) form must be valid JSON
    const json = /CMD\s+(\[.*\])\s*$/.exec(hc[0]?.args ?? '')?.[1] ?? '';
    const argv = JSON.parse(json) as string[];
    expect(argv.slice(0, 2)).toEqual(['node', '-e']);
    expect(() => new Function(argv[2] as string)).not.toThrow(); // the one-liner is valid JavaScript
  });

  it('installs bpftrace (and the tools the agent runs) in the runtime stage, without keeping apt caches', () => {
    const runs = inStage(lastStage, 'RUN').map((i) => i.args);
    const install = runs.find((r) => /apt-get install/.test(r));
    expect(install).toBeDefined();
    for (const pkg of ['bpftrace', 'bpftool', 'iproute2', 'util-linux', 'libbpf1', 'libelf1']) expect(install).toMatch(new RegExp(`\\b${pkg}\\b`));
    expect(install).toContain('--no-install-recommends');
    expect(install).toMatch(/apt-get update/);
    expect(install).toMatch(/rm -rf \/var\/lib\/apt\/lists/); // in the same layer
    // only Debian's bpftrace: no other source, no pinned download
    expect(runs.join('\n')).not.toMatch(/curl|wget|add-apt-repository/);
  });

  it('copies only paths that exist in the repository or that the build stage produces', () => {
    const buildStage = stageNames.get('build') ?? 0;
    // what the build stage has under /app: what it copied from the context, plus what its RUNs make
    const buildCopies = inStage(buildStage, 'COPY').flatMap((i) => copyParts(i).sources);
    for (const src of buildCopies) expect(existsSync(src), `build stage COPY ${src}`).toBe(true);
    expect(buildCopies).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src', 'agent']));
    const buildRuns = inStage(buildStage, 'RUN').map((i) => i.args).join('\n');
    expect(buildRuns).toMatch(/npm ci/);
    expect(buildRuns).toMatch(/tsc -p tsconfig\.build\.json/);
    expect(buildRuns).toMatch(/npm prune --omit=dev/);

    // tsc -p tsconfig.build.json: dist/ mirrors src/ and agent/ (outDir dist, rootDir .)
    const tsconfig = JSON.parse(readFileSync('tsconfig.json', 'utf8')) as { compilerOptions: { outDir: string; rootDir: string } };
    const buildConfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { extends: string; include: string[] };
    expect(buildConfig.extends).toBe('./tsconfig.json');
    expect(tsconfig.compilerOptions.outDir).toBe('dist');
    expect(tsconfig.compilerOptions.rootDir).toBe('.');
    expect(buildConfig.include).toEqual(expect.arrayContaining(['src', 'agent']));
    const producedByBuild = new Set(['dist', 'node_modules']);
    // scripts/build-native.sh writes build/native/ (the native hop probe) from probes/
    expect(buildRuns).toMatch(/bash scripts\/build-native\.sh/);
    expect(buildCopies).toEqual(expect.arrayContaining(['probes', 'scripts/build-native.sh']));
    producedByBuild.add('build/native');

    const runtimeCopies = inStage(lastStage, 'COPY').map(copyParts);
    const copied: string[] = [];
    for (const c of runtimeCopies) {
      for (const src of c.sources) {
        if (c.from === undefined) {
          expect(existsSync(src), `COPY ${src}`).toBe(true);
          copied.push(src);
        } else if (src.startsWith('/app/')) {
          const rel = src.slice('/app/'.length);
          expect(producedByBuild.has(rel) || buildCopies.includes(rel), `COPY --from=${c.from} ${src}: not in the build stage`).toBe(true);
          copied.push(rel);
        } else {
          expect(src, `COPY --from=${c.from} ${src}`).toBe('/usr/local/bin/node'); // from the node image itself
        }
      }
    }
    // what the agent needs at run time, at the paths the code resolves from the package root (src/package-root.ts:
    // the directory holding package.json)
    expect(copied).toEqual(expect.arrayContaining(['dist', 'node_modules', 'package.json', 'bin', 'probes', 'src/web', 'build/native']));
    for (const p of ['bin/hopscope.js', 'probes/hops.bt', 'src/web/index.html', 'src/cli/main.ts']) expect(existsSync(p), p).toBe(true);
    expect(readFileSync('bin/hopscope.js', 'utf8')).toContain('../dist/src/cli/main.js');
  });

  it('starts bin/hopscope.js as its entry point, listening on the port it exposes', () => {
    const entry = inStage(lastStage, 'ENTRYPOINT')[0]?.args ?? '';
    expect(JSON.parse(entry)).toEqual(['node', '/app/bin/hopscope.js']);
    expect(inStage(lastStage, 'WORKDIR').map((i) => i.args)).toContain('/app');
    expect(inStage(lastStage, 'EXPOSE').map((i) => i.args)).toContain('9940');
  });
});
