import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

/**
 * JSON logs on stdout, one object a line, for collectors; readable lines where a person watches a terminal
 * (`readable`, see wantsReadableLogs). LOG_LEVEL sets the level (tests and benchmarks pass `silent`).
 */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', readable = false): Logger {
  const settings = { level, base: { service: 'vervolgzorg-gateway' }, timestamp: pino.stdTimeFunctions.isoTime };
  return readable ? pino(settings, pretty({ sync: true, ignore: 'service,pid,hostname', translateTime: 'SYS:HH:MM:ss.l' })) : pino(settings);
}

/** Development mode at a terminal logs readable lines; production, pipes and files get JSON. LOG_FORMAT=pretty|json overrides. */
export function wantsReadableLogs(mode: 'production' | 'development', env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.LOG_FORMAT) return env.LOG_FORMAT === 'pretty';
  return mode === 'development' && process.stdout.isTTY === true;
}
