import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from '../aws/local-account.js';
import { ENTRY_METADATA } from './build.js';

/**
 * The synthesized CDK app read as local mode needs it (docs/adr/0013): functions, queues, tables,
 * the event source mapping, the state machine, schedules, API methods and the roles' policies,
 * with CloudFormation intrinsics resolved against the local resources. Values only CloudFormation
 * could produce (a proxy endpoint, a function URL) are resolved by {@link LocalResourceValues},
 * which local/lambda/local-differences.ts then maps to what runs here.
 */

type Json = unknown;

interface CfnResource {
  readonly Type: string;
  readonly Properties?: Record<string, Json>;
  readonly Metadata?: Record<string, Json>;
}

interface StackTemplate {
  readonly artifactId: string;
  readonly stackName: string;
  readonly resources: Readonly<Record<string, CfnResource>>;
  readonly outputs: Readonly<Record<string, { readonly Value: Json }>>;
}

/** A resource's address in the assembly. */
export interface ResourceId {
  readonly stack: string;
  readonly logicalId: string;
}

export interface TemplateFunction extends ResourceId {
  /** Local name (and the last part of its ARN): the construct path, e.g. `ApiHandlers-placeOrder`. */
  readonly name: string;
  readonly arn: string;
  /** Handler source relative to the repository root, e.g. `lambdas/api/checkout.ts`. */
  readonly entry: string;
  /** The module's export, from `Handler` (`index.<export>`). */
  readonly handlerExport: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly reservedConcurrency?: number;
  /** The environment as the template has it, intrinsics resolved. */
  readonly environment: Readonly<Record<string, string>>;
  /** NODE_OPTIONS of the environment, split: the container's Node flags. */
  readonly role: ResourceId;
}

export interface TemplateQueue extends ResourceId {
  readonly name: string;
  readonly visibilityTimeoutSeconds: number;
  readonly retentionSeconds: number;
  readonly redrive?: { readonly deadLetterQueue: ResourceId; readonly maxReceiveCount: number };
}

export interface TemplateTable extends ResourceId {
  readonly name: string;
  readonly keySchema: readonly { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
  readonly attributeDefinitions: readonly { AttributeName: string; AttributeType: 'S' | 'N' | 'B' }[];
}

export interface TemplateEventSourceMapping {
  readonly queue: TemplateQueue;
  readonly function: ResourceId;
  readonly batchSize: number;
  readonly maximumConcurrency?: number;
  readonly reportBatchItemFailures: boolean;
}

export interface TemplateStateMachine extends ResourceId {
  readonly name: string;
  readonly arn: string;
  readonly definition: string;
  readonly substitutions: Readonly<Record<string, string>>;
  readonly role: ResourceId;
}

export interface TemplateSchedule {
  readonly name: string;
  readonly rateSeconds: number;
  readonly target: ResourceId;
}

export type AuthorizationType = 'NONE' | 'COGNITO_USER_POOLS' | 'AWS_IAM' | 'CUSTOM';

export interface TemplateApiMethod {
  readonly httpMethod: string;
  /** e.g. `/v1/orders/{orderId}` */
  readonly path: string;
  readonly authorizationType: AuthorizationType;
  readonly apiKeyRequired: boolean;
  readonly validatesBody: boolean;
  readonly function: ResourceId;
}

/** One IAM policy statement, resolved: actions and resources are strings (patterns). */
export interface PolicyStatement {
  readonly effect: 'Allow' | 'Deny';
  readonly actions: readonly string[];
  readonly resources: readonly string[];
}

export interface LocalApplication {
  readonly functions: readonly TemplateFunction[];
  readonly queues: readonly TemplateQueue[];
  readonly tables: readonly TemplateTable[];
  readonly eventSourceMappings: readonly TemplateEventSourceMapping[];
  readonly stateMachines: readonly TemplateStateMachine[];
  readonly schedules: readonly TemplateSchedule[];
  readonly apiMethods: readonly TemplateApiMethod[];
  /** The statements of each role, by `stack/logicalId`. */
  readonly policies: ReadonlyMap<string, readonly PolicyStatement[]>;
}

/**
 * Values of resources only a deployment has, supplied by the local stack: queue URLs of the
 * local SQS, the database and provider endpoints. Return undefined to fall back on the default
 * (ARNs and names derived from the construct path).
 */
export type LocalResourceValues = (
  resource: ResourceId & { readonly type: string; readonly name: string },
  attribute: string | undefined,
) => string | undefined;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

/** Raised for a value that cannot be resolved locally; the message names where it is. */
class UnresolvableError extends Error {
  override readonly name = 'UnresolvableError';
}

export const idOf = (resource: ResourceId): string => `${resource.stack}/${resource.logicalId}`;

/** Reads the stacks of a cloud assembly (`cdk.out`). */
export class CloudAssembly {
  readonly stacks: readonly StackTemplate[];

