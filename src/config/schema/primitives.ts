import { z } from 'zod';
import { parseAmount, parseBytes } from '../../util/size.ts';
import { parseCidr, parseIp, parseRange } from '../../util/net.ts';

// RFC 1123 label: what Kubernetes accepts as a node name and what DHCP and /etc/hosts carry well.
export const Hostname = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'must be a lowercase RFC 1123 label (a-z, 0-9, "-", at most 63 characters)');

export const DnsName = z
  .string()
  .regex(/^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/, 'must be a lowercase DNS name');

export const Ip = z.string().refine((s) => parseIp(s) !== undefined, { message: 'must be an IPv4 or IPv6 address' });

export const Cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, { message: 'must be an address with a prefix length, e.g. 10.244.0.0/16' });

/** A MetalLB address: a CIDR or a range "a-b". */
export const AddressRange = z
  .string()
  .refine((s) => parseRange(s) !== undefined, { message: 'must be a CIDR (192.168.1.240/28) or a range (192.168.1.240-192.168.1.250)' });

export const Mac = z
  .string()
  .regex(/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/, 'must be a MAC address like 00:1e:06:42:aa:01')
  .transform((s) => s.toLowerCase());

/** Kubernetes release as MAJOR.MINOR.PATCH (kubeadm --kubernetes-version takes this form). */
export const KubeVersion = z
  .string()
  .regex(/^v?1\.\d{1,3}\.\d{1,3}$/, 'must be a Kubernetes release like 1.33.2')
  .transform((s) => s.replace(/^v/, ''));

/** Component version as MAJOR.MINOR or MAJOR.MINOR.PATCH. */
export const Version = z.string().regex(/^v?\d+\.\d+(\.\d+)?$/, 'must be a version like 1.17 or 1.17.4');

/** A byte size: a number of bytes or a string such as "64GiB", "1TB". */
export const Bytes = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const bytes = typeof v === 'number' ? (Number.isSafeInteger(v) && v > 0 ? v : undefined) : parseBytes(v);
  if (bytes === undefined) {
    ctx.issues.push({ code: 'custom', input: v, message: 'must be a size such as 64GiB, 500G or a number of bytes' });
    return z.NEVER;
  }
  return bytes;
});

/** A size on the target disk: bytes ("64GiB"), a share of the disk ("50%") or "rest". */
export const Amount = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const a = parseAmount(v);
  if (a === undefined) {
    ctx.issues.push({ code: 'custom', input: v, message: 'must be a size (64GiB), a share of the disk (50%) or "rest"' });
    return z.NEVER;
  }
  return a;
});

/**
 * An absolute path without whitespace, quotes, backslashes or control characters: paths go into
 * /etc/fstab (fields split on whitespace, fstab(5)) and debugfs commands (words split on spaces),
 * where such characters would break the line or start another command.
 */
export const AbsolutePath = z.string().regex(/^\/[^\s'"\\\x00-\x1f\x7f]*$/, 'must be an absolute path without spaces, quotes, backslashes or control characters');

/** Kubernetes label keys and values (apimachinery validation: qualified names, 63-character values). */
export const Labels = z.record(
  z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, 'must be a Kubernetes label key'),
  z.string().regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/, 'must be a Kubernetes label value'),
);

const DURATION_UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A duration as "90m", "24h", "7d" (or a mix, "1d12h"): whole seconds out. */
export const Duration = z.string().transform((v, ctx) => {
  const parts = [...v.matchAll(/(\d+)([smhd])/g)];
  if (!/^(\d+[smhd])+$/.test(v) || parts.length === 0) {
    ctx.issues.push({ code: 'custom', input: v, message: 'must be a duration such as 90m, 24h or 7d' });
    return z.NEVER;
  }
  const seconds = parts.reduce((sum, [, n, unit]) => sum + Number(n) * DURATION_UNITS[unit!]!, 0);
  if (seconds === 0) {
    ctx.issues.push({ code: 'custom', input: v, message: 'must be longer than nothing (a token that never expires is a standing credential)' });
    return z.NEVER;
  }
  return seconds;
});
