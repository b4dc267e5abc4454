/**
 * Kernel tests need root and run the built CLI (dist/), as users do: build once before them.
 */
import { execa } from 'execa';

export default async function setup(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error('kernel tests need root (bpftrace loads BPF programs; the lab creates network namespaces): run `sudo npm test`');
  }
  await execa('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
