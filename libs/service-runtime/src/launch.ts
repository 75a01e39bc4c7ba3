import { commonServiceConfig, defineConfig, loadConfig, string, url, redactConfig, ConfigError, type ConfigOf, type ConfigSpec, type Env } from '@dmarc/config';
import { runService, type RunOptions, type RunningService, type ServiceDefinition } from './runtime';

/** What a service package exports: its name, the environment it reads, and how to build it. */
export interface ServiceModule<S extends ConfigSpec = ConfigSpec> {
  readonly name: string;
  readonly config: S;
  create(config: ConfigOf<S>): ServiceDefinition;
}

/** What every service reads, on top of its own settings. */
export const serviceBaseConfig = defineConfig({
  ...commonServiceConfig,
  HOST: string({ default: '127.0.0.1', description: 'address the HTTP server binds (0.0.0.0 in containers)' }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: url({
    protocols: ['http:', 'https:'],
    optional: true,
    description: 'OTLP/HTTP traces endpoint (e.g. http://otel-collector:4318/v1/traces); unset: spans are not exported, trace context still flows',
  }),
});
type BaseConfig = ConfigOf<typeof serviceBaseConfig>;

/** Declares a service module; the spec always includes the settings every service shares. */
export function defineService<S extends ConfigSpec>(module: {
  name: string;
  config: S;
  create(config: ConfigOf<typeof serviceBaseConfig & S>): ServiceDefinition;
}): ServiceModule<typeof serviceBaseConfig & S> {
  return { ...module, config: { ...serviceBaseConfig, ...module.config } };
}

export type LaunchResult = { ok: true; service: RunningService } | { ok: false; exitCode: number; message: string };

/**
 * Starts a service module from an environment: configuration checked once, up front, so a wrong or
 * missing variable stops the process with one line naming it, before anything connects.
 */
export async function launch(
  module: ServiceModule,
  env: Env,
  overrides: Partial<RunOptions> = {},
): Promise<LaunchResult> {
  let config: BaseConfig;
  try {
    config = loadConfig(module.config, env) as unknown as BaseConfig;
  } catch (err) {
    if (err instanceof ConfigError) {
      // EX_CONFIG (sysexits.h): the environment is wrong; restarting will not help.
      return { ok: false, exitCode: 78, message: `${module.name}: configuration: ${err.message}` };
    }
    throw err;
  }
  const definition = module.create(config as never);
  const name = config.SERVICE_NAME ?? module.name;
  const service = await runService(
    { ...definition, name },
    { port: config.PORT, logLevel: config.LOG_LEVEL, host: config.HOST, otlpTracesUrl: config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, ...overrides },
  );
  service.context.logger.info({ config: redactConfig(module.config, config as never) }, 'configuration');
  return { ok: true, service };
}
