/**
 * HTML form bodies for the server-rendered identity pages: `application/x-www-form-urlencoded`
 * parsed into a flat record, limited to 16 KiB. Registered per plugin scope, so only those pages
 * accept forms.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';

/** A parsed form: the last value wins for a repeated field. */
export type Form = Record<string, string>;

export function acceptForms(app: FastifyInstance): void {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );
}
