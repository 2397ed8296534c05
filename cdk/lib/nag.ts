/**
 * Helpers to acknowledge cdk-nag (v3) findings precisely. cdk-nag reports each wildcard IAM resource
 * as its own finding, `AwsSolutions-IAM5[Resource::<flattened ARN>]`, where the ARN is the resolved
 * CloudFormation value flattened the way cdk-nag does it (`{Ref: X}` → `<X>`, `Fn::GetAtt` →
 * `<Res.Attr>`). Computing the id from the same token keeps acknowledgements exact in every
 * environment (a literal region in one stack, `<AWS::Region>` in another) without prefix matching.
 */
import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

type CfnValue = string | number | boolean | null | undefined | CfnValue[] | { [key: string]: CfnValue };

function flatten(node: CfnValue): string {
  if (node === undefined || node === null) return '';
  if (typeof node === 'string') return node.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof node !== 'object' || Array.isArray(node)) return JSON.stringify(node);
  const join = node['Fn::Join'];
  if (Array.isArray(join)) {
    const [delimiter, items] = join;
    return Array.isArray(items) ? items.map(flatten).join(typeof delimiter === 'string' ? delimiter : '') : '';
  }
  if (node['Fn::Sub'] !== undefined) return flatten(node['Fn::Sub']);
  const getAtt = node['Fn::GetAtt'];
  if (Array.isArray(getAtt)) return `<${flatten(getAtt[0])}.${flatten(getAtt[1])}>`;
  if (node['Fn::ImportValue'] !== undefined) return flatten(node['Fn::ImportValue']);
  if (node.Ref !== undefined) return `<${flatten(node.Ref)}>`;
  return JSON.stringify(node);
}

/** The cdk-nag IAM5 finding id for a wildcard `resource` (an ARN string, tokens allowed) under `scope`. */
export function wildcardResourceFindingId(scope: IConstruct, resource: string): string {
  return `AwsSolutions-IAM5[Resource::${flatten(Stack.of(scope).resolve(resource) as CfnValue)}]`;
}

/** Acknowledges the IAM5 findings of wildcard `resources` granted to `scope`'s policies, with `reason`. */
export function acknowledgeWildcardResources(scope: IConstruct, resources: readonly string[], reason: string): void {
  Validations.of(scope).acknowledge(...resources.map((r) => ({ id: wildcardResourceFindingId(scope, r), reason })));
}