  constructor(readonly dir: string) {
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string; properties?: { templateFile?: string; stackName?: string } }>;
    };
    this.stacks = Object.entries(manifest.artifacts)
      .filter(([, artifact]) => artifact.type === 'aws:cloudformation:stack')
      .map(([artifactId, artifact]) => {
        const template = JSON.parse(
          readFileSync(
            path.join(dir, artifact.properties?.templateFile ?? `${artifactId}.template.json`),
            'utf8',
          ),
        ) as { Resources?: Record<string, CfnResource>; Outputs?: Record<string, { Value: Json }> };
        return {
          artifactId,
          stackName: artifact.properties?.stackName ?? artifactId,
          resources: template.Resources ?? {},
          outputs: template.Outputs ?? {},
        };
      });
  }

  /** Every resource of a type, across stacks. */
  resourcesOfType(type: string): (ResourceId & { resource: CfnResource })[] {
    return this.stacks.flatMap((stack) =>
      Object.entries(stack.resources)
        .filter(([, resource]) => resource.Type === type)
        .map(([logicalId, resource]) => ({ stack: stack.artifactId, logicalId, resource })),
    );
  }

  resource(id: ResourceId): CfnResource {
    const resource = this.stack(id.stack).resources[id.logicalId];
    if (!resource) throw new TemplateError(`no resource ${idOf(id)} in the assembly`);
    return resource;
  }

  /** The contents of a file asset, by the S3 object key the template names it with. */
  fileAsset(objectKey: string): string {
    for (const file of readdirSync(this.dir).filter((name) => name.endsWith('.assets.json'))) {
      const manifest = JSON.parse(readFileSync(path.join(this.dir, file), 'utf8')) as {
        files?: Record<
          string,
          { source: { path: string }; destinations: Record<string, { objectKey: string }> }
        >;
      };
      for (const asset of Object.values(manifest.files ?? {})) {
        if (Object.values(asset.destinations).some((destination) => destination.objectKey === objectKey)) {
          return readFileSync(path.resolve(this.dir, asset.source.path), 'utf8');
        }
      }
    }
    throw new TemplateError(`no file asset ${objectKey} in the assembly`);
  }

  stack(artifactId: string): StackTemplate {
    const stack = this.stacks.find((candidate) => candidate.artifactId === artifactId);
    if (!stack) throw new TemplateError(`no stack ${artifactId} in the assembly`);
    return stack;
  }

  stackByName(stackName: string): StackTemplate {
    const stack = this.stacks.find((candidate) => candidate.stackName === stackName);
    if (!stack) throw new TemplateError(`no stack named ${stackName} in the assembly`);
    return stack;
  }

  /**
   * A resource's local name: its literal name property if it has one, else its construct path
   * without the stack and CDK's trailing `Resource`/`Default`, e.g. `ApiHandlers-placeOrder-Function`.
   */
  nameOf(id: ResourceId): string {
    const resource = this.resource(id);
    const properties = resource.Properties ?? {};
    for (const key of NAME_PROPERTIES[resource.Type] ?? []) {
      const value = properties[key];
      if (typeof value === 'string') return value;
    }
    const constructPath = resource.Metadata?.['aws:cdk:path'];
    if (typeof constructPath !== 'string') return id.logicalId;
    const parts = constructPath.split('/').slice(1);
    while (parts.length > 1 && ['Resource', 'Default'].includes(parts.at(-1) as string)) parts.pop();
    if (resource.Type !== 'AWS::Lambda::Function') return parts.join('-');
    // A function is named by what it does, as the project's function names read: `checkout-placeOrder`,
    // `checkout-AuthorizePayment`, `checkout-CompensationWorker`.
    while (parts.length > 1 && ['Function', 'Handler', 'Job'].includes(parts.at(-1) as string)) parts.pop();
    return `checkout-${parts.at(-1)}`;
  }
}

