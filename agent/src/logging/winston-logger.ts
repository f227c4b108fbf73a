import { join } from 'node:path';
import winston from 'winston';
import type { LogFields, Logger } from './logger.js';

/** The only file that uses winston: JSON lines, rotated by size, optionally mirrored to stdout. */
export interface WinstonLoggerOptions {
  readonly dir: string;
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  readonly console: boolean;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
}

export interface ClosableLogger extends Logger {
  close(): Promise<void>;
}

export function createWinstonLogger(options: WinstonLoggerOptions): ClosableLogger {
  const transports: winston.transport[] = [
    new winston.transports.File({ filename: join(options.dir, 'agent.log'), maxsize: options.maxFileBytes, maxFiles: options.maxFiles, tailable: true }),
  ];
  if (options.console) transports.push(new winston.transports.Console());
  const logger = winston.createLogger({
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports,
  });
  // Fields go under their own key so a field named "message" or "level" cannot overwrite the line's own.
  const write = (level: string, message: string, fields?: LogFields) => logger.log(level, message, fields ? { fields } : {});
  return {
    error: (message, fields) => write('error', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    info: (message, fields) => write('info', message, fields),
    debug: (message, fields) => write('debug', message, fields),
    close: () =>
      new Promise((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      }),
  };
}
