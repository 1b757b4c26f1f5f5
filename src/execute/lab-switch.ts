/**
 * The lab's Ethernet switch: one UDP port on 127.0.0.1 per QEMU (each node, and the router's
 * QEMU that holds slirp), frames carried one per datagram as QEMU's dgram netdev sends them
 * (qemu-options.hx, -netdev dgram). Frames for a node's MAC go to that node only (dropped while it
 * is off), broadcast and multicast to every other port, everything else to the router. A plain
 * hub would also hand slirp the nodes' traffic to each other, and slirp proxies any TCP SYN it
 * sees to the outside world: two answers to one connection.
 *
 * Run as a process of its own (`node lab-switch.ts '<ports JSON>'`), started and stopped by the lab.
 */
import { createSocket, type Socket } from 'node:dgram';
import type { SwitchPort } from '../plan/lab.ts';

export type { SwitchPort };

const macAt = (frame: Buffer, offset: number): string => [...frame.subarray(offset, offset + 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Where a frame from `from` goes: pure, so the rule is tested without sockets. */
export function forward(ports: readonly SwitchPort[], from: string, frame: Buffer): SwitchPort[] {
  if (frame.length < 14) return [];
  // Group bit: the lowest bit of the first octet (IEEE 802-2014 §8.2) marks broadcast and multicast.
  if ((frame[0]! & 1) === 1) return ports.filter((p) => p.name !== from);
  const dst = macAt(frame, 0);
  const node = ports.find((p) => p.mac === dst);
  if (node) return node.name === from ? [] : [node];
  return ports.filter((p) => p.mac === null && p.name !== from);
}

export function startSwitch(ports: readonly SwitchPort[]): Socket[] {
  const sockets = new Map<string, Socket>();
  for (const p of ports) {
    const s = createSocket('udp4');
    s.on('message', (frame, rinfo) => {
      if (rinfo.address !== '127.0.0.1' || rinfo.port !== p.peer) return;
      for (const to of forward(ports, p.name, frame)) sockets.get(to.name)!.send(frame, to.peer, '127.0.0.1');
    });
    let listening = false;
    s.once('listening', () => { listening = true; });
    // Once up, a send to a peer that is off fails: the frame is dropped, as a cable with nothing at its end.
    s.on('error', (e) => {
      if (listening) return;
      process.stderr.write(`lab switch: cannot listen on 127.0.0.1:${p.port} for ${p.name}: ${e.message}\n`);
      process.exit(1);
    });
    s.bind(p.port, '127.0.0.1');
    sockets.set(p.name, s);
  }
  return [...sockets.values()];
}

if (import.meta.main) {
  startSwitch(JSON.parse(process.argv[2] ?? '[]') as SwitchPort[]);
}
