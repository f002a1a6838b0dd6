/**
 * AdmissionReview v1 in and out. The API server sends a review; anything else that reaches the
 * endpoint gets a 400 naming what is wrong, and nothing about it is ever fatal to the process.
 *
 * @module
 */
import { explain, isProblem, SKIP_REASONS } from './decide.ts';
import type { InjectOptions } from './inject.ts';
import { injectPod } from './inject.ts';
import { isRecord } from './pod.ts';

const API_VERSION = 'admission.k8s.io/v1';

/** The fields of an AdmissionReview request the injector uses. */
export interface AdmissionRequest {
  uid: string;
  operation: string;
  namespace: string;
  /** True for pods (core group, no subresource); other resources pass unchanged. */
  isPod: boolean;
  object: unknown;
  dryRun: boolean;
}

export interface AdmissionResponseBody {
  apiVersion: typeof API_VERSION;
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    patchType?: 'JSONPatch';
    patch?: string;
    warnings?: string[];
    status?: { code: number; message: string };
  };
}

/** A review the injector cannot answer: the HTTP reply is 400 with this message. */
export class InvalidReviewError extends Error {
  override name = 'InvalidReviewError';
}

/**
 * Validates a decoded request body as an AdmissionReview v1 request.
 *
 * @throws InvalidReviewError naming the first field that is wrong.
 */
export function parseReview(body: unknown): AdmissionRequest {
  if (!isRecord(body)) throw new InvalidReviewError('the body must be a JSON object (an AdmissionReview)');
  if (body.apiVersion !== API_VERSION) {
    throw new InvalidReviewError(`apiVersion must be ${API_VERSION}, not ${JSON.stringify(body.apiVersion)}`);
  }
  if (body.kind !== 'AdmissionReview') {
    throw new InvalidReviewError(`kind must be AdmissionReview, not ${JSON.stringify(body.kind)}`);
  }
  const r = body.request;
  if (!isRecord(r)) throw new InvalidReviewError('request must be an object');
  if (typeof r.uid !== 'string' || r.uid === '')
    throw new InvalidReviewError('request.uid must be a non-empty string');
  if (typeof r.operation !== 'string') throw new InvalidReviewError('request.operation must be a string');
  if (r.namespace !== undefined && typeof r.namespace !== 'string') {
    throw new InvalidReviewError('request.namespace must be a string');
  }
  const resource = r.resource;
  if (!isRecord(resource)) throw new InvalidReviewError('request.resource must be an object');
  const isPod = (resource.group ?? '') === '' && resource.resource === 'pods' && (r.subResource ?? '') === '';
  if (isPod && r.operation === 'CREATE' && !isRecord(r.object)) {
    throw new InvalidReviewError('request.object must be the pod being created');
  }
  return {
    uid: r.uid,
    operation: r.operation,
    namespace: (r.namespace as string | undefined) ?? '',
    isPod,
    object: r.object,
    dryRun: r.dryRun === true,
  };
}

function reply(uid: string, rest: Omit<AdmissionResponseBody['response'], 'uid'>): AdmissionResponseBody {
  return { apiVersion: API_VERSION, kind: 'AdmissionReview', response: { uid, ...rest } };
}

/** The outcome of one review, for the response and for logs and metrics. */
export interface ReviewOutcome {
  body: AdmissionResponseBody;
  /** "injected", a skip reason, "not_a_pod_create" or "error". */
  result: string;
  message: string;
}

/**
 * Answers a parsed review. Only pod creation is mutated; everything else is allowed unchanged. A
 * failure to learn the namespace's labels denies the pod, because admitting it without the proxy it
 * may have asked for would silently leave an MCP server outside the mesh.
 */
export async function review(
  request: AdmissionRequest,
  namespaceLabels: (namespace: string) => Promise<Record<string, string>>,
  sidecar: InjectOptions['sidecar'],
): Promise<ReviewOutcome> {
  if (!request.isPod || request.operation !== 'CREATE') {
    return {
      body: reply(request.uid, { allowed: true }),
      result: 'not_a_pod_create',
      message: 'allowed unchanged',
    };
  }
  let labels: Record<string, string>;
  try {
    labels = await namespaceLabels(request.namespace);
  } catch (err) {
    const message = `tessera injector: cannot read namespace "${request.namespace}": ${(err as Error).message}`;
    return {
      body: reply(request.uid, { allowed: false, status: { code: 500, message } }),
      result: 'error',
      message,
    };
  }
  const { decision, patch } = injectPod(request.object, { namespaceLabels: labels, sidecar });
  const message = explain(decision);
  if (!decision.inject) {
    // One warning per problem: the API server truncates long warnings, and kubectl prints each.
    const warnings = decision.reasons
      .filter(isProblem)
      .map((r) => `tessera proxy not injected: ${r}: ${SKIP_REASONS[r]}`);
    return {
      body: reply(request.uid, { allowed: true, ...(warnings.length > 0 ? { warnings } : {}) }),
      result: decision.reasons[0]!,
      message,
    };
  }
  return {
    body: reply(request.uid, {
      allowed: true,
      patchType: 'JSONPatch',
      patch: Buffer.from(JSON.stringify(patch)).toString('base64'),
    }),
    result: 'injected',
    message,
  };
}
