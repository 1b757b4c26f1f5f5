/**
 * Private keys and certificates in raw bytes, wherever they lie: PEM blocks (RFC 7468), and DER
 * keys in the encodings OpenSSL, Go's crypto/x509 and node:crypto write: PKCS#1 RSA (RFC 8017
 * A.1.2), SEC1 EC (RFC 5915) and PKCS#8 (RFC 5208). Each candidate is confirmed by parsing it
 * (node:crypto), so random bytes that look like a header are not reported. Bytes arrive in
 * pieces (an image read extent by extent); a key that straddles two pieces is still found.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';

export type KeyFormat = 'pkcs1' | 'sec1' | 'pkcs8' | 'openssh' | 'encrypted';

export interface FoundKey {
  /** Offset of the key's first byte in the scanned whole. */
  readonly offset: number;
  readonly encoding: 'pem' | 'der';
  readonly format: KeyFormat;
  /** The parsed key; null for an OpenSSH or passphrase-protected key, which node:crypto cannot read. */
  readonly key: KeyObject | null;
}

export interface FoundCert {
  readonly offset: number;
  readonly cert: X509Certificate;
}

/** The largest key or certificate looked for (an RSA-4096 PEM key is 3.3 KB; a long chain certificate a few KB). */
export const SCAN_WINDOW = 16 * 1024;
const WINDOW = SCAN_WINDOW;

/**
 * Anchors are six bytes or fewer: V8 searches those with memchr and a compare, several times
 * faster than the Boyer-Moore-Horspool it uses for longer patterns (measured on 608 MiB).
 */
const PEM_ANCHOR = Buffer.from('-BEGIN');
const PEM = /^-----BEGIN ((?:RSA |EC |ENCRYPTED |OPENSSH )?PRIVATE KEY|CERTIFICATE)-----\r?\n([A-Za-z0-9+/=\r\n]{16,}?)-----END \1-----/;
const PEM_FORMAT: Record<string, KeyFormat> = {
  'RSA PRIVATE KEY': 'pkcs1', 'EC PRIVATE KEY': 'sec1', 'PRIVATE KEY': 'pkcs8', 'ENCRYPTED PRIVATE KEY': 'encrypted', 'OPENSSH PRIVATE KEY': 'openssh',
};

/**
 * DER keys: the version INTEGER (0 for PKCS#1 and PKCS#8, 1 for SEC1), what must follow it, and
 * the encoding that implies; the SEQUENCE header before it is 2, 3 or 4 bytes long (X.690 8.1.3).
 */
const VERSION = Buffer.from('0201', 'hex'); // INTEGER, one byte: the version follows
const AFTER: readonly { version: number; next: Buffer; type: 'pkcs1' | 'sec1' | 'pkcs8' }[] = [
  { version: 0, next: Buffer.from('028201', 'hex'), type: 'pkcs1' }, // a modulus of 2048 bits or more
  { version: 0, next: Buffer.from('300d06092a864886f70d010101', 'hex'), type: 'pkcs8' }, // rsaEncryption
  { version: 0, next: Buffer.from('301306072a8648ce3d0201', 'hex'), type: 'pkcs8' }, // id-ecPublicKey
  { version: 0, next: Buffer.from('300506032b6570', 'hex'), type: 'pkcs8' }, // id-Ed25519
  { version: 1, next: Buffer.from('0420', 'hex'), type: 'sec1' }, // a 32-byte key (P-256)
  { version: 1, next: Buffer.from('0430', 'hex'), type: 'sec1' }, // a 48-byte key (P-384)
];

/** The DER element starting at `at`: its whole length, or 0 when the header is not a SEQUENCE that fits. */
function sequenceLength(buf: Buffer, at: number): number {
  if (at < 0 || buf[at] !== 0x30) return 0;
  const b = buf[at + 1] ?? 0;
  const [head, len] = b < 0x80 ? [2, b] : b === 0x81 ? [3, buf[at + 2] ?? 0] : b === 0x82 ? [4, ((buf[at + 2] ?? 0) << 8) | (buf[at + 3] ?? 0)] : [0, 0];
  return head && at + head + len <= buf.length && head + len <= WINDOW ? head + len : 0;
}

