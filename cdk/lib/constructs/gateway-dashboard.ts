/**
 * The CloudWatch dashboard of one environment, with the widgets of SPEC §10 in four rows: the edge
 * (requests, latency percentiles, errors by code, cache hit ratio, rate limiting, tokens/s,
 * backend/variant split, circuits, queues), the adapters (Lambda duration/concurrency/throttles and
 * their EMF metrics), SageMaker (latencies, 4xx/5xx, concurrency, GPU, capacity, no-capacity
 * failures) and the ECS GPU service (ALB and ECS). Breakdowns use SEARCH so new routes, codes or
 * backends show up without a redeploy. The edge and adapter-EMF widgets come from
 * shared/dashboard-definition.ts, which the local metrics sink renders too.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import { Construct } from 'constructs';
import {
  adapterSearch,
  edgeBreakdown,
  edgeMetric,
  inferenceComponentMetric,
  ONE_MINUTE,
  sagemakerCapacity,
  sagemakerInstanceMetric,
  sagemakerMetric,
  type SagemakerMonitoringTarget,
} from '../gateway-metrics';
import { adapterNamespace, AlbMetric, EcsMetric, SagemakerMetric as S } from '../../../shared/metrics-catalog';
import { adapterEmfWidgets, edgeDashboardWidgets, type DashboardSeries, type EdgeMetricSeries } from '../../../shared/dashboard-definition';
import type { MonitoredAdapter, MonitoredGpuService } from './gateway-alarms';

/** What the dashboard needs of the ECS GPU service. */
export interface DashboardGpuService extends MonitoredGpuService {
  readonly loadBalancer: elbv2.IApplicationLoadBalancer;
  readonly clusterName: string;
  readonly serviceName: string;
}

/** Props of GatewayDashboard. */
export interface GatewayDashboardProps {
  /** Environment name (edge and adapter metric dimension). */
  readonly environmentName: string;
  /** Dashboard name. @default `inference-gateway-<environment>` */
  readonly dashboardName?: string;
  /** Edge p95 SLO drawn on the latency graph, ms. @default 300 */
  readonly edgeLatencySloMs?: number;
  /** SageMaker endpoint. @default no SageMaker row */
  readonly sagemaker?: SagemakerMonitoringTarget;
  /** Adapter functions. @default no adapter row */
  readonly adapters?: readonly MonitoredAdapter[];
  /** ECS GPU service. @default no ECS row */
  readonly gpuService?: DashboardGpuService;
  /** Alarms shown in an alarm status widget at the top. @default none */
  readonly alarms?: readonly cloudwatch.IAlarm[];
}

const W = 8;
const H = 6;

/**
 * A series of the shared dashboard definition as CloudWatch metrics: plain metrics and SEARCH
 * breakdowns of the edge, math for ratios and rates, and adapter SEARCHes (for `service`).
 */
/** A math-expression id for a metric, unique within a graph (ids are per graph in CloudWatch). */
const idOf = (x: EdgeMetricSeries) => x.metric.toLowerCase();

function cloudwatchSeries(env: string, s: DashboardSeries, service?: string): cloudwatch.IMetric[] {
  const metric = (x: EdgeMetricSeries) => edgeMetric(env, x.metric, x.stat, { label: x.label, ...(x.dimensions ? { dimensions: { ...x.dimensions } } : {}) });
  switch (s.kind) {
    case 'metric':
      return [metric(s)];
    case 'breakdown':
      return [edgeBreakdown(env, s.metric, s.by, s.stat, s.label)];
    case 'percent':
      return [
        new cloudwatch.MathExpression({
          expression: `100 * FILL(${idOf(s.part)}, 0) / (FILL(${idOf(s.part)}, 0) + FILL(${idOf(s.rest)}, 0))`,
          usingMetrics: { [idOf(s.part)]: metric(s.part), [idOf(s.rest)]: metric(s.rest) },
          label: s.label,
          period: ONE_MINUTE,
        }),
      ];
    case 'perSecond':
      return [
        new cloudwatch.MathExpression({
          expression: `${idOf(s.of)} / PERIOD(${idOf(s.of)})`,
          usingMetrics: { [idOf(s.of)]: metric(s.of) },
          label: s.label,
          period: ONE_MINUTE,
        }),
      ];
    case 'adapter':
      return service ? [adapterSearch(env, service, s.metric, s.stat, `${service} ${s.label}`)] : [];
  }
}

