/**
 * The lab's Ethernet switch: one UDP port on 127.0.0.1 per QEMU (each node, and the router's
 * QEMU that holds slirp), frames carried one per datagram as QEMU's dgram netdev sends them
 * (qemu-options.hx, -netdev dgram). Frames for a node's MAC go to that node only (dropped while it
 * is off), broadcast and multicast to every other port, everything else to the router. A plain
 * hub would also hand slirp the nodes' traffic to each other, and slirp proxies any TCP SYN it
 * sees to the outside world: two answers to one connection. The switch also answers NTP at the
 * gateway's address from the host's clock: slirp relays no NTP, and the nodes wait for a first
 * sync before they trust certificates.
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

const NTP_EPOCH_OFFSET = 2208988800; // seconds from 1900 (NTP's era 0) to 1970 (RFC 5905 §6)

/**
 * The answer to an NTP client's request sent to `at` (the gateway's address, which home routers
 * serve NTP at), from the host's clock; null when the frame is something else. Ethernet, IPv4 and
 * UDP headers mirrored (UDP checksum 0: none, allowed over IPv4 by RFC 768); the NTP packet is a
 * server reply (mode 4, stratum 1, reference "LAB") echoing the client's transmit time (RFC 5905).
 */
export function ntpReply(frame: Buffer, at: string, nowMs: number): Buffer | null {
  if (frame.length < 14 + 20 + 8 + 48 || frame.readUInt16BE(12) !== 0x0800 || frame[14]! >> 4 !== 4) return null;
  const ihl = (frame[14]! & 0x0f) * 4;
  const udp = 14 + ihl;
  if (frame[23] !== 17 || frame.length < udp + 8 + 48 || frame.readUInt16BE(udp + 2) !== 123) return null;
  if ([...frame.subarray(30, 34)].join('.') !== at || (frame[udp + 8]! & 0x07) !== 3) return null;
  const ntp = Buffer.alloc(48);
  ntp[0] = (0 << 6) | (4 << 3) | 4; // leap 0, version 4, mode 4 (server)
  ntp[1] = 1; // stratum 1: a primary reference (the host's clock)
  ntp[2] = frame[udp + 8 + 2]!; // poll, as asked
  ntp[3] = 0xec; // precision 2^-20 s
  ntp.write('LAB\0', 12, 'latin1');
  const stamp = (offset: number): void => {
    const secs = Math.floor(nowMs / 1000) + NTP_EPOCH_OFFSET;
    ntp.writeUInt32BE(secs >>> 0, offset);
    ntp.writeUInt32BE(Math.floor(((nowMs % 1000) / 1000) * 2 ** 32) >>> 0, offset + 4);
  };
  stamp(16); // reference time
  frame.copy(ntp, 24, udp + 8 + 40, udp + 8 + 48); // origin = the client's transmit time
  stamp(32); // receive
  stamp(40); // transmit
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 8 + 48, 2);
  ip[8] = 64;
  ip[9] = 17;
  frame.copy(ip, 12, 30, 34); // from the address asked
  frame.copy(ip, 16, 26, 30); // to the client
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const u = Buffer.alloc(8);
  u.writeUInt16BE(123, 0);
  u.writeUInt16BE(frame.readUInt16BE(udp), 2);
  u.writeUInt16BE(8 + 48, 4);
  const eth = Buffer.concat([frame.subarray(6, 12), frame.subarray(0, 6), Buffer.from([0x08, 0x00])]);
  return Buffer.concat([eth, ip, u, ntp]);
}

export function startSwitch(ports: readonly SwitchPort[], ntpAt: string | null = null): Socket[] {
  const sockets = new Map<string, Socket>();
  for (const p of ports) {
    const s = createSocket('udp4');
    s.on('message', (frame, rinfo) => {
      if (rinfo.address !== '127.0.0.1' || rinfo.port !== p.peer) return;
      const reply = ntpAt ? ntpReply(frame, ntpAt, Date.now()) : null;
      if (reply) { sockets.get(p.name)!.send(reply, p.peer, '127.0.0.1'); return; }
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
  const { ports, ntpAt } = JSON.parse(process.argv[2] ?? '{}') as { ports: SwitchPort[]; ntpAt: string | null };
  startSwitch(ports, ntpAt);
}
