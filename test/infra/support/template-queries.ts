import type { Template } from 'aws-cdk-lib/assertions';

/** One resource of a synthesized template, with its logical id. */
export interface TemplateResource {
  readonly logicalId: string;
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string[];
  readonly DeletionPolicy?: string;
  readonly UpdateReplacePolicy?: string;
  readonly Metadata?: Record<string, unknown>;
}

interface TemplateJson {
  Resources: Record<string, Omit<TemplateResource, 'logicalId'>>;
  Outputs?: Record<string, { Value: unknown }>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
}

export function templateJson(template: Template): TemplateJson {
  return template.toJSON() as TemplateJson;
}

/** Every resource of a type. */
export function resourcesOfType(template: Template, type: string): TemplateResource[] {
  return Object.entries(templateJson(template).Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([logicalId, resource]) => ({ logicalId, ...resource, Properties: resource.Properties ?? {} }));
}

/** The construct path CDK records on a resource (`aws:cdk:path`). */
export function cdkPath(resource: TemplateResource): string {
  return String(resource.Metadata?.['aws:cdk:path'] ?? '');
}

/** The one resource whose construct path is `path` (e.g. `Stateless/ApiHandlers/placeOrder/Function/Resource`). */
export function resourceAtPath(template: Template, path: string): TemplateResource {
  const found = Object.entries(templateJson(template).Resources)
    .map(([logicalId, resource]) => ({ logicalId, ...resource, Properties: resource.Properties ?? {} }))
    .filter((resource) => cdkPath(resource) === path);
  if (found.length !== 1) throw new Error(`expected one resource at ${path}, found ${found.length}`);
  return found[0] as TemplateResource;
}

/** The logical id a `{Ref}` or `{Fn::GetAtt}` points at. */
export function referencedLogicalId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/**
 * Follows a cross-stack reference (`Fn::GetStackOutput` of the producer's output) to the
 * expression the producer stack outputs, e.g. `{ Ref: 'CompensationQueue...' }`. Other values are
 * returned as they are.
 */
export function followCrossStack(value: unknown, producer: Template): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const getStackOutput = (value as { 'Fn::GetStackOutput'?: { OutputName?: string } })['Fn::GetStackOutput'];
  if (!getStackOutput?.OutputName) return value;
  const output = templateJson(producer).Outputs?.[getStackOutput.OutputName];
  if (!output) throw new Error(`the producer has no output ${getStackOutput.OutputName}`);
  return output.Value;
}

/** A policy statement as CloudFormation holds it. */
export interface PolicyStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: string | string[];
  readonly Resource?: unknown;
}

export function actionsOf(statement: PolicyStatement): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

export function resourcesOf(statement: PolicyStatement): unknown[] {
  if (statement.Resource === undefined) return [];
  return Array.isArray(statement.Resource) ? statement.Resource : [statement.Resource];
}

/** Every identity-policy statement attached to a role: inline `Policies` and `AWS::IAM::Policy` resources. */
export function roleStatements(template: Template, roleLogicalId: string): PolicyStatement[] {
  const json = templateJson(template);
  const role = json.Resources[roleLogicalId];
  if (!role) throw new Error(`no role ${roleLogicalId}`);
  const inline = (
    (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: PolicyStatement[] } }[]
  ).flatMap((policy) => policy.PolicyDocument.Statement);
  const attached = resourcesOfType(template, 'AWS::IAM::Policy')
    .filter((policy) =>
      ((policy.Properties.Roles ?? []) as unknown[]).some(
        (ref) => referencedLogicalId(ref) === roleLogicalId,
      ),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: PolicyStatement[] }).Statement);
  return [...inline, ...attached];
}
