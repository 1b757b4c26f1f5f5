import { catalogue, exitCodes, type ArgsOf, type Category, type Code } from './catalogue.ts';

/** An expected failure: printed as title, message, details and hint, without a stack. */
export class ImgforgeError extends Error {
  readonly code: Code;
  readonly category: Category;
  readonly title: string;
  readonly hint: string | undefined;
  /** Further lines, e.g. one per invalid field. */
  readonly details: readonly string[];
  /** Lines shown only with --debug, e.g. the full tool command. */
  readonly debugDetails: readonly string[];
  /** Structured facts for --json output, e.g. the findings that stopped a build. */
  data: Readonly<Record<string, unknown>> | undefined;

  constructor(code: Code, message: string, hint: string | undefined, details: readonly string[], cause?: unknown, debugDetails: readonly string[] = []) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ImgforgeError';
    this.code = code;
    const e = catalogue[code];
    this.category = e.category;
    this.title = e.title;
    this.hint = hint;
    this.details = details;
    this.debugDetails = debugDetails;
  }

  get exitCode(): number {
    return exitCodes[this.category];
  }
}

export interface ErrorOptions {
  readonly details?: readonly string[];
  readonly debugDetails?: readonly string[];
  readonly cause?: unknown;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** Build a catalogued error; the only way library code creates one. */
export function imgforgeError<K extends Code>(code: K, args: ArgsOf<K>, options: ErrorOptions = {}): ImgforgeError {
  const e = catalogue[code] as unknown as { message: (a: ArgsOf<K>) => string; hint?: (a: ArgsOf<K>) => string };
  const err = new ImgforgeError(code, e.message(args), e.hint?.(args), options.details ?? [], options.cause, options.debugDetails ?? []);
  err.data = options.data;
  return err;
}

export const isImgforgeError = (e: unknown): e is ImgforgeError => e instanceof ImgforgeError;