const NAME_PROPERTIES: Record<string, readonly string[]> = {
  'AWS::DynamoDB::Table': ['TableName'],
  'AWS::SQS::Queue': ['QueueName'],
  'AWS::Lambda::Function': ['FunctionName'],
  'AWS::StepFunctions::StateMachine': ['StateMachineName'],
  'AWS::IAM::Role': ['RoleName'],
  'AWS::Events::EventBus': ['Name'],
  'AWS::SecretsManager::Secret': ['Name'],
  'AWS::Scheduler::Schedule': ['Name'],
};

const arn = (service: string, rest: string) =>
  `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${rest}`;

/** Resolves CloudFormation intrinsics against local resource values. */
export class IntrinsicResolver {
  constructor(
    private readonly assembly: CloudAssembly,
    private readonly localValues: LocalResourceValues = () => undefined,
  ) {}

  resolve(value: Json, stack: string): Json {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item, stack));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value as Record<string, Json>);
    const [first] = entries;
    if (entries.length === 1 && first && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
      return this.intrinsic(first[0], first[1], stack);
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item, stack)]));
  }

  resolveString(value: Json, stack: string, where: string): string {
    try {
      const resolved = this.resolve(value, stack);
      if (typeof resolved === 'string') return resolved;
      if (typeof resolved === 'number' || typeof resolved === 'boolean') return String(resolved);
      throw new UnresolvableError(`resolves to ${JSON.stringify(resolved)}, not a string`);
    } catch (error) {
      if (error instanceof UnresolvableError) throw new TemplateError(`${where}: ${error.message}`);
      throw error;
    }
  }

  private intrinsic(name: string, argument: Json, stack: string): Json {
    switch (name) {
      case 'Ref':
        return this.attribute({ stack, logicalId: String(argument) }, undefined);
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument)
          ? (argument as string[])
          : String(argument).split(/\.(.*)/s);
        return this.attribute({ stack, logicalId: String(logicalId) }, String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, Json[]];
        return (this.resolve(parts, stack) as Json[]).map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [Json, Json];
        const items = this.resolve(list, stack) as Json[];
        return items[Number(this.resolve(index, stack))];
      }
      case 'Fn::Split': {
        const [separator, source] = argument as [string, Json];
        return String(this.resolve(source, stack)).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables = {}] = Array.isArray(argument)
          ? (argument as [string, Record<string, Json>])
          : [String(argument), {}];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, reference: string) => {
          if (reference in variables) return String(this.resolve(variables[reference], stack));
          const [logicalId, attribute] = reference.split(/\.(.*)/s);
          return String(this.attribute({ stack, logicalId: logicalId as string }, attribute));
        });
      }
      case 'Fn::GetStackOutput': {
        const { StackName, OutputName } = argument as { StackName: string; OutputName: string };
        const producer = this.assembly.stackByName(StackName);
        const output = producer.outputs[OutputName];
        if (!output) throw new UnresolvableError(`stack ${StackName} has no output ${OutputName}`);
        return this.resolve(output.Value, producer.artifactId);
      }
      case 'Fn::ImportValue': {
        const exportName = String(this.resolve(argument, stack));
        for (const producer of this.assembly.stacks) {
          for (const output of Object.values(producer.outputs)) {
            const named = (output as { Export?: { Name?: Json } }).Export?.Name;
            if (named !== undefined && this.resolve(named, producer.artifactId) === exportName) {
              return this.resolve(output.Value, producer.artifactId);
            }
          }
        }
        throw new UnresolvableError(`no stack exports ${exportName}`);
      }
      default:
        throw new UnresolvableError(`${name} is not resolved locally`);
    }
  }

  private attribute(id: ResourceId, attribute: string | undefined): string {
    const pseudo = PSEUDO_PARAMETERS[id.logicalId];
    if (pseudo !== undefined)
      return id.logicalId === 'AWS::StackName' ? this.assembly.stack(id.stack).stackName : pseudo;
    const resource = this.assembly.stack(id.stack).resources[id.logicalId];
    if (!resource) throw new UnresolvableError(`no resource ${idOf(id)}`);
    const name = this.assembly.nameOf(id);
    const local = this.localValues({ ...id, type: resource.Type, name }, attribute);
    if (local !== undefined) return local;
    return this.defaultAttribute(id, resource, name, attribute);
  }

  private defaultAttribute(
    id: ResourceId,
    resource: CfnResource,
    name: string,
    attribute: string | undefined,
  ) {
    const ref = attribute === undefined;
    const properties = resource.Properties ?? {};
    switch (resource.Type) {
      case 'AWS::DynamoDB::Table':
        return ref ? name : arn('dynamodb', `table/${name}`);
      case 'AWS::Lambda::Function':
        return ref ? name : arn('lambda', `function:${name}`);
      case 'AWS::Lambda::Alias': {
        const functionArn = this.attribute(
          { stack: id.stack, logicalId: String((properties.FunctionName as { Ref: string }).Ref) },
          'Arn',
        );
        return `${functionArn}:${String(properties.Name)}`;
      }
      case 'AWS::StepFunctions::StateMachine':
        return ref || attribute === 'Arn' ? arn('states', `stateMachine:${name}`) : name;
      case 'AWS::StepFunctions::StateMachineAlias':
      case 'AWS::StepFunctions::StateMachineVersion':
        return this.stateMachineArnOf(id, resource);
      case 'AWS::SQS::Queue':
        if (attribute === 'QueueName') return name;
        if (attribute === 'Arn') return arn('sqs', name);
        throw new UnresolvableError(`the URL of queue ${idOf(id)} is only known once it exists`);
      case 'AWS::IAM::Role':
        return ref ? name : `arn:aws:iam::${LOCAL_ACCOUNT_ID}:role/${name}`;
      case 'AWS::Logs::LogGroup':
        return ref ? name : arn('logs', `log-group:${name}:*`);
      case 'AWS::SecretsManager::Secret':
      case 'AWS::SecretsManager::SecretTargetAttachment':
        return arn('secretsmanager', `secret:${name}`);
      case 'AWS::Events::EventBus':
        return ref || attribute === 'Name' ? name : arn('events', `event-bus/${name}`);
      case 'AWS::SNS::Topic':
        return arn('sns', name);
      case 'AWS::RDS::DBProxy':
        if (attribute === 'DBProxyArn') return arn('rds', `db-proxy:prx-${id.logicalId}`);
        break;
    }
    if (attribute === 'Arn') return arn(resource.Type.split('::')[1]?.toLowerCase() ?? 'local', name);
    if (ref) return name;
    throw new UnresolvableError(`${resource.Type} ${idOf(id)} has no local ${attribute}`);
  }

  /** A state machine alias or version: the ARN of its state machine, qualified. */
  private stateMachineArnOf(id: ResourceId, resource: CfnResource): string {
    const properties = resource.Properties ?? {};
    if (resource.Type === 'AWS::StepFunctions::StateMachineVersion') {
      return `${this.resolve(properties.StateMachineArn, id.stack) as string}:1`;
    }
    const routing = (properties.RoutingConfiguration ?? [
      {
        StateMachineVersionArn: (properties.DeploymentPreference as Record<string, Json>)
          ?.StateMachineVersionArn,
      },
    ]) as { StateMachineVersionArn: Json }[];
    const versionArn = String(this.resolve(routing[0]?.StateMachineVersionArn, id.stack));
    return `${versionArn.slice(0, versionArn.lastIndexOf(':'))}:${String(properties.Name)}`;
  }
}

