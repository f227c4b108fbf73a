// The only file that imports winston: JSON-lines logs with size-based rotation.
import winston from 'winston';

export type LogFields = Record<string, string | number | boolean | null | undefined>;

/** What the rest of the server logs through. Never pass keys, passphrases, tokens or file contents. */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  close(): Promise<void>;
}

export interface LoggerOptions {
  readonly level: string;
  readonly directory: string;
  readonly maxSizeBytes: number;
  readonly maxFiles: number;
  readonly console: boolean;
}

export function createLogger(options: LoggerOptions): Logger {
  const transports: winston.transport[] = [
    new winston.transports.File({
      dirname: options.directory,
      filename: 'server.log',
      maxsize: options.maxSizeBytes,
      maxFiles: options.maxFiles,
      tailable: true,
    }),
  ];
  if (options.console) transports.push(new winston.transports.Console());
  const logger = winston.createLogger({
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    transports,
  });
  return {
    error: (message, fields) => logger.error(message, fields),
    warn: (message, fields) => logger.warn(message, fields),
    info: (message, fields) => logger.info(message, fields),
    debug: (message, fields) => logger.debug(message, fields),
    close: () =>
      new Promise<void>((resolve) => {
        logger.on('finish', () => resolve());
        logger.end();
      }),
  };
}
