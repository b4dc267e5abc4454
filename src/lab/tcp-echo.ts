/**
 * @module Lab traffic helper (never part of the agent): `node tcp-echo.js server PORT [HOST]` echoes whatever it
 * receives (HOST default 0.0.0.0; `::` for IPv6 and IPv4); `node tcp-echo.js client HOST PORT [INTERVAL_MS] [LOCAL_PORT]` opens a connection (from LOCAL_PORT
 * if given), sends a payload, reads the echo and closes, once or every INTERVAL_MS (0: once). Run inside a pod
 * namespace with `ip netns exec`.
 */
import { createConnection, createServer } from 'node:net';

const [mode, a, b, c, d] = process.argv.slice(2);

if (mode === 'server') {
  const server = createServer((socket) => socket.pipe(socket));
  server.listen(Number(a), b ?? '0.0.0.0', () => console.log(`listening ${Number(a)}`));
} else if (mode === 'client') {
  const once = () =>
    new Promise<void>((resolve, reject) => {
      const payload = Buffer.from('hopscope lab payload '.repeat(20));
      let got = 0;
      const localPort = d === undefined ? undefined : Number(d);
      const socket = createConnection({ host: a as string, port: Number(b), ...(localPort ? { localPort } : {}) }, () => socket.write(payload));
      socket.setTimeout(3000, () => socket.destroy(new Error('timeout')));
      socket.on('data', (d) => {
        got += d.length;
        if (got >= payload.length) socket.end();
      });
      socket.on('close', () => (got >= payload.length ? resolve() : reject(new Error(`echoed ${got} of ${payload.length} bytes`))));
      socket.on('error', reject);
    });
  const interval = c === undefined ? 0 : Number(c);
  const run = async () => {
    for (;;) {
      try {
        await once();
        console.log('ok');
      } catch (e) {
        console.log(`error ${(e as Error).message}`);
        if (!interval) process.exit(1);
      }
      if (!interval) return;
      await new Promise((r) => setTimeout(r, interval));
    }
  };
  void run();
} else {
  console.error('usage: tcp-echo server PORT [HOST] | client HOST PORT [INTERVAL_MS]');
  process.exit(2);
}
