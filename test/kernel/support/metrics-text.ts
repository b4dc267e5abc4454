/**
 * Reads one sample from an agent's /metrics (Prometheus text format).
 */
export async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`${url}/metrics: HTTP ${res.status}`);
  return res.text();
}

/** The value of the sample with exactly these labels, or undefined when the series does not exist. */
export function sampleValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && line !== name && !line.startsWith(`${name} `)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '').split(/,(?=[a-zA-Z_]+=")/).filter(Boolean).sort().join(',');
    if (got === wanted) return Number(m[3]);
  }
  return undefined;
}

export async function metric(url: string, name: string, labels: Record<string, string>): Promise<number> {
  return sampleValue(await scrape(url), name, labels) ?? 0;
}
