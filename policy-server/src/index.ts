export { initDataDir, openServices, startServer, type OpenOptions, type RunningServer, type Services } from './main.js';
export { runCli, type CliIo } from './cli/commands.js';
export { createAgentCsr } from './pki/forge.js';
export { ConfigSchema, parseConfig, type Config } from './config.js';
export type { Clock } from './services/clock.js';
