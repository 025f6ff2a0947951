import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { RustFunction } from 'cargo-lambda-cdk';
import { Construct } from 'constructs';
import { environmentOf, FUNCTIONS_DIR, FunctionDeclaration, REPO_ROOT, reservedConcurrencyOf } from './declarations';
import type { VigilSettings } from './vigil-stack';

export { REPO_ROOT };

/**
 * A role whose grants land in one customer-managed policy instead of the
 * inline `DefaultPolicy` CDK would create: the HIPAA pack (IAMNoInlinePolicy)
 * refuses inline policies, and a managed policy is also easier to review on
 * its own. Every `grant*()` call and event source still works unchanged,
 * because they all go through `addToPrincipalPolicy`.
 */
export class ManagedPolicyRole extends iam.Role {
  private managed?: iam.ManagedPolicy;

  public addToPrincipalPolicy(statement: iam.PolicyStatement): iam.AddToPrincipalPolicyResult {
    if (!this.managed) {
      this.managed = new iam.ManagedPolicy(this, 'Policy', {
        description: `Least-privilege grants of ${this.node.path}`,
        roles: [this],
      });
    }
    this.managed.addStatements(statement);
    return { statementAdded: true, policyDependable: this.managed };
  }

  /** The managed policy holding this role's grants (created on the first grant). */
  public get policy(): iam.ManagedPolicy | undefined {
    return this.managed;
  }
}

export interface VigilFunctionProps {
  /**
   * What functions/<name>/function.json declares: name (the crate and binary, kebab-case,
   * the same everywhere), description, timeout, memory, reserved concurrency (so that the
   * function can neither starve the others nor be starved by them; a fixed value says
   * why there) and environment.
   */
  readonly declaration: FunctionDeclaration;
  /** The stack's resources by key: the values of the declaration's `resource` variables. */
  readonly resources: Readonly<Record<string, string>>;
  /**
   * Values of `default` and `optional` variables, by variable name, from stack settings
   * (VITALS_TTL_DAYS, VOICE_ORIGINATION_IDENTITY when given): set only on functions that
   * declare them.
   */
  readonly fromSettings?: Readonly<Record<string, string | undefined>>;
  /** The stack settings a declared reserved concurrency may name (`shards`, `ingestConcurrency`). */
  readonly settings: VigilSettings;
  /** Key for the environment variables (they include table and secret names). */
  readonly environmentKey: kms.IKey;
  /** Key for the log group. */
  readonly logKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** Only for asynchronously invoked (scheduled) functions: where failed events go. */
  readonly deadLetterQueue?: sqs.IQueue;
  /**
   * Lambda's own retries of a failed asynchronous invocation (scheduled and SNS-triggered
   * functions). EventBridge's retries of a failed delivery are the declared schedule's.
   */
  readonly retryAttempts?: number;
  /**
   * Asynchronously invoked functions whose failed events must be kept with their payload
   * (sms-reply): the on-failure destination of the invocation config.
   */
  readonly onFailure?: lambda.IDestination;
}

/**
 * One Vigil Lambda: a cargo-lambda-cdk `RustFunction` (arm64, provided.al2023)
 * built from the workspace with `cargo lambda build --release --arm64 --bin
 * <name>`, with its own role, its own KMS-encrypted log group and JSON logs
 * (the Rust runtime's tracing subscriber switches to JSON under that format).
 *
 * Bundling runs only when the stack needs it: tests and CI synthesize with the
 * `aws:cdk:bundling-stacks` context set to `[]` (see bin/vigil.ts), so no Rust
 * is compiled there and a synth never needs the crates to build. A real
 * `cdk deploy` bundles, and fails early with a clear message if a declared
 * function has no crate (a function.json without a Cargo.toml next to it).
 */
export class VigilFunction extends Construct {
  public readonly declaration: FunctionDeclaration;
  public readonly fn: lambda.Function;
  public readonly role: ManagedPolicyRole;
  public readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: VigilFunctionProps) {
    super(scope, id);
    const decl = props.declaration;
    this.declaration = decl;
    const crate = path.join(FUNCTIONS_DIR, decl.name, 'Cargo.toml');
    if (Stack.of(this).bundlingRequired && !fs.existsSync(crate)) {
      throw new Error(
        `${crate} does not exist: the ${decl.name} function (${decl.file}) cannot be built. ` +
          'Synthesize without bundling (npm run synth:nobundle) or add the crate.',
      );
    }

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      encryptionKey: props.logKey,
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    this.role = new ManagedPolicyRole(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${decl.name}`,
    });
    // Only its own log group: not AWSLambdaBasicExecutionRole (logs:* on every group).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );

    this.fn = new RustFunction(this, 'Function', {
      manifestPath: path.join(REPO_ROOT, 'Cargo.toml'),
      binaryName: decl.name,
      architecture: lambda.Architecture.ARM_64,
      runtime: 'provided.al2023',
      description: decl.description,
      role: this.role,
      environment: environmentOf(decl, props.resources, props.fromSettings),
      environmentEncryption: props.environmentKey,
      timeout: Duration.seconds(decl.timeoutSecs),
      memorySize: decl.memoryMb,
      reservedConcurrentExecutions: reservedConcurrencyOf(decl, props.settings),
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.WARN,
      deadLetterQueueEnabled: props.deadLetterQueue !== undefined ? true : undefined,
      deadLetterQueue: props.deadLetterQueue,
      retryAttempts: props.retryAttempts,
      onFailure: props.onFailure,
    });
  }
}
