#!/usr/bin/env python3
"""Lab-only delay forwarder for hopscope: never part of the agent.

This kernel has no netem (and no fq qdisc), so `hopscope lab up --delay-ms D` replaces the underlay bridge
`sw0` with this small learning switch in userspace. It runs inside the lab's underlay namespace
(`ip netns exec <prefix>u python3 delay-forwarder.py ...`), opens one AF_PACKET SOCK_RAW socket (ETH_P_ALL)
bound to each given port and, D milliseconds after a frame arrives on one port, sends it out of the port
behind which its destination MAC was learned (source MACs are learned per port), or out of every other port
for broadcast, multicast and unknown destinations. One FIFO with one constant delay: frames are never
reordered. Frames the forwarder sent itself (packet type PACKET_OUTGOING) are ignored.

GSO/TSO: the nodes' uplinks are veths with TSO on, so the kernel hands a packet socket TCP super-frames of up
to 64 KiB that no plain send can put back on the wire (EMSGSIZE). Every socket therefore uses PACKET_VNET_HDR:
each frame comes with a virtio_net_hdr (GSO type and size, checksum start and offset) and goes out with the
same header, so the kernel keeps the super-frame a GSO packet with its partial checksum on the far side
exactly as a bridge would; no offload setting of any namespace is changed.

Usage:  python3 delay-forwarder.py --delay-ms D PORT [PORT ...]
  --delay-ms D  one-way delay added to every frame, 0 to 1000 ms
  PORT          an interface of the current network namespace (one per lab node)
Prints `ready` on stdout once every socket is bound; exits 0 on SIGTERM or SIGINT, and when one of its
ports disappears (its namespace peer was deleted). Standard library only.
"""

import argparse
import collections
import errno
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_VNET_HDR = 15
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
VNET_HDR_LEN = 10  # struct virtio_net_hdr
RECV_BUFFER = 256 * 1024  # a GSO super-frame is at most 64 KiB (more with BIG TCP)
SOCKET_BUFFER = 8 * 1024 * 1024
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # a switch's buffer: beyond it frames are dropped (tail drop)
BROADCAST = b"\xff\xff\xff\xff\xff\xff"


class Stop(Exception):
    pass


def parse_args(argv):
    p = argparse.ArgumentParser(prog="delay-forwarder.py", description="lab-only delaying learning switch")
    p.add_argument("--delay-ms", type=int, required=True)
    p.add_argument("ports", nargs="+")
    a = p.parse_args(argv)
    if not 0 <= a.delay_ms <= 1000:
        p.error(f"--delay-ms {a.delay_ms}: must be an integer from 0 to 1000")
    if len(set(a.ports)) != len(a.ports):
        p.error("a port is given twice")
    return a


def open_port(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)  # protocol 0: receives nothing before bind
    s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
    try:
        s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    except OSError:
        pass  # older kernel: the PACKET_OUTGOING check below still skips them
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
        except OSError:
            pass
    s.bind((name, ETH_P_ALL))
    s.setblocking(False)
    return s


def main(argv):
    args = parse_args(argv)
    delay = args.delay_ms / 1000.0

    def on_signal(_signum, _frame):
        raise Stop()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    socks = {}  # fd -> (name, socket)
    by_name = {}
    stats = collections.Counter()
    try:
        for name in args.ports:
            try:
                s = open_port(name)
            except OSError as e:
                print(f"delay-forwarder: port {name}: {e.strerror or e}", file=sys.stderr, flush=True)
                return 1
            socks[s.fileno()] = (name, s)
            by_name[name] = s
        print("ready", flush=True)

        fdb = {}  # MAC -> port name
        queue = collections.deque()  # (due, ingress port, bytes incl. vnet header); due times only grow
        queued = 0
        buf = bytearray(RECV_BUFFER)
        view = memoryview(buf)
        poller = select.poll()
        for fd in socks:
            poller.register(fd, select.POLLIN)

        while True:
            now = time.monotonic()
            while queue and queue[0][0] <= now:
                _due, ingress, frame = queue.popleft()
                queued -= len(frame)
                send(frame, ingress, fdb, by_name, stats)
            timeout_ms = None if not queue else max(0.0, (queue[0][0] - time.monotonic()) * 1000.0)
            events = poller.poll(timeout_ms)
            for fd, ev in events:
                name, s = socks[fd]
                for _ in range(64):  # drain, bounded so the queue head is never starved
                    try:
                        n, addr = s.recvfrom_into(buf)
                    except BlockingIOError:
                        break
                    except OSError as e:
                        if e.errno in (errno.ENETDOWN, errno.ENXIO, errno.ENODEV) and not port_exists(name):
                            print(f"port {name} is gone; stopping", flush=True)
                            return 0
                        stats["recv_errors"] += 1
                        break
                    if addr[2] == PACKET_OUTGOING or n < VNET_HDR_LEN + 14:
                        continue
                    stats["received"] += 1
                    if queued + n > MAX_QUEUED_BYTES:
                        stats["queue_full_drops"] += 1
                        continue
                    frame = bytes(view[:n])
                    queued += n
                    src = frame[VNET_HDR_LEN + 6 : VNET_HDR_LEN + 12]
                    if not src[0] & 1:
                        fdb[src] = name
                    queue.append((time.monotonic() + delay, name, frame))
                if ev & (select.POLLERR | select.POLLHUP | select.POLLNVAL) and not port_exists(name):
                    print(f"port {name} is gone; stopping", flush=True)
                    return 0
    except Stop:
        print(f"stopped: {dict(stats)}", flush=True)
        return 0
    finally:
        for _name, s in socks.values():
            s.close()


def send(frame, ingress, fdb, by_name, stats):
    dst = frame[VNET_HDR_LEN : VNET_HDR_LEN + 6]
    out = None if dst[0] & 1 else fdb.get(dst)
    if out == ingress:
        return  # both ends behind one port: a switch drops it
    targets = [out] if out is not None else [p for p in by_name if p != ingress]
    for port in targets:
        try:
            by_name[port].send(frame)
            stats["sent"] += 1
        except OSError:
            stats["send_errors"] += 1  # full queue or port down: dropped, like a switch would


def port_exists(name):
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
