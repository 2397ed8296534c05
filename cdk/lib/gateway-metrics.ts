/**
 * CloudWatch metric objects for the gateway, built from the metrics catalog: the edge's custom
 * metrics, the adapters' EMF metrics and the SageMaker endpoint's metrics. Shared by the dashboard
 * and the alarms so both read exactly the same series.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import {
  AdapterDimension,
  adapterNamespace,
  EDGE_NAMESPACE,
  EdgeDimension,
  SAGEMAKER_ENDPOINT_NAMESPACE,
  SAGEMAKER_INFERENCE_COMPONENT_NAMESPACE,
  SAGEMAKER_NAMESPACE,
  SagemakerMetric,
} from '../../shared/metrics-catalog';

/** Default period of dashboard graphs and alarms. */
export const ONE_MINUTE = Duration.minutes(1);

/** The SageMaker endpoint to watch. */
export interface SagemakerMonitoringTarget {
  readonly endpointName: string;
  readonly variantName: string;
  /** Set when the model runs as an inference component (scale-to-zero). */
  readonly inferenceComponentName?: string;
}

/** An edge metric aggregated over the whole environment, or broken down by `dimensions`. */
export function edgeMetric(
  environment: string,
  metricName: string,
  statistic: string,
  options: { dimensions?: Record<string, string>; label?: string; period?: Duration } = {},
): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: EDGE_NAMESPACE,
    metricName,
    dimensionsMap: { [EdgeDimension.Environment]: environment, ...options.dimensions },
    statistic,
    period: options.period ?? ONE_MINUTE,
    ...(options.label ? { label: options.label } : {}),
  });
}

/**
 * A SEARCH over an edge metric broken down by `dimension` (one line per route, code, backend...),
 * so the dashboard needs no list of values at synth time. Not usable in alarms.
 */
export function edgeBreakdown(
  environment: string,
  metricName: string,
  dimensions: readonly string[],
  statistic: string,
  label: string,
): cloudwatch.MathExpression {
  const dims = [EdgeDimension.Environment, ...dimensions].join(',');
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${EDGE_NAMESPACE},${dims}} MetricName="${metricName}" ${EdgeDimension.Environment}="${environment}"', '${statistic}', 60)`,
    label,
    period: ONE_MINUTE,
  });
}

/**
 * A SEARCH over one adapter's EMF metric, one line per model (and per error code for `Errors`), so
 * the dashboard needs no model list.
 */
export function adapterSearch(environment: string, service: string, metricName: string, statistic: string, label: string): cloudwatch.MathExpression {
  const d = AdapterDimension;
  const dims = [d.Service, d.Model, ...(metricName === 'Errors' ? [d.ErrorCode] : [])].join(',');
  return new cloudwatch.MathExpression({
    expression: `SEARCH('{${adapterNamespace(environment)},${dims}} MetricName="${metricName}" ${d.Service}="${service}"', '${statistic}', 60)`,
    label,
    period: ONE_MINUTE,
  });
}

/**
 * Dimensions of SageMaker invocation metrics: the inference component when there is one (its
 * invocations are reported per component), else the endpoint variant.
 */
export function invocationDimensions(target: SagemakerMonitoringTarget): Record<string, string> {
  return target.inferenceComponentName
    ? { InferenceComponentName: target.inferenceComponentName }
    : { EndpointName: target.endpointName, VariantName: target.variantName };
}

/** A SageMaker metric in `AWS/SageMaker` (invocations, latencies, errors, concurrency, capacity failures). */
export function sagemakerMetric(target: SagemakerMonitoringTarget, metricName: string, statistic: string, label?: string): cloudwatch.Metric {
  const perVariant = metricName === SagemakerMetric.ConcurrentRequestsPerModel;
  return new cloudwatch.Metric({
    namespace: SAGEMAKER_NAMESPACE,
    metricName,
    dimensionsMap: perVariant ? { EndpointName: target.endpointName, VariantName: target.variantName } : invocationDimensions(target),
    statistic,
    period: ONE_MINUTE,
    ...(label ? { label } : {}),
  });
}

/** A SageMaker instance utilisation metric (GPU, GPU memory, CPU, memory) of the endpoint variant. */
export function sagemakerInstanceMetric(target: SagemakerMonitoringTarget, metricName: string, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SAGEMAKER_ENDPOINT_NAMESPACE,
    metricName,
    dimensionsMap: { EndpointName: target.endpointName, VariantName: target.variantName },
    statistic: 'Average',
    period: ONE_MINUTE,
    ...(label ? { label } : {}),
  });
}

/** A utilisation metric of the inference component (normalised GPU, GPU memory). */
export function inferenceComponentMetric(inferenceComponentName: string, metricName: string, label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: SAGEMAKER_INFERENCE_COMPONENT_NAMESPACE,
    metricName,
    dimensionsMap: { InferenceComponentName: inferenceComponentName },
    statistic: 'Average',
    period: ONE_MINUTE,
    ...(label ? { label } : {}),
  });
}

/**
 * Serving capacity derived from invocations: instances (Invocations ÷ InvocationsPerInstance), or
 * model copies (Invocations ÷ InvocationsPerCopy) for an inference component. SageMaker publishes
 * no instance-count metric; this series is empty while there is no traffic.
 */
export function sagemakerCapacity(target: SagemakerMonitoringTarget): cloudwatch.MathExpression {
  const perUnit = target.inferenceComponentName ? SagemakerMetric.InvocationsPerCopy : SagemakerMetric.InvocationsPerInstance;
  return new cloudwatch.MathExpression({
    expression: 'inv / perUnit',
    usingMetrics: {
      inv: sagemakerMetric(target, SagemakerMetric.Invocations, 'Sum'),
      perUnit: sagemakerMetric(target, perUnit, 'Sum'),
    },
    label: target.inferenceComponentName ? 'model copies (derived)' : 'instances (derived)',
    period: ONE_MINUTE,
  });
}

/** `100 * part / whole` as a percentage series (missing `part` counts as 0). */
export function percentage(part: cloudwatch.IMetric, whole: cloudwatch.IMetric, label: string): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    expression: '100 * FILL(part, 0) / whole',
    usingMetrics: { part, whole },
    label,
    period: ONE_MINUTE,
  });
}
