/** The errors of the commands that act on drives and machines: flash and the lab. Part of the catalogue (catalogue.ts). */
import { entry } from './entry.ts';

export const machineEntries = {
  FlashBadTarget: entry<{ target: string; detail: string }>({
    category: 'input',
    title: 'Not a flash target',
    message: (a) => `${a.target}: ${a.detail}.`,
    hint: () => 'Name a whole drive (/dev/sdb, /dev/nvme1n1, /dev/disk/by-id/...) or a regular file; `lsblk -o NAME,SIZE,MODEL,SERIAL` lists the drives.',
  }),
  FlashRefused: entry<{ target: string; count: number }>({
    category: 'input',
    title: 'Refusing to flash',
    message: (a) => `Nothing was written to ${a.target}: ${a.count === 1 ? 'one problem' : `${a.count} problems`}:`,
    hint: () => '`imgforge flash <image> <drive> --json` prints everything imgforge found on the drive.',
  }),
  FlashForbidden: entry<{ target: string; count: number }>({
    category: 'unsupported',
    title: 'This drive is never flashed',
    message: (a) => `Nothing was written to ${a.target}: ${a.count === 1 ? 'one problem' : `${a.count} problems`}:`,
    hint: () => 'No flag overrides this: flash from another machine, or boot a live system to write this drive.',
  }),
  FlashBusy: entry<{ target: string; detail: string }>({
    category: 'input',
    title: 'The drive is in use',
    message: (a) => `${a.target} cannot be opened exclusively (${a.detail}): something has it mounted or open. Nothing was written.`,
    hint: () => 'Unmount its partitions (`findmnt -S <partition>`), swapoff, stop LVM/mdraid on it, then flash again.',
  }),
  FlashNoBmap: entry<{ image: string; detail: string }>({
    category: 'input',
    title: 'The image has no usable block map',
    message: (a) => `${a.image}: ${a.detail}.`,
    hint: () => '`imgforge build` writes <image>.bmap beside each image; flash needs it to write only the mapped blocks and check them.',
  }),
  FlashImageCorrupt: entry<{ image: string; detail: string }>({
    category: 'input',
    title: 'The image does not match its block map',
    message: (a) => `${a.image}: ${a.detail}. The drive was left without a partition table (its first MiB is zeros).`,
    hint: () => 'Rebuild the image, or copy it again with its .bmap; `imgforge inspect <image>` checks both.',
  }),
  FlashVerifyFailed: entry<{ target: string; detail: string }>({
    category: 'io',
    title: 'The drive did not read back what was written',
    message: (a) => `${a.target}: ${a.detail}.`,
    hint: () => 'A failing or counterfeit medium, or a bad card reader or cable: try another; the kernel log (dmesg) may say more.',
  }),
  LabRunning: entry<{ dir: string; nodes: string }>({
    category: 'input',
    title: 'A lab is already up',
    message: (a) => `A lab is up in ${a.dir} (running: ${a.nodes}).`,
    hint: () => '`imgforge lab start <node>` boots one more of its nodes; `imgforge lab down` ends it.',
  }),
  NoLab: entry<{ dir: string }>({
    category: 'input',
    title: 'No lab',
    message: (a) => `No lab is up in ${a.dir}.`,
    hint: () => '`imgforge lab up` starts one (--dir names another lab folder).',
  }),
  LabNodeDown: entry<{ node: string; detail: string }>({
    category: 'input',
    title: 'The node is not running',
    message: (a) => `${a.node} ${a.detail}.`,
    hint: (a) => `\`imgforge lab start ${a.node}\` powers it on.`,
  }),
} as const;
