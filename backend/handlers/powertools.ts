/**
 * Powertools for AWS Lambda, one set per adapter, created once per execution environment: a JSON
 * Logger, CloudWatch EMF Metrics (namespace from config, `service` as the default dimension) and a
 * Tracer. Outside Lambda they keep off AWS by themselves: the Tracer disables itself when
 * AWS_EXECUTION_ENV is unset (or POWERTOOLS_TRACE_ENABLED=false), and with POWERTOOLS_DEV=true
 * metrics are not emitted (POWERTOOLS_METRICS_DISABLED overrides either way) and logs are
 * pretty-printed. Nothing here makes a network call: EMF and logs go to stdout, X-Ray segments to the
 * daemon only when tracing is on in Lambda.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { ObservabilityConfig } from '../config/env';

/** The Powertools instances of one adapter. */
export interface Powertools {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly tracer: Tracer;
}

/** The Powertools instances of the adapter named `serviceName` (e.g. `sagemaker-adapter`). */
export function createPowertools(serviceName: string, config: Pick<ObservabilityConfig, 'logPayloads' | 'metricsNamespace'>): Powertools {
  return {
    logger: new Logger({ serviceName }),
    metrics: new Metrics({ serviceName, namespace: config.metricsNamespace }),
    tracer: new Tracer({ serviceName }),
  };
}