const PSEUDO_PARAMETERS: Record<string, string> = {
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT_ID,
  'AWS::Partition': 'aws',
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': '',
  'AWS::NoValue': '',
};

/** Reads the application out of the assembly, resolving what it needs with `resolver`. */
export function readLocalApplication(assembly: CloudAssembly, resolver: IntrinsicResolver): LocalApplication {
  // In this order: the first part that cannot be resolved is the one reported.
  const functions = readFunctions(assembly, resolver);
  const queues = readQueues(assembly);
  return {
    functions,
    queues,
    tables: readTables(assembly),
    eventSourceMappings: readEventSourceMappings(assembly, resolver, queues),
    stateMachines: readStateMachines(assembly, resolver),
    schedules: readSchedules(assembly),
    apiMethods: readApiMethods(assembly, (stack, value) => functionOf(assembly, stack, value)),
    policies: readPolicies(assembly, resolver),
  };
}

/** The resource a `Ref` or `Fn::GetAtt` names. */
function refOf(stack: string, value: Json): ResourceId {
  const logicalId =
    (value as { Ref?: string })?.Ref ?? (value as { 'Fn::GetAtt'?: string[] })?.['Fn::GetAtt']?.[0];
  if (typeof logicalId !== 'string')
    throw new TemplateError(`expected a Ref or GetAtt, got ${JSON.stringify(value)}`);
  return { stack, logicalId };
}

