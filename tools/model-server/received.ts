/**
 * What the reference model server was told about each inference request it received: the trace
 * context and the request id, as the adapters pass them to a real container (ECS: `traceparent`,
 * `tracestate` and `x-request-id` headers; SageMaker: the `CustomAttributes` header). Read through
 * `GET /admin/requests`, so a test can prove that both reach the container. Bounded, newest last.
 */
import type { IncomingMessage } from 'node:http';
import { REQUEST_ID_HEADER } from '../../shared/contracts/boundary';
import type { ReceivedImage } from './formats/images';
import { CUSTOM_ATTRIBUTES_HEADER, parseCustomAttributes, TRACEPARENT_HEADER, TRACESTATE_HEADER } from '../../shared/contracts/trace';

/** One received inference request. */
export interface ReceivedRequest {
  /** ISO time of arrival. */
  readonly at: string;
  readonly path: string;
  /** `headers` (an HTTP container route) or `custom-attributes` (the SageMaker runtime). */
  readonly via: 'headers' | 'custom-attributes';
  readonly traceparent?: string | undefined;
  readonly tracestate?: string | undefined;
  readonly requestId?: string | undefined;
  /** The raw `CustomAttributes`, on SageMaker routes. */
  readonly customAttributes?: string | undefined;
  /** The inline images its body carried (type and decoded size), in order. */
  readonly images?: readonly ReceivedImage[];
}

/** Requests kept. */
const MAX_RECEIVED = 1000;

const header = (req: IncomingMessage, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

export class ReceivedRequests {
  #list: ReceivedRequest[] = [];
  // Which entry each request made, until its body is parsed (then its images join the entry).
  #entries = new WeakMap<IncomingMessage, ReceivedRequest>();

  /** Records an inference request on `path`; `sagemaker`: the context is in CustomAttributes. */
  record(req: IncomingMessage, path: string, sagemaker: boolean): void {
    const at = new Date().toISOString();
    if (sagemaker) {
      const customAttributes = header(req, CUSTOM_ATTRIBUTES_HEADER);
      this.#push({ at, path, via: 'custom-attributes', ...parseCustomAttributes(customAttributes), customAttributes }, req);
    } else {
      this.#push(
        {
          at,
          path,
          via: 'headers',
          traceparent: header(req, TRACEPARENT_HEADER),
          tracestate: header(req, TRACESTATE_HEADER),
          requestId: header(req, REQUEST_ID_HEADER),
        },
        req,
      );
    }
  }

  /** Adds the images found in `req`'s body to its entry. */
  addImages(req: IncomingMessage, images: readonly ReceivedImage[]): void {
    const entry = this.#entries.get(req);
    const at = entry ? this.#list.lastIndexOf(entry) : -1;
    if (!entry || at < 0) return;
    const withImages = { ...entry, images };
    this.#list[at] = withImages;
    this.#entries.set(req, withImages);
  }

  #push(r: ReceivedRequest, req: IncomingMessage): void {
    this.#entries.set(req, r);
    this.#list.push(r);
    if (this.#list.length > MAX_RECEIVED) this.#list = this.#list.slice(-MAX_RECEIVED);
  }

  /** The received requests, oldest first; with `requestId`, only that request's. */
  list(requestId?: string): ReceivedRequest[] {
    return requestId ? this.#list.filter((r) => r.requestId === requestId) : [...this.#list];
  }

  clear(): void {
    this.#list = [];
  }
}
