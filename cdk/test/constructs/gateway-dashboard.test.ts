/**
 * GatewayDashboard: the dashboard body names every metric SPEC §10 asks for, in the right
 * namespaces, for the edge, the adapters, SageMaker (incl. GPU) and the ECS service.
 */
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { describe, expect, it } from 'vitest';
import { AdapterFunction } from '../../lib/constructs/adapter-function';
import { GatewayDashboard } from '../../lib/constructs/gateway-dashboard';
import { GpuService } from '../../lib/constructs/gpu-service';
import { AdapterMetric, EdgeMetric, SagemakerMetric } from '../../../shared/metrics-catalog';
import { dashboardMetricNames, dashboardNamespaces, dashboardWidgets, REPO_ROOT, testStack } from '../helpers';

function build(inferenceComponentName?: string) {
  const stack = testStack();
  const adapter = new AdapterFunction(stack, 'Adapter', {
    entry: join(REPO_ROOT, 'backend/handlers/sagemaker.ts'),
    projectRoot: REPO_ROOT,
    serviceName: 'sagemaker-adapter',
    environmentName: 'dev',
  });
  const gpu = new GpuService(stack, 'Gpu', { modelName: 'm', hfModelId: 'a/b' });
  const alarm = new cloudwatch.Alarm(stack, 'SomeAlarm', {
    metric: adapter.function.metricErrors(),
    threshold: 1,
    evaluationPeriods: 1,
  });
  new GatewayDashboard(stack, 'Dashboard', {
    environmentName: 'dev',
    sagemaker: { endpointName: 'gw-dev-llm', variantName: 'AllTraffic', ...(inferenceComponentName ? { inferenceComponentName } : {}) },
    adapters: [{ serviceName: 'sagemaker-adapter', function: adapter.function }],
    gpuService: { loadBalancer: gpu.loadBalancer, targetGroup: gpu.targetGroup, clusterName: 'c', serviceName: 's' },
    alarms: [alarm],
  });
  const template = Template.fromStack(stack);
  const widgets = dashboardWidgets(template);
  return { template, widgets, names: dashboardMetricNames(widgets), namespaces: dashboardNamespaces(widgets) };
}

describe('GatewayDashboard', () => {
  const { template, widgets, names, namespaces } = build();

  it('is one dashboard per environment, named after it', () => {
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'inference-gateway-dev' });
  });

  it('shows every edge metric of SPEC §10 from the InferenceGateway/Edge namespace', () => {
    expect(namespaces).toContain('InferenceGateway/Edge');
    for (const name of Object.values(EdgeMetric)) expect(names, name).toContain(name);
    const titles = widgets.map((w) => w.properties.title);
    for (const title of [
      'Requests by status class',
      'Edge latency (ms)',
      'Errors by code',
      'Cache hit ratio (%)',
      'Rate limited and auth failures',
      'Tokens per second',
      'Backend / variant split',
      'Circuit state (1 = open)',
      'Queue depth and DLQ size',
    ]) {
      expect(titles).toContain(title);
    }
    const latency = widgets.find((w) => w.properties.title === 'Edge latency (ms)');
    expect(JSON.stringify(latency)).toMatch(/"stat":"p50".*"stat":"p95".*"stat":"p99"/);
  });

  it('breaks errors down by code with a SEARCH over the Code dimension', () => {
    const codes = widgets.find((w) => w.properties.title === 'Errors by code');
    expect(JSON.stringify(codes)).toContain(
      'SEARCH(\'{InferenceGateway/Edge,Environment,Code} MetricName=\\"Requests\\" Environment=\\"dev\\"\', \'Sum\', 60)',
    );
  });

  it('shows the adapters: Lambda duration, concurrency, throttles and their EMF metrics', () => {
    for (const name of ['Duration', 'ConcurrentExecutions', 'Throttles', 'Errors']) expect(names).toContain(name);
    expect(namespaces).toContain('AWS/Lambda');
    for (const name of Object.values(AdapterMetric)) expect(names, name).toContain(name);
    const emf = widgets.find((w) => w.properties.title === 'Adapter requests and errors by code');
    expect(JSON.stringify(emf)).toContain('{InferenceGateway/Adapters/dev,service,model,error_code} MetricName=\\"Errors\\" service=\\"sagemaker-adapter\\"');
  });

  it('shows SageMaker latencies, errors, concurrency, GPU, capacity and no-capacity failures', () => {
    for (const name of [
      SagemakerMetric.ModelLatency,
      SagemakerMetric.OverheadLatency,
      SagemakerMetric.Invocation4XXErrors,
      SagemakerMetric.Invocation5XXErrors,
      SagemakerMetric.ConcurrentRequestsPerModel,
      SagemakerMetric.GPUUtilization,
      SagemakerMetric.GPUMemoryUtilization,
      SagemakerMetric.NoCapacityInvocationFailures,
      SagemakerMetric.InvocationsPerInstance,
    ]) {
      expect(names, name).toContain(name);
    }
    expect(namespaces).toContain('AWS/SageMaker');
    expect(namespaces).toContain('/aws/sagemaker/Endpoints');
    const gpu = widgets.find((w) => w.properties.title === 'GPU utilisation (%)');
    expect(JSON.stringify(gpu)).toContain('["/aws/sagemaker/Endpoints","GPUUtilization","EndpointName","gw-dev-llm","VariantName","AllTraffic"');
  });

  it('with an inference component, adds per-copy concurrency and normalised GPU metrics', () => {
    const ic = build('gw-dev-llm-model');
    for (const name of ['ConcurrentRequestsPerCopy', 'GPUUtilizationNormalized', 'InvocationsPerCopy']) expect(ic.names).toContain(name);
    expect(ic.namespaces).toContain('/aws/sagemaker/InferenceComponents');
  });

  it('shows the ECS GPU service through its ALB and ECS metrics', () => {
    for (const name of ['RequestCount', 'TargetResponseTime', 'HTTPCode_Target_5XX_Count', 'HealthyHostCount', 'RequestCountPerTarget', 'GPUReservation']) {
      expect(names, name).toContain(name);
    }
  });

  it('puts an alarm status widget at the top', () => {
    expect(widgets[0]?.type).toBe('alarm');
  });
});