/** The function behind an alias, a function, or an ARN naming one (`Fn::Join` of an alias). */
function functionOf(assembly: CloudAssembly, stack: string, value: Json): ResourceId {
  const text = JSON.stringify(value);
  for (const { stack: fnStack, logicalId, resource } of assembly.resourcesOfType('AWS::Lambda::Alias')) {
    if (fnStack === stack && text.includes(`"${logicalId}"`)) {
      return refOf(stack, resource.Properties?.FunctionName);
    }
  }
  return refOf(stack, value);
}

/** The app's functions: those CDK built from an entry of ours (it is in their metadata). */
function readFunctions(assembly: CloudAssembly, resolver: IntrinsicResolver): TemplateFunction[] {
  return assembly.resourcesOfType('AWS::Lambda::Function').flatMap(({ stack, logicalId, resource }) => {
    const properties = resource.Properties ?? {};
    const entry = resource.Metadata?.[ENTRY_METADATA];
    // Functions CDK makes for itself (custom resources, log retention) are not the app's.
    if (typeof entry !== 'string') return [];
    const id = { stack, logicalId };
    const where = `function ${assembly.nameOf(id)}`;
    const variables = ((properties.Environment as { Variables?: Record<string, Json> })?.Variables ??
      {}) as Record<string, Json>;
    const environment = Object.fromEntries(
      Object.entries(variables).map(([name, value]) => [
        name,
        resolver.resolveString(value, stack, `${where}, environment variable ${name}`),
      ]),
    );
    const handler = String(properties.Handler ?? 'index.handler');
    const fn: TemplateFunction = {
      ...id,
      name: assembly.nameOf(id),
      arn: resolver.resolveString({ 'Fn::GetAtt': [logicalId, 'Arn'] }, stack, where),
      entry,
      handlerExport: handler.slice(handler.lastIndexOf('.') + 1),
      memoryMb: Number(properties.MemorySize ?? 128),
      timeoutSeconds: Number(properties.Timeout ?? 3),
      ...(properties.ReservedConcurrentExecutions !== undefined
        ? { reservedConcurrency: Number(properties.ReservedConcurrentExecutions) }
        : {}),
      environment,
      role: refOf(stack, properties.Role),
    };
    return [fn];
  });
}

function readTables(assembly: CloudAssembly): TemplateTable[] {
  return assembly.resourcesOfType('AWS::DynamoDB::Table').map(({ stack, logicalId, resource }) => ({
    stack,
    logicalId,
    name: assembly.nameOf({ stack, logicalId }),
    keySchema: resource.Properties?.KeySchema as TemplateTable['keySchema'],
    attributeDefinitions: resource.Properties?.AttributeDefinitions as TemplateTable['attributeDefinitions'],
  }));
}

