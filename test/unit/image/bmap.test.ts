import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { parseBmap, renderBmap, type Bmap } from '../../../src/image/bmap.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const small: Bmap = { imageSize: 10000, blockSize: 4096, ranges: [{ first: 0, last: 0, sha256: A }, { first: 1, last: 2, sha256: B.toUpperCase() }] };

// BmapFileChecksum checked by hand: sed 's/<it>/<64 zeros>/' small.bmap | sha256sum.
const SMALL_BMAP = `<?xml version="1.0" ?>
<!-- Block map of a disk image, written by imgforge: the mapped blocks hold data and must be
     written to the target device; bmaptool copy skips the others. -->

<bmap version="2.0">
    <!-- Image size in bytes: 9.77KiB -->
    <ImageSize> 10000 </ImageSize>

    <!-- Size of a block in bytes -->
    <BlockSize> 4096 </BlockSize>

    <!-- Count of blocks in the image file -->
    <BlocksCount> 3 </BlocksCount>

    <!-- Count of mapped blocks: 12KiB or 100.0% -->
    <MappedBlocksCount> 3 </MappedBlocksCount>

    <!-- Type of checksum used in this file -->
    <ChecksumType> sha256 </ChecksumType>

    <!-- The checksum of this file, computed with this value set to 64 ASCII "0" characters -->
    <BmapFileChecksum> f2ee887edc486ff4f8d902e302804ff2946cf7e8b00e618202ef65ddfb0aa077 </BmapFileChecksum>

    <!-- Mapped block ranges, inclusive; chksum is the SHA-256 of the range's bytes -->
    <BlockMap>
        <Range chksum="${A}"> 0 </Range>
        <Range chksum="${B}"> 1-2 </Range>
    </BlockMap>
</bmap>
`;

test('renderBmap writes bmaptool format 2.0, checksums lower-cased', () => {
  assert.equal(renderBmap(small), SMALL_BMAP);
});

test('BmapFileChecksum is SHA-256 of the file with its value replaced by 64 ASCII zeros', () => {
  const text = renderBmap({ imageSize: 64 * 2 ** 20, blockSize: 4096, ranges: [{ first: 5, last: 9, sha256: A }] });
  const checksum = /<BmapFileChecksum> ([0-9a-f]{64}) </.exec(text)![1]!;
  const zeroed = text.replace(checksum, '0'.repeat(64));
  assert.equal(createHash('sha256').update(zeroed).digest('hex'), checksum);
});

test('BlocksCount rounds up and MappedBlocksCount sums the ranges', () => {
  const parsed = parseBmap(renderBmap({ imageSize: 64 * 2 ** 20 + 1, blockSize: 4096, ranges: [{ first: 0, last: 1, sha256: A }, { first: 100, last: 100, sha256: B }, { first: 16384, last: 16384, sha256: A }] }));
  assert.equal(parsed.blocksCount, 16385);
  assert.equal(parsed.mappedBlocksCount, 4);
});

test('parseBmap reads renderBmap back and verifies the file checksum', () => {
  assert.deepEqual(parseBmap(SMALL_BMAP), {
    version: '2.0', imageSize: 10000, blockSize: 4096, blocksCount: 3, mappedBlocksCount: 3, checksumType: 'sha256',
    bmapFileChecksum: 'f2ee887edc486ff4f8d902e302804ff2946cf7e8b00e618202ef65ddfb0aa077', bmapFileChecksumValid: true,
    ranges: [{ first: 0, last: 0, sha256: A }, { first: 1, last: 2, sha256: B }],
  });
  assert.equal(parseBmap(SMALL_BMAP.replace('1-2', '1-1')).bmapFileChecksumValid, false);
  assert.throws(() => parseBmap('<xml/>'), /not a bmap file/);
  assert.throws(() => parseBmap(SMALL_BMAP.replace(/<BlockSize>.*<\/BlockSize>/, '')), /no <BlockSize> element/);
});

test('renderBmap rejects unordered, overlapping or out-of-range ranges and bad checksums', () => {
  const render = (ranges: Bmap['ranges'], imageSize = 10000) => () => renderBmap({ imageSize, blockSize: 4096, ranges });
  assert.throws(render([{ first: 1, last: 2, sha256: A }, { first: 0, last: 0, sha256: A }]), /bmap range 0-0 is out of order or overlaps/);
  assert.throws(render([{ first: 0, last: 1, sha256: A }, { first: 1, last: 2, sha256: A }]), /bmap range 1-2 is out of order or overlaps/);
  assert.throws(render([{ first: 2, last: 3, sha256: A }]), /bmap range 2-3 goes past the image's last block 2/);
  assert.throws(render([{ first: 2, last: 1, sha256: A }]), /first <= last/);
  assert.throws(render([{ first: 0, last: 0, sha256: 'abc' }]), /"abc" is not a SHA-256 hex digest/);
  assert.throws(render([], 0), /image size 0 must be a positive whole number/);
});
