/**
 * @module Lab traffic helper (never part of the agent), the UDP twin of tcp-echo: `node udp-echo.js server PORT
 * [HOST]` sends every datagram back to its sender (HOST default 0.0.0.0); `node udp-echo.js client HOST PORT
 * [LOCAL_PORT]` sends one datagram (from LOCAL_PORT if given) and exits 0 once the echo comes back, 1 after 2 s
 * without it. Run inside a pod namespace with `ip netns exec`.
 */
import { createSocket } from 'node:dgram';

const [mode, a, b, c] = process.argv.slice(2);

if (mode === 'server') {
  const socket = createSocket(a !== undefined && b?.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg, from) => socket.send(msg, from.port, from.address));
  socket.bind(Number(a), b ?? '0.0.0.0', () => console.log(`listening ${Number(a)}/udp`));
} else if (mode === 'client') {
  const socket = createSocket(a?.includes(':') ? 'udp6' : 'udp4');
  const payload = Buffer.from('hopscope lab datagram');
  const timer = setTimeout(() => {
    console.error(`no echo from ${a}:${b} within 2 s`);
    process.exit(1);
  }, 2000);
  socket.on('message', (msg) => {
    if (!msg.equals(payload)) return;
    clearTimeout(timer);
    socket.close();
  });
  socket.bind(c === undefined ? 0 : Number(c), () => socket.send(payload, Number(b), a as string));
} else {
  console.error('usage: udp-echo.js server PORT [HOST] | client HOST PORT [LOCAL_PORT]');
  process.exit(2);
}
