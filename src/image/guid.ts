/**
 * GUIDs as GPT stores them, and derived GUIDs for reproducible images.
 *
 * Text form is the canonical 8-4-4-4-12 hex, upper case (as sgdisk and the UEFI spec print it).
 */
import { createHash } from 'node:crypto';

export const GUID_BYTES = 16;

const GUID_TEXT = /^([0-9A-F]{8})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{4})-([0-9A-F]{12})$/i;

export const ZERO_GUID = '00000000-0000-0000-0000-000000000000';

/** The 16 bytes in the order the text reads (RFC 9562 network order). */
function textBytes(text: string): Buffer {
  const m = GUID_TEXT.exec(text);
  if (!m) throw new Error(`"${text}" is not a GUID (expected 8-4-4-4-12 hex digits)`);
  return Buffer.from(m.slice(1).join(''), 'hex');
}

function formatTextBytes(b: Buffer): string {
  const hex = b.toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Canonical (upper-case) form of a GUID string; throws when it is malformed. */
export function normalizeGuid(text: string): string {
  return formatTextBytes(textBytes(text));
}

/**
 * UEFI 2.10 Appendix A (EFI_GUID): the first three fields are a UINT32 and two UINT16s stored
 * little-endian; the last eight bytes are stored as written. So C12A7328-F81F-11D2-… is stored
 * as 28 73 2A C1 1F F8 D2 11 ….
 */
function swapMixedEndian(b: Buffer): Buffer {
  const out = Buffer.from(b);
  out.subarray(0, 4).reverse();
  out.subarray(4, 6).reverse();
  out.subarray(6, 8).reverse();
  return out;
}

/** The 16 on-disk bytes of a GUID, in GPT's mixed-endian layout. */
export function encodeGuid(text: string): Buffer {
  return swapMixedEndian(textBytes(text));
}

/** Read 16 on-disk GPT bytes back to canonical upper-case text. */
export function decodeGuid(buf: Buffer): string {
  if (buf.length < GUID_BYTES) throw new Error(`a GUID needs ${GUID_BYTES} bytes, got ${buf.length}`);
  return formatTextBytes(swapMixedEndian(buf.subarray(0, GUID_BYTES)));
}

/**
 * A GUID that depends only on its parts, e.g. deriveGuid(cluster, node, 'partition', 'root'),
 * so rebuilding an image gives the same disk and partition GUIDs (mkosi's --seed idea).
 *
 * The first 16 bytes of SHA-256(parts joined by NUL) become an RFC 9562 §5.8 version-8 UUID:
 * version nibble 8 (§4.2) and variant bits 10 (§4.1). Parts containing NUL are refused, so
 * ('a', 'bc') and ('ab', 'c') never collide.
 */
export function deriveGuid(...parts: string[]): string {
  if (parts.length === 0) throw new Error('deriveGuid needs at least one part');
  if (parts.some((p) => p.includes('\0'))) throw new Error('deriveGuid parts must not contain NUL characters');
  const b = createHash('sha256').update(parts.join('\0'), 'utf8').digest().subarray(0, GUID_BYTES);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return formatTextBytes(b);
}