/** Feed pieces in order with their offsets; read `keys` and `certs` (in the order found) after the last. */
export class KeyScanner {
  readonly keys: FoundKey[] = [];
  readonly certs: FoundCert[] = [];
  // The last bytes fed, and a buffer for searching across a seam: allocated once, so a scan of
  // gigabytes makes no garbage per piece (off-heap buffers would pile up between collections).
  readonly #tail = Buffer.alloc(WINDOW);
  #tailLength = 0;
  #tailAt = 0;
  readonly #seam = Buffer.alloc(2 * WINDOW);
  readonly #seen = new Set<number>();
  /** The end of the last DER key found: what lies before it is inside that key. */
  #derEnd = 0;

  feed(piece: Buffer, offset: number): void {
    // A gap between pieces reads as zeros (a hole): nothing spans it. Across a seam, the last
    // bytes of the piece before and the first of this one are searched together, for what starts
    // before the seam.
    const contiguous = this.#tailLength > 0 && this.#tailAt + this.#tailLength === offset;
    let seam = 0;
    if (contiguous) {
      this.#tail.copy(this.#seam, 0, 0, this.#tailLength);
      seam = this.#tailLength + piece.copy(this.#seam, this.#tailLength, 0, WINDOW);
      this.#search(this.#seam.subarray(0, seam), this.#tailAt, this.#tailLength);
    }
    this.#search(piece, offset, piece.length);
    // The new tail: the piece's last bytes, or (a short piece) the seam's, which end with it.
    const [from, end] = contiguous && piece.length < WINDOW ? [this.#seam, seam] : [piece, piece.length];
    this.#tailLength = Math.min(WINDOW, end);
    from.copy(this.#tail, 0, end - this.#tailLength, end);
    this.#tailAt = offset + piece.length - this.#tailLength;
  }

  /** What starts in buf before `limit`; buf[0] is at offset `at` of the whole. */
  #search(buf: Buffer, at: number, limit: number): void {
    for (let i = buf.indexOf(PEM_ANCHOR, 4); i >= 0 && i - 4 < limit; i = buf.indexOf(PEM_ANCHOR, i + 1)) {
      if (this.#seen.has(at + i - 4)) continue;
      const m = PEM.exec(buf.toString('latin1', i - 4, Math.min(buf.length, i - 4 + WINDOW)));
      if (!m) continue;
      const der = Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64');
      if (m[1] === 'CERTIFICATE') this.#cert(der, at + i - 4);
      else this.#key(at + i - 4, 'pem', PEM_FORMAT[m[1]!]!, der);
    }
    const found: { start: number; len: number; type: 'pkcs1' | 'sec1' | 'pkcs8' }[] = [];
    // One search for both versions (a two-byte anchor costs no more than a longer one).
    for (let i = buf.indexOf(VERSION); i >= 0 && i - 4 < limit; i = buf.indexOf(VERSION, i + 1)) {
      const version = buf[i + 2];
      if (version !== 0 && version !== 1) continue;
      // What follows may lie past this buffer's end (the seam search gets it whole).
      const a = AFTER.find((x) => x.version === version && i + 3 + x.next.length <= buf.length && buf.compare(x.next, 0, x.next.length, i + 3, i + 3 + x.next.length) === 0);
      if (!a) continue;
      for (const head of [2, 3, 4]) {
        const len = sequenceLength(buf, i - head);
        if (len && i - head < limit) found.push({ start: i - head, len, type: a.type });
      }
    }
    // Outermost first: a PKCS#8 key wraps a PKCS#1 or SEC1 one, which is the same key.
    for (const f of found.sort((x, y) => x.start - y.start || y.len - x.len)) {
      if (at + f.start < this.#derEnd || this.#seen.has(at + f.start)) continue;
      if (this.#key(at + f.start, 'der', f.type, buf.subarray(f.start, f.start + f.len))) this.#derEnd = at + f.start + f.len;
    }
  }

  #key(offset: number, encoding: 'pem' | 'der', format: KeyFormat, der: Buffer): boolean {
    let key: KeyObject | null = null;
    if (format === 'pkcs1' || format === 'sec1' || format === 'pkcs8') {
      try {
        key = createPrivateKey({ key: der, format: 'der', type: format });
      } catch {
        if (encoding === 'der') return false; // not a key after all
      }
    }
    this.#seen.add(offset);
    this.keys.push({ offset, encoding, format, key });
    return true;
  }

  #cert(der: Buffer, offset: number): void {
    try {
      this.certs.push({ offset, cert: new X509Certificate(der) });
      this.#seen.add(offset);
    } catch {
      // Not a certificate: nothing to learn from it.
    }
  }
}
