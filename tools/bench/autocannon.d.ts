/**
 * The small part of autocannon's API the bench's load runner uses (the package ships no types).
 */
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface AutocannonOptions {
    url: string;
    method?: 'GET' | 'POST';
    headers?: Record<string, string>;
    body?: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    overallRate?: number;
    /** Requests cycled through; `setupRequest` may rewrite each one before it is sent. */
    requests?: Array<AutocannonRequest>;
    /** Seconds before a request counts as a timeout. */
    timeout?: number;
  }

  export interface AutocannonRequest {
    method?: 'GET' | 'POST';
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (request: AutocannonRequest) => AutocannonRequest;
  }

  export interface AutocannonResult {
    /** Seconds. */
    duration: number;
    requests: { total: number; sent: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  }

  export interface AutocannonInstance extends EventEmitter {
    on(event: 'response', listener: (client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => void): this;
    on(event: 'done', listener: (result: AutocannonResult) => void): this;
    stop(): void;
  }

  function autocannon(options: AutocannonOptions, callback: (err: Error | null, result: AutocannonResult) => void): AutocannonInstance;
  export default autocannon;
}
