// The only file that imports fastify and its plugins: the HTTPS server, its validation, error mapping and
// OpenAPI document. Routes are registered by the functions passed in.
import type { TLSSocket } from 'node:tls';
import fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { isExitSealError } from '@exitseal/core';
import { ServerError } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface HttpServerOptions {
  readonly tls: { readonly keyPem: string; readonly certificatePem: string; readonly caCertificatePem: string };
  readonly bodyLimitBytes: number;
  readonly logger: Logger;
}

export type RouteRegistrar = (app: FastifyInstance) => void;

/** Fastify's own errors that are the client's fault, with our stable codes. */
const CLIENT_ERROR_CODES: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE', message: 'the request body is larger than the server accepts' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: 'send JSON with content-type application/json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'MALFORMED_JSON', message: 'the JSON body is empty' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON', message: 'the body is not valid JSON' },
};

export async function createHttpServer(options: HttpServerOptions, registrars: readonly RouteRegistrar[]): Promise<FastifyInstance> {
  const app = fastify({
    https: {
      key: options.tls.keyPem,
      cert: options.tls.certificatePem,
      ca: options.tls.caCertificatePem,
      // Agents present a client certificate from our CA; browsers do not. Which routes need one is
      // decided per route, so the handshake asks for it but does not insist.
      requestCert: true,
      rejectUnauthorized: false,
      minVersion: 'TLSv1.2',
    },
    bodyLimit: options.bodyLimitBytes,
    logger: false,
    trustProxy: false,
    // Wrong types are refused, never coerced; unknown properties are refused by the schemas, not stripped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true, useDefaults: true } },
    return503OnClosing: true,
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'ExitSeal policy server', version: '0.1.0', description: 'Agents call /agent/v1 with mutual TLS; people call /api/v1 with a session cookie and an x-csrf-token header.' },
    },
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ServerError) {
      if (error.status >= 500) options.logger.error('request failed', { url: request.url, code: error.code, error: error.message });
      return reply.code(error.status).send({ code: error.code, message: error.message, ...(error.problems ? { problems: error.problems } : {}) });
    }
    if (error.validation) {
      const problems = error.validation.map((v) => ({ path: `${error.validationContext ?? 'body'}${v.instancePath}`, message: v.message ?? 'invalid' }));
      return reply.code(400).send({ code: 'VALIDATION_FAILED', message: `the request is invalid: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, problems });
    }
    const known = CLIENT_ERROR_CODES[error.code];
    if (known) return reply.code(known.status).send({ code: known.code, message: known.message });
    if (isExitSealError(error) && error.kind === 'client') return reply.code(400).send({ code: error.code, message: error.message });
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ code: error.code || 'BAD_REQUEST', message: error.message });
    }
    options.logger.error('unexpected fault', { url: request.url, method: request.method, error: error.message, stack: error.stack });
    return reply.code(500).send({ code: 'INTERNAL', message: 'the server failed; the fault is logged' });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0] ?? ''}` }));

  // A connection keeps the client certificate of its handshake: the authenticator reads it once per connection.
  app.server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());

  for (const register of registrars) register(app);
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  await app.ready();
  return app;
}

export async function listen(app: FastifyInstance, host: string, port: number): Promise<{ url: string; port: number }> {
  await app.listen({ host, port });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address !== null ? address.port : port;
  return { url: `https://${host.includes(':') ? `[${host}]` : host}:${boundPort}`, port: boundPort };
}
