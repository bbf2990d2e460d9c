// What a JavaScript fuzz target is (test/fuzz/js/targets/NAME.ts exports `target`). See
// docs/fuzzing.md, "Adding a target".

export interface JsFuzzTarget {
  /** the modules whose coverage guides the fuzzer and is reported: paths under dist/, e.g.
   * 'core/config/parse.js' (the compiled TypeScript the target exercises) */
  modules: string[];
  /** largest input the mutator makes (bytes) */
  maxLength?: number;
  /** words worth inserting (keywords, punctuation of the format) */
  dictionary?: string[];
  /** a bound for one input (ms); longer counts as a hang (default 1000) */
  timeoutMs?: number;
  /**
   * Runs one input. Returning (or resolving) means fine; throwing (or rejecting) is a finding:
   * a target catches only the errors its parser documents and lets everything else through,
   * and throws a PropertyFailure when an oracle (round trip, cross-check) does not hold.
   */
  run(data: Buffer): void | Promise<void>;
}

/** An oracle of a target did not hold (as opposed to a crash of the code under test). */
export class PropertyFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PropertyFailure';
  }
}

export function check(condition: unknown, message: string | (() => string)): asserts condition {
  if (!condition) throw new PropertyFailure(typeof message === 'string' ? message : message());
}
