/**
 * The few log calls the core makes. A pino logger fits this shape, and so does `console`;
 * the default writes to stderr so CLIs keep stdout for the lines tests and scripts parse.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export const stderrLogger: Logger = {
  info: (m) => process.stderr.write(`porthole: ${m}\n`),
  warn: (m) => process.stderr.write(`porthole: warning: ${m}\n`),
  error: (m) => process.stderr.write(`porthole: error: ${m}\n`),
};

export const silentLogger: Logger = { info: () => {}, warn: () => {}, error: () => {} };
