import { z } from 'zod';
import { DnsName, Ip } from './primitives.ts';

/** LAN settings shared by every node with a static address. */
export const Network = z.strictObject({
  /** Default gateway; required when any node has a static address. */
  gateway: Ip.optional(),
  /** DNS resolvers. @default [] */
  dns: z.array(Ip).default([]),
  /** DNS search domains. @default [] */
  searchDomains: z.array(DnsName).default([]),
  /** NTP servers. SBCs have no RTC, so the clock is set from these before certificates are checked. @default ["ntp.ubuntu.com"] */
  ntp: z.array(z.string().min(1)).min(1).default(['ntp.ubuntu.com']),
  /** How a node's LAN interface is found: "mac" (the node's mac, renamed to lan0) or "name" (interfaceName glob). @default "mac" */
  match: z.enum(['mac', 'name']).default('mac'),
  /** Interface name or glob used when match is "name" or a node has no mac. @default "en*" */
  interfaceName: z.string().min(1).default('en*'),
  /** MTU of the LAN interface. */
  mtu: z.number().int().min(576).max(9216).optional(),
  /**
   * Accept IPv6 router advertisements (SLAAC addresses and routes) on the LAN interface. Off by
   * default: a node carries only the addresses the config declares, and a static node on an
   * IPv4-only LAN does not wait 12 s at every boot for a router advertisement that never comes
   * (systemd-networkd's NDisc timeout holds up network-online.target). @default false
   */
  acceptRa: z.boolean().default(false),
});

/** A login account on every node. */
export const User = z.strictObject({
  /** Login name. */
  name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a POSIX user name'),
  /** SSH public keys allowed to log in. */
  sshAuthorizedKeys: z
    .array(z.string().regex(/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/=]+( .*)?$/, 'must be an OpenSSH public key line'))
    .min(1),
  /** Passwordless sudo. @default true */
  sudo: z.boolean().default(true),
  /** Crypt(3) hash for console login (mkpasswd -m sha-512). Clear-text passwords are not accepted. */
  hashedPassword: z.string().regex(/^\$(1|5|6|y|gy|7|2[aby]?)\$/, 'must be a crypt(3) hash such as $6$... (mkpasswd -m sha-512)').optional(),
  /** Supplementary groups. @default [] */
  groups: z.array(z.string()).default([]),
  /** Login shell. @default "/bin/bash" */
  shell: z.string().default('/bin/bash'),
});