function graph(title: string, left: cloudwatch.IMetric[], options: Partial<cloudwatch.GraphWidgetProps> = {}): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, width: W, height: H, period: ONE_MINUTE, ...options });
}

/** The environment's operations dashboard. */
export class GatewayDashboard extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: GatewayDashboardProps) {
    super(scope, id);
    const env = props.environmentName;
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `inference-gateway-${env}`,
      defaultInterval: Duration.hours(3),
    });
    if (props.alarms?.length) {
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 }));
    }
    this.dashboard.addWidgets(...this.edgeWidgets(env, props.edgeLatencySloMs ?? 300));
    if (props.adapters?.length) this.dashboard.addWidgets(...this.adapterWidgets(env, props.adapters));
    if (props.sagemaker) this.dashboard.addWidgets(...this.sagemakerWidgets(props.sagemaker));
    if (props.gpuService) this.dashboard.addWidgets(...this.gpuServiceWidgets(props.gpuService));
  }

  private edgeWidgets(env: string, sloMs: number): cloudwatch.IWidget[] {
    const toMetric = (s: DashboardSeries) => cloudwatchSeries(env, s);
    return [
      new cloudwatch.TextWidget({ markdown: `## Edge (${env})\nCustom metrics the Worker publishes to \`InferenceGateway/Edge\`.`, width: 24, height: 1 }),
      ...edgeDashboardWidgets(sloMs).map((w) =>
        graph(w.title, w.left.flatMap(toMetric), {
          ...(w.right ? { right: w.right.flatMap(toMetric) } : {}),
          ...(w.annotations ? { leftAnnotations: w.annotations.map((a) => ({ ...a })) } : {}),
        }),
      ),
    ];
  }

  private adapterWidgets(env: string, adapters: readonly MonitoredAdapter[]): cloudwatch.IWidget[] {
    const each = (f: (a: MonitoredAdapter) => cloudwatch.IMetric[]) => adapters.flatMap(f);
    const p = (a: MonitoredAdapter, stat: string) => a.function.metricDuration({ statistic: stat, period: ONE_MINUTE, label: `${a.serviceName} ${stat}` });
    const emf = (series: readonly DashboardSeries[]) => each((a) => series.flatMap((s) => cloudwatchSeries(env, s, a.serviceName)));
    return [
      new cloudwatch.TextWidget({
        markdown: `## Adapters\nLambda metrics and the adapters' EMF metrics (\`${adapterNamespace(env)}\`).`,
        width: 24,
        height: 1,
      }),
      graph(
        'Lambda duration (ms)',
        each((a) => [p(a, 'p50'), p(a, 'p95'), p(a, 'p99')]),
      ),
      graph(
        'Concurrent executions',
        each((a) => [a.function.metric('ConcurrentExecutions', { statistic: 'Maximum', period: ONE_MINUTE, label: a.serviceName })]),
      ),
      graph(
        'Throttles and errors',
        each((a) => [
          a.function.metricThrottles({ statistic: 'Sum', period: ONE_MINUTE, label: `${a.serviceName} throttles` }),
          a.function.metricErrors({ statistic: 'Sum', period: ONE_MINUTE, label: `${a.serviceName} errors` }),
        ]),
      ),
      ...adapterEmfWidgets().map((w) => graph(w.title, emf(w.left))),
    ];
  }

  private sagemakerWidgets(t: SagemakerMonitoringTarget): cloudwatch.IWidget[] {
    const s = (name: string, stat: string, label: string) => sagemakerMetric(t, name, stat, label);
    const ic = t.inferenceComponentName;
    return [
      new cloudwatch.TextWidget({
        markdown: `## SageMaker endpoint \`${t.endpointName}\`${ic ? ` (inference component \`${ic}\`)` : ''}`,
        width: 24,
        height: 1,
      }),
      graph('Model and overhead latency (µs)', [
        s(S.ModelLatency, 'p50', 'ModelLatency p50'),
        s(S.ModelLatency, 'p95', 'ModelLatency p95'),
        s(S.ModelLatency, 'p99', 'ModelLatency p99'),
        s(S.OverheadLatency, 'p95', 'OverheadLatency p95'),
      ]),
      graph('Invocations and 4xx/5xx', [
        s(S.Invocations, 'Sum', 'Invocations'),
        s(S.Invocation4XXErrors, 'Sum', 'Invocation4XXErrors'),
        s(S.Invocation5XXErrors, 'Sum', 'Invocation5XXErrors'),
      ]),
      graph('Concurrent requests', [
        s(S.ConcurrentRequestsPerModel, 'Maximum', 'ConcurrentRequestsPerModel'),
        ...(ic ? [s(S.ConcurrentRequestsPerCopy, 'Maximum', 'ConcurrentRequestsPerCopy')] : []),
      ]),
      graph('GPU utilisation (%)', [
        sagemakerInstanceMetric(t, S.GPUUtilization, 'GPUUtilization'),
        sagemakerInstanceMetric(t, S.GPUMemoryUtilization, 'GPUMemoryUtilization'),
        ...(ic
          ? [
              inferenceComponentMetric(ic, S.GPUUtilizationNormalized, 'component GPU (normalised)'),
              inferenceComponentMetric(ic, S.GPUMemoryUtilizationNormalized, 'component GPU memory (normalised)'),
            ]
          : []),
      ]),
      graph('Capacity and no-capacity failures', [sagemakerCapacity(t)], {
        right: [s(S.NoCapacityInvocationFailures, 'Sum', 'NoCapacityInvocationFailures')],
      }),
    ];
  }

  private gpuServiceWidgets(g: DashboardGpuService): cloudwatch.IWidget[] {
    const lb = g.loadBalancer.metrics;
    const tg = g.targetGroup.metrics;
    const ecsMetric = (metricName: string, dims: Record<string, string>, stat: string, label: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/ECS', metricName, dimensionsMap: dims, statistic: stat, period: ONE_MINUTE, label });
    const one = { period: ONE_MINUTE };
    return [
      new cloudwatch.TextWidget({ markdown: '## ECS GPU service (internal ALB)', width: 24, height: 1 }),
      graph('ALB requests and 5xx', [
        lb.requestCount({ ...one, statistic: 'Sum', label: AlbMetric.RequestCount }),
        tg.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { ...one, statistic: 'Sum', label: AlbMetric.HTTPCode_Target_5XX_Count }),
        lb.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { ...one, statistic: 'Sum', label: AlbMetric.HTTPCode_ELB_5XX_Count }),
      ]),
      graph(
        'Target response time (s)',
        ['p50', 'p95', 'p99'].map((stat) => tg.targetResponseTime({ ...one, statistic: stat, label: stat })),
      ),
      graph(
        'Targets and requests per target',
        [
          tg.healthyHostCount({ ...one, statistic: 'Minimum', label: AlbMetric.HealthyHostCount }),
          tg.unhealthyHostCount({ ...one, statistic: 'Maximum', label: AlbMetric.UnHealthyHostCount }),
        ],
        { right: [tg.requestCountPerTarget({ ...one, statistic: 'Sum', label: AlbMetric.RequestCountPerTarget })] },
      ),
      graph('ECS utilisation (%)', [
        ecsMetric(EcsMetric.CPUUtilization, { ClusterName: g.clusterName, ServiceName: g.serviceName }, 'Average', 'service CPU'),
        ecsMetric(EcsMetric.MemoryUtilization, { ClusterName: g.clusterName, ServiceName: g.serviceName }, 'Average', 'service memory'),
        ecsMetric(EcsMetric.GPUReservation, { ClusterName: g.clusterName }, 'Average', 'cluster GPU reservation'),
      ]),
    ];
  }
}
