/**
 * What the kernel says is in use, parsed from proc(5) text: mount points from
 * /proc/self/mountinfo and swap areas from /proc/swaps. Pure: the caller reads the files.
 */

export interface Mount {
  /** "major:minor" of the mounted device; btrfs, ZFS and overlays show an anonymous 0:NN. */
  readonly majMin: string;
  readonly mountpoint: string;
  readonly fstype: string;
  /** The mount source as given to mount(8), e.g. /dev/sdb2: the way to match the anonymous ones. */
  readonly source: string;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo octal (proc(5), show_mountinfo). */
const unescape = (field: string): string => field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/**
 * proc(5) /proc/pid/mountinfo: "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw";
 * field 3 is major:minor, field 5 the mount point, and after the "-" separator come the file
 * system type and the source. Optional fields before the separator vary in number.
 */
export function parseMountinfo(text: string): Mount[] {
  const out: Mount[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(' ');
    const dash = fields.indexOf('-', 6);
    if (fields.length < 10 || dash < 0) continue;
    out.push({ majMin: fields[2]!, mountpoint: unescape(fields[4]!), fstype: fields[dash + 1]!, source: unescape(fields[dash + 2]!) });
  }
  return out;
}

/** proc(5) /proc/swaps: a header line, then "Filename Type Size Used Priority" per swap area. */
export function parseSwaps(text: string): string[] {
  return text.split('\n').slice(1).map((l) => unescape(l.trim().split(/\s+/)[0] ?? '')).filter((f) => f !== '');
}
