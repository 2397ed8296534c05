/**
 * Fault knobs of the bridge, so store outages can be rehearsed without killing processes:
 * `latencyMs` is added to every Redis request (a far or stalled primary: the command still runs,
 * late), `fault: "unavailable"` answers 503 (Upstash down behind its front door), `fault: "reset"`
 * drops the connection (a dead host). Read and changed at `GET`/`PUT /admin/config`.
 */

/** The injectable faults; `null` is none. */
export const BRIDGE_FAULTS = ['unavailable', 'reset'] as const;

/** One of {@link BRIDGE_FAULTS}. */
export type BridgeFault = (typeof BRIDGE_FAULTS)[number];

/** The knobs in effect. */
export interface FaultConfig {
  /** Added to every Redis request before it runs, ms. Default 0. */
  readonly latencyMs: number;
  /** What every Redis request meets after the latency. Default null. */
  readonly fault: BridgeFault | null;
}

/** A partial update: the fields present replace the current ones. */
export type FaultConfigPatch = Partial<FaultConfig>;

/** No latency, no fault. */
export const NO_FAULTS: FaultConfig = { latencyMs: 0, fault: null };

/** Longest accepted latency: beyond every client's timeout, short enough to end a test. */
const MAX_LATENCY_MS = 600_000;

/** Raised for an invalid patch; `field` names the offending field (the admin API answers 400). */
export class FaultConfigError extends Error {
  override readonly name = 'FaultConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** Validates an untrusted patch (a `PUT /admin/config` body); throws {@link FaultConfigError}. */
export function parseFaultPatch(input: unknown): FaultConfigPatch {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FaultConfigError('(body)', 'must be a JSON object like {"latencyMs": 0, "fault": null}');
  }
  const patch: { latencyMs?: number; fault?: BridgeFault | null } = {};
  for (const [field, value] of Object.entries(input)) {
    if (field === 'latencyMs') {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_LATENCY_MS) {
        throw new FaultConfigError('latencyMs', `must be an integer number of milliseconds in 0..${MAX_LATENCY_MS}`);
      }
      patch.latencyMs = value;
    } else if (field === 'fault') {
      if (value !== null && !(BRIDGE_FAULTS as readonly unknown[]).includes(value)) {
        throw new FaultConfigError('fault', `must be null, ${BRIDGE_FAULTS.map((f) => `"${f}"`).join(' or ')}`);
      }
      patch.fault = value as BridgeFault | null;
    } else {
      throw new FaultConfigError(field.slice(0, 64), 'unknown field; the knobs are latencyMs and fault');
    }
  }
  return patch;
}

/** What a Redis request meets once its latency has passed. */
export type FaultOutcome = 'proceed' | 'unavailable' | 'reset';

/** The mutable knobs of one bridge, and the stalls they are holding. */
export class FaultKnobs {
  #config: FaultConfig = NO_FAULTS;
  #closed = false;
  readonly #stalls = new Set<{ timer: ReturnType<typeof setTimeout>; done: () => void }>();

  /** The knobs in effect. */
  get config(): FaultConfig {
    return this.#config;
  }

  /** Applies a validated patch; returns the new knobs. */
  update(patch: FaultConfigPatch): FaultConfig {
    this.#config = { ...this.#config, ...patch };
    return this.#config;
  }

  /**
   * Waits the configured latency (read when the request arrives), then says what the request
   * meets (read then, so clearing a fault during a stall lets the stalled request through, as a
   * stalled server that recovers runs what it had received).
   */
  async meet(): Promise<FaultOutcome> {
    const latency = this.#config.latencyMs;
    if (latency > 0) await this.#stall(latency);
    if (this.#closed) return 'reset';
    return this.#config.fault ?? 'proceed';
  }

  /** Ends every stall now with a dropped connection (the bridge is closing). */
  close(): void {
    this.#closed = true;
    for (const stall of this.#stalls) {
      clearTimeout(stall.timer);
      stall.done();
    }
    this.#stalls.clear();
  }

  #stall(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const stall = {
        timer: setTimeout(() => stall.done(), ms),
        done: () => {
          this.#stalls.delete(stall);
          resolve();
        },
      };
      // A stall never keeps a process alive on its own.
      stall.timer.unref();
      this.#stalls.add(stall);
    });
  }
}