/** Each mapping with the queue its `EventSourceArn` names, found by the ARN it resolves to. */
function readEventSourceMappings(
  assembly: CloudAssembly,
  resolver: IntrinsicResolver,
  queues: readonly TemplateQueue[],
): TemplateEventSourceMapping[] {
  const queueArns = new Map(
    queues.map((queue) => [
      resolver.resolveString({ 'Fn::GetAtt': [queue.logicalId, 'Arn'] }, queue.stack, `queue ${queue.name}`),
      queue,
    ]),
  );
  return assembly.resourcesOfType('AWS::Lambda::EventSourceMapping').map(({ stack, logicalId, resource }) => {
    const properties = resource.Properties ?? {};
    const sourceArn = resolver.resolveString(
      properties.EventSourceArn,
      stack,
      `event source mapping ${logicalId}`,
    );
    const queue = queueArns.get(sourceArn);
    if (!queue)
      throw new TemplateError(`event source mapping ${logicalId}: ${sourceArn} is not a queue of the app`);
    const scaling = properties.ScalingConfig as { MaximumConcurrency?: number } | undefined;
    return {
      queue,
      function: functionOf(assembly, stack, properties.FunctionName),
      batchSize: Number(properties.BatchSize ?? 10),
      ...(scaling?.MaximumConcurrency !== undefined
        ? { maximumConcurrency: scaling.MaximumConcurrency }
        : {}),
      reportBatchItemFailures: ((properties.FunctionResponseTypes as string[]) ?? []).includes(
        'ReportBatchItemFailures',
      ),
    };
  });
}

/** Each state machine with its definition (inline or an S3 asset) and its substitutions resolved. */
function readStateMachines(assembly: CloudAssembly, resolver: IntrinsicResolver): TemplateStateMachine[] {
  return assembly
    .resourcesOfType('AWS::StepFunctions::StateMachine')
    .map(({ stack, logicalId, resource }) => {
      const properties = resource.Properties ?? {};
      const id = { stack, logicalId };
      const where = `state machine ${assembly.nameOf(id)}`;
      const substitutions = Object.fromEntries(
        Object.entries((properties.DefinitionSubstitutions ?? {}) as Record<string, Json>).map(
          ([name, value]) => [name, resolver.resolveString(value, stack, `${where}, substitution ${name}`)],
        ),
      );
      return {
        ...id,
        name: assembly.nameOf(id),
        arn: resolver.resolveString({ Ref: logicalId }, stack, where),
        definition:
          properties.DefinitionString !== undefined
            ? resolver.resolveString(properties.DefinitionString, stack, `${where}, definition`)
            : assembly.fileAsset((properties.DefinitionS3Location as { Key: string }).Key),
        substitutions,
        role: refOf(stack, properties.RoleArn),
      };
    });
}

/** The enabled `rate(...)` schedules and the function each targets. */
function readSchedules(assembly: CloudAssembly): TemplateSchedule[] {
  return assembly.resourcesOfType('AWS::Scheduler::Schedule').flatMap(({ stack, logicalId, resource }) => {
    const properties = resource.Properties ?? {};
    const rate = /^rate\((\d+) (minutes?|hours?|seconds?)\)$/.exec(String(properties.ScheduleExpression));
    if (!rate || properties.State === 'DISABLED') return [];
    const unit = { second: 1, minute: 60, hour: 3600 }[(rate[2] as string).replace(/s$/, '') as 'second'];
    return [
      {
        name: assembly.nameOf({ stack, logicalId }),
        rateSeconds: Number(rate[1]) * unit,
        target: functionOf(assembly, stack, (properties.Target as { Arn: Json }).Arn),
      },
    ];
  });
}

