/** What a catalogue entry is, shared by the catalogue's files (catalogue.ts imports the others). */

/** What kind of failure it is; decides the exit code. */
export type Category =
  | 'findings' // the cluster described has errors (imgforge check)
  | 'input' // the config, a profile or a flag is wrong
  | 'unsupported' // asked for something imgforge cannot do
  | 'environment' // the host lacks something (Node version, a tool)
  | 'dependency' // an external tool ran and failed
  | 'io' // reading or writing a file failed
  | 'assembly' // an image could not be put together
  | 'bug'; // imgforge itself is wrong

/** Stable exit codes, after Talos's table (pkg/machinery/constants: 2 invalid input, 3 unsupported …). */
export const exitCodes: Readonly<Record<Category, number>> = {
  findings: 1,
  input: 2,
  unsupported: 3,
  environment: 4,
  dependency: 5,
  io: 6,
  assembly: 7,
  bug: 70, // sysexits.h EX_SOFTWARE
};

export interface Entry<A> {
  readonly category: Category;
  readonly title: string;
  readonly message: (args: A) => string;
  readonly hint?: (args: A) => string;
}

/** Types an entry's arguments where it is written. */
export const entry = <A>(e: Entry<A>): Entry<A> => e;
