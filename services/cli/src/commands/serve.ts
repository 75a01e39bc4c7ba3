import { launch } from '@dmarc/service-runtime';
import { SERVICES } from '../service-registry';
import type { CommandIO } from '../command-io';

export async function serve(args: string[], io: CommandIO): Promise<number> {
  const name = args[0];
  const entry = name === undefined ? undefined : SERVICES[name];
  if (entry === undefined) {
    io.err(`dmarc serve: unknown service ${JSON.stringify(name ?? '')}; one of: ${Object.keys(SERVICES).join(', ')}`);
    return 64;
  }
  if ('pending' in entry) {
    io.err(`dmarc serve: service "${name}" is not built yet; it arrives with ${entry.pending}`);
    return 69;
  }
  const result = await launch(entry, io.env, { handleSignals: true });
  if (!result.ok) {
    io.err(result.message);
    return result.exitCode;
  }
  // The service runs until SIGTERM; its signal handler exits the process.
  return new Promise<number>(() => undefined);
}
