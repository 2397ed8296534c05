/**
 * Test helpers for the CDK tests: an App with the project's feature flags and bundling skipped, a
 * region-pinned stack, cdk-nag findings as plain strings, and readers for IAM statements and the
 * dashboard body.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** Repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

const cdkJson = JSON.parse(readFileSync(resolve(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> };

/** An App with cdk.json's context (feature flags) and asset bundling skipped. */
export function testApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [], ...context } });
}

/** A stack in us-east-1 with no account, like the real ones. */
export function testStack(app: App = testApp(), id = 'TestStack'): Stack {
  return new Stack(app, id, { env: { region: 'us-east-1' } });
}

/** Unacknowledged AwsSolutions findings under `scope`, as `RuleId path` strings (empty when clean). */
export function nagFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks().validateScope(scope);
  return report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} (${v.severity}) ${r.constructPath}`));
}

/** A CloudFormation IAM statement. */
export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Sid?: string;
}

/** All statements of the inline policies attached to the resource whose logical id starts with `prefix`. */
export function statementsFor(template: Template, prefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => {
      const props = p.Properties as { Roles?: { Ref: string }[]; Users?: { Ref: string }[] };
      return [...(props.Roles ?? []), ...(props.Users ?? [])].some((r) => r.Ref.startsWith(prefix));
    })
    .flatMap((p) => (p.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);
}

/** Actions of a statement as an array. */
export function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

/** A dashboard widget as CloudWatch stores it. */
export interface DashboardWidget {
  type: string;
  properties: { title?: string; markdown?: string; metrics?: unknown[][]; alarms?: unknown[] };
}

/** Parses the first dashboard's body (a Fn::Join of strings and tokens) into JSON; tokens become "<token>". */
export function dashboardWidgets(template: Template): DashboardWidget[] {
  const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
  const body = (dashboard?.Properties as { DashboardBody: unknown } | undefined)?.DashboardBody;
  const text =
    typeof body === 'string'
      ? body
      : ((body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1] ?? []).map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  return (JSON.parse(text) as { widgets: DashboardWidget[] }).widgets;
}

/** Every metric name and SEARCH/math expression named in a dashboard's graphs. */
export function dashboardMetricNames(widgets: readonly DashboardWidget[]): Set<string> {
  const names = new Set<string>();
  for (const w of widgets) {
    for (const row of w.properties.metrics ?? []) {
      const expression = row.find((x): x is { expression: string } => typeof x === 'object' && x !== null && 'expression' in x);
      if (expression) {
        for (const m of expression.expression.matchAll(/MetricName="([^"]+)"/g)) if (m[1]) names.add(m[1]);
        continue;
      }
      // [namespace, metricName, dim, value, ..., {options}] or ['...', metricName, ...] (same namespace as above)
      if (typeof row[1] === 'string') names.add(row[1]);
    }
  }
  return names;
}

/** Every namespace named in a dashboard's graphs. */
export function dashboardNamespaces(widgets: readonly DashboardWidget[]): Set<string> {
  const out = new Set<string>();
  for (const w of widgets) for (const row of w.properties.metrics ?? []) if (typeof row[0] === 'string' && row[0] !== '...') out.add(row[0]);
  return out;
}
