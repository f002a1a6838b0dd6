/**
 * The webhook's HTTPS listener: `/mutate` decodes the AdmissionReview and encodes the answer,
 * `/healthz` and `/readyz` report on the process. All logic lives in `admission.ts`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AdmissionRequest, ReviewOutcome } from './admission.ts';
import { InvalidReviewError, parseReview } from './admission.ts';

export interface WebhookServerOptions {
  key: string;
  cert: string;
  /** Answers a valid review. */
  review: (request: AdmissionRequest) => Promise<ReviewOutcome>;
  /** False until the serving certificate is trusted by the webhook configuration. */
  ready: () => boolean;
  /** Called once per answered review, for logs. */
  onReview?: (request: AdmissionRequest, outcome: ReviewOutcome) => void;
  /** Reviews above this size are refused (default 8 MiB; pods are limited to about 1.5 MiB). */
  maxBodyBytes?: number;
}

export interface WebhookServer {
  server: Server;
  /** Swaps the serving certificate for new connections (rotation, cert-manager renewals). */
  setCertificate(key: string, cert: string): void;
}

class BodyTooLargeError extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      // Discard the rest rather than reset the socket, so the client reads the 413.
      req.off('data', onData);
      req.resume();
      reject(new BodyTooLargeError(`the body is larger than ${limit} bytes`));
    };
    req.on('data', onData);
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function mutate(
  req: IncomingMessage,
  res: ServerResponse,
  options: WebhookServerOptions,
): Promise<void> {
  if (req.method !== 'POST') return send(res, 405, { error: 'use POST with an AdmissionReview' });
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json')) {
    return send(res, 415, { error: `content-type must be application/json, not "${type}"` });
  }
  let request: AdmissionRequest;
  try {
    const raw = await readBody(req, options.maxBodyBytes ?? 8 * 1024 * 1024);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new InvalidReviewError('the body is not valid JSON');
    }
    request = parseReview(body);
  } catch (err) {
    if (err instanceof BodyTooLargeError) {
      res.setHeader('connection', 'close');
      return send(res, 413, { error: err.message });
    }
    if (err instanceof InvalidReviewError)
      return send(res, 400, { error: `invalid AdmissionReview: ${err.message}` });
    throw err;
  }
  const outcome = await options.review(request);
  options.onReview?.(request, outcome);
  send(res, 200, outcome.body);
}

/**
 * Creates (does not start) the HTTPS server.
 *
 * @example
 * const { server } = createWebhookServer({ key, cert, review, ready: () => true });
 * server.listen(9443);
 */
export function createWebhookServer(options: WebhookServerOptions): WebhookServer {
  const server = createServer({ key: options.key, cert: options.cert }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handled =
      path === '/mutate'
        ? mutate(req, res, options)
        : Promise.resolve(
            path === '/healthz'
              ? send(res, 200, { status: 'ok' })
              : path === '/readyz'
                ? send(res, options.ready() ? 200 : 503, { ready: options.ready() })
                : send(res, 404, { error: `no route for ${path}` }),
          );
    handled.catch((err: unknown) => {
      // A bug must cost one request, never the process: the API server retries or applies failurePolicy.
      if (!res.headersSent) send(res, 500, { error: `internal error: ${(err as Error).message}` });
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return {
    server,
    setCertificate: (key, cert) => server.setSecureContext({ key, cert }),
  };
}
