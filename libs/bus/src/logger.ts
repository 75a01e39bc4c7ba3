/**
 * The logging the bus needs: pino's call shape (`logger.warn({ ...fields }, 'message')`), so a pino
 * logger or a child of one is passed in as is.
 */
export interface BusLogger {
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
}

export const silentLogger: BusLogger = { info() {}, warn() {}, error() {} };