/** The queues of the assembly: these need no resolving, and exist before anything else is read. */
export function readQueues(assembly: CloudAssembly): TemplateQueue[] {
  const refOf = (stack: string, value: Json): ResourceId => ({
    stack,
    logicalId: String(
      (value as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt']?.[0] ?? (value as { Ref?: string }).Ref,
    ),
  });
  return assembly.resourcesOfType('AWS::SQS::Queue').map(({ stack, logicalId, resource }) => {
    const properties = resource.Properties ?? {};
    const redrive = properties.RedrivePolicy as
      | { deadLetterTargetArn: Json; maxReceiveCount: Json }
      | undefined;
    const queue: TemplateQueue = {
      stack,
      logicalId,
      name: assembly.nameOf({ stack, logicalId }),
      visibilityTimeoutSeconds: Number(properties.VisibilityTimeout ?? 30),
      retentionSeconds: Number(properties.MessageRetentionPeriod ?? 345_600),
      ...(redrive
        ? {
            redrive: {
              deadLetterQueue: refOf(stack, redrive.deadLetterTargetArn),
              maxReceiveCount: Number(redrive.maxReceiveCount),
            },
          }
        : {}),
    };
    return queue;
  });
}

function readApiMethods(
  assembly: CloudAssembly,
  functionOf: (stack: string, value: Json) => ResourceId,
): TemplateApiMethod[] {
  return assembly.resourcesOfType('AWS::ApiGateway::Method').flatMap(({ stack, resource }) => {
    const properties = resource.Properties ?? {};
    const integration = properties.Integration as { Type?: string; Uri?: Json } | undefined;
    if (integration?.Type !== 'AWS_PROXY' || properties.HttpMethod === 'OPTIONS') return [];
    const segments: string[] = [];
    let parent = properties.ResourceId as Json;
    for (;;) {
      const ref = (parent as { Ref?: string }).Ref;
      if (!ref) break;
      const pathResource = assembly.resource({ stack, logicalId: ref });
      if (pathResource.Type !== 'AWS::ApiGateway::Resource') break;
      segments.unshift(String(pathResource.Properties?.PathPart));
      parent = pathResource.Properties?.ParentId;
    }
    return [
      {
        httpMethod: String(properties.HttpMethod),
        path: `/${segments.join('/')}`,
        authorizationType: String(properties.AuthorizationType ?? 'NONE') as AuthorizationType,
        apiKeyRequired: properties.ApiKeyRequired === true,
        validatesBody: properties.RequestValidatorId !== undefined && properties.RequestModels !== undefined,
        function: functionOf(stack, integration.Uri),
      },
    ];
  });
}

function readPolicies(assembly: CloudAssembly, resolver: IntrinsicResolver): Map<string, PolicyStatement[]> {
  const policies = new Map<string, PolicyStatement[]>();
  const add = (role: ResourceId, document: Json, stack: string) => {
    const statements = ((document as { Statement?: Json[] })?.Statement ?? []).map((statement) =>
      toStatement(statement as Record<string, Json>, stack, resolver),
    );
    policies.set(idOf(role), [...(policies.get(idOf(role)) ?? []), ...statements]);
  };
  for (const { stack, logicalId, resource } of assembly.resourcesOfType('AWS::IAM::Role')) {
    policies.set(idOf({ stack, logicalId }), policies.get(idOf({ stack, logicalId })) ?? []);
    for (const inline of (resource.Properties?.Policies ?? []) as { PolicyDocument: Json }[]) {
      add({ stack, logicalId }, inline.PolicyDocument, stack);
    }
  }
  for (const { stack, resource } of assembly.resourcesOfType('AWS::IAM::Policy')) {
    for (const role of (resource.Properties?.Roles ?? []) as Json[]) {
      const logicalId = (role as { Ref?: string }).Ref;
      if (logicalId) add({ stack, logicalId }, resource.Properties?.PolicyDocument, stack);
    }
  }
  return policies;
}

function toStatement(
  statement: Record<string, Json>,
  stack: string,
  resolver: IntrinsicResolver,
): PolicyStatement {
  const list = (value: Json): string[] => {
    if (value === undefined) return [];
    const items = Array.isArray(value) ? value : [value];
    return items.map((item) => {
      try {
        return resolver.resolveString(item, stack, 'policy statement');
      } catch {
        // A resource that cannot be resolved locally matches nothing, as a wrong ARN would.
        return `unresolved:${JSON.stringify(item)}`;
      }
    });
  };
  return {
    effect: statement.Effect === 'Deny' ? 'Deny' : 'Allow',
    actions: list(statement.Action),
    resources: list(statement.Resource),
  };
}
