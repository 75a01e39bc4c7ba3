import { describeError } from './errors';

export type ReadinessCheck = () => Promise<void> | void;

export interface ReadinessReport {
  ready: boolean;
  checks: Record<string, { ok: boolean; error?: string }>;
}

/**
 * Named dependency checks behind /readyz. Each check runs live with a deadline, so readiness turns
 * false while Kafka, Redis or PostgreSQL is unreachable and true again by itself.
 */
export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();
  private started = false;

  constructor(private readonly timeoutMs = 1500) {}

  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  markStarted(): void {
    this.started = true;
  }

  async report(): Promise<ReadinessReport> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await this.run(check)] as const),
    );
    const checks = Object.fromEntries(entries);
    if (!this.started) checks.startup = { ok: false, error: 'service is starting' };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  private async run(check: ReadinessCheck): Promise<{ ok: boolean; error?: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(check),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
      return { ok: true };
    } catch (err) {
      return { ok: false, error: describeError(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}
