import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeGuid, deriveGuid, encodeGuid, normalizeGuid } from '../../../src/image/guid.ts';

const ESP = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';

test('encodeGuid stores the first three fields little-endian (UEFI Appendix A)', () => {
  assert.equal(encodeGuid(ESP).toString('hex'), '28732ac11ff8d211ba4b00a0c93ec93b');
  // BIOS boot's GUID is ASCII "Hah!IdontNeedEFI" once stored, a well-known check of the byte order.
  assert.equal(encodeGuid('21686148-6449-6E6F-744E-656564454649').toString('latin1'), 'Hah!IdontNeedEFI');
});

test('decodeGuid reverses encodeGuid and gives upper-case text', () => {
  assert.equal(decodeGuid(Buffer.from('28732ac11ff8d211ba4b00a0c93ec93b', 'hex')), ESP);
  assert.equal(decodeGuid(encodeGuid(ESP.toLowerCase())), ESP);
  assert.equal(normalizeGuid('0fc63daf-8483-4772-8e79-3d69d8477de4'), '0FC63DAF-8483-4772-8E79-3D69D8477DE4');
});

test('malformed GUIDs are rejected', () => {
  for (const bad of ['', 'C12A7328F81F11D2BA4B00A0C93EC93B', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93', '{C12A7328-F81F-11D2-BA4B-00A0C93EC93B}', 'G12A7328-F81F-11D2-BA4B-00A0C93EC93B']) {
    assert.throws(() => encodeGuid(bad), /is not a GUID/, bad);
  }
  assert.throws(() => decodeGuid(Buffer.alloc(15)), /needs 16 bytes/);
});

test('deriveGuid is SHA-256 of the NUL-joined parts shaped as a version-8 UUID', () => {
  // printf 'homelab\0cp1\0disk' | sha256sum → 880ab163a8f81e0b03371d63a2c8d385…; byte 6 0x1e → 0x8e, byte 8 0x03 → 0x83.
  assert.equal(deriveGuid('homelab', 'cp1', 'disk'), '880AB163-A8F8-8E0B-8337-1D63A2C8D385');
});

test('deriveGuid is stable and distinct per input', () => {
  assert.equal(deriveGuid('homelab', 'cp1', 'root'), deriveGuid('homelab', 'cp1', 'root'));
  const all = [
    deriveGuid('homelab', 'cp1', 'root'), deriveGuid('homelab', 'cp2', 'root'), deriveGuid('homelab', 'cp1', 'esp'),
    deriveGuid('a', 'bc'), deriveGuid('ab', 'c'), deriveGuid('abc'),
  ];
  assert.equal(new Set(all).size, all.length);
  for (const g of all) {
    assert.equal(g, normalizeGuid(g));
    assert.equal(g[14], '8', `${g}: version nibble`);
    assert.match(g[19]!, /[89AB]/, `${g}: RFC 9562 variant`);
  }
});

test('deriveGuid refuses no parts and parts containing NUL', () => {
  assert.throws(() => deriveGuid(), /at least one part/);
  assert.throws(() => deriveGuid('a\0b'), /NUL/);
});
