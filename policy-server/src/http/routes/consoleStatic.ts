// The only file that imports @fastify/static: serves the built admin console (policy-server/web/dist).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import fastifyStatic, { type SetHeadersResponse } from '@fastify/static';

/** Built by `npm run build` (vite); from dist/src/http/routes back to the package root. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../../web/dist/', import.meta.url));

/**
 * Scripts, styles and data only from this origin, no inline script or style, no framing, no plugins.
 * React and uPlot set styles through the CSSOM, which style-src does not restrict.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

function securityHeaders(res: SetHeadersResponse, path: string): void {
  res.setHeader('content-security-policy', CONSOLE_CSP);
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('strict-transport-security', 'max-age=31536000');
  // Vite puts a content hash in every asset name, so they never change; index.html must always be fetched.
  res.setHeader('cache-control', /[/\\]assets[/\\]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
}

/** The console at /console/ ("/" redirects there). Without a build, /console/ says how to build it. */
export function consoleStatic(directory: string = DEFAULT_CONSOLE_DIR) {
  return (app: FastifyInstance): void => {
    app.get('/', { schema: { hide: true } }, (_request, reply) => reply.redirect('/console/'));
    if (!existsSync(`${directory}/index.html`)) {
      app.get('/console/', { schema: { hide: true } }, (_request, reply) =>
        reply.code(503).send({ code: 'CONSOLE_NOT_BUILT', message: 'the admin console is not built: run "npm run build" in the repository' }),
      );
      return;
    }
    void app.register(fastifyStatic, { root: directory, prefix: '/console/', index: ['index.html'], setHeaders: securityHeaders, schemaHide: true });
  };
}
