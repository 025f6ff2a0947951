// Unit tests of the Vigil stack: the resources and settings issue #7 asks for.
// Run with `npm test` (node:test through ts-node); no Rust is compiled (bundling off).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp, STACK_NAME } from '../lib/app';
import {
  DECLARATIONS,
  declarationOf,
  environmentOf,
  FUNCTIONS_DIR,
  loadDeclarations,
  parseDeclaration,
  reservedConcurrencyOf,
  schedulePropsOf,
  topicOf,
  variableSettingDefault,
} from '../lib/declarations';
import {
  ALERTS_BY_WEARER_INDEX,
  checkedLinkBaseUrl,
  CURATED_BY_STATUS_INDEX,
  DAILY_SUMMARY_SUSTAINED_RUNS,
  DEFAULT_SETTINGS,
  DEFAULT_VARIABLE_SETTINGS,
  DELIVERIES_BY_PHONE_INDEX,
  DELIVERIES_DUE_INDEX,
  LAST_LEVEL_METRIC,
  STATE_CHECK_INDEX,
  MAX_LINK_BASE_URL_CHARS,
  MAX_PROVISIONED_UNITS,
  OPTIONAL_VARIABLE_SETTINGS,
  pascalCase,
  PUBLIC_ROUTE_THROTTLE,
  VigilSettings,
  VigilStack,
} from '../lib/vigil-stack';

type Resources = Record<string, { Type: string; Properties: any; Metadata?: any; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

/** The app as `cdk synth` builds it (bundling off), with `-c vigil:<name>=<value>` settings. */
function synthesize(context: Record<string, string> = {}) {
  const app = buildApp(new App({ postCliContext: { 'aws:cdk:bundling-stacks': [] }, context }));
  const stack = app.node.findChild(STACK_NAME) as VigilStack;
  // Synthesizing runs the cdk-nag packs: an unacknowledged error throws here.
  const assembly = app.synth();
  const template = Template.fromStack(stack as Stack);
  return { stack, assembly, template, resources: template.toJSON().Resources as Resources };
}

const { assembly, template, resources } = synthesize();

/** Every functions/<name>/function.json as written (the expectations below read the files, not the parser). */
const DECLARED: Array<{ name: string; json: any }> = fs
  .readdirSync(FUNCTIONS_DIR)
  .filter((name) => fs.existsSync(path.join(FUNCTIONS_DIR, name, 'function.json')))
  .sort()
  .map((name) => ({ name, json: JSON.parse(fs.readFileSync(path.join(FUNCTIONS_DIR, name, 'function.json'), 'utf8')) }));
const FUNCTIONS = DECLARED.map((d) => d.name);

/** A crate's Lambda function, found by the logical id derived from its name (IngestApi... for ingest-api). */
function lambdaIn(res: Resources, name: string): { id: string; props: any } {
  const hits = Object.entries(res).filter(([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(`${pascalCase(name)}Function`));
  assert.equal(hits.length, 1, `one function for ${name}`);
  return { id: hits[0][0], props: hits[0][1].Properties };
}

function lambdaOf(name: string): { id: string; props: any } {
  return lambdaIn(resources, name);
}

/** The logical id of the one resource of this type whose id starts with `prefix`. */
function idOf(res: Resources, type: string, prefix: string): string {
  const hits = Object.entries(res).filter(([id, r]) => r.Type === type && id.startsWith(prefix)).map(([id]) => id);
  assert.equal(hits.length, 1, `one ${type} ${prefix}...: ${hits.join(', ')}`);
  return hits[0];
}

/** The user pool client each kind of HTTP user signs in with (`users` in a declaration's http trigger). */
const CLIENT_OF_USERS: Record<string, string> = { app: 'AppUsersMobileApp', caregivers: 'AppUsersCaregiverApp' };

/** The JWT authorizer whose audience is exactly the client of `users`. */
function authorizerOf(res: Resources, users: string): string {
  const client = idOf(res, 'AWS::Cognito::UserPoolClient', CLIENT_OF_USERS[users]);
  const hits = Object.entries(res)
    .filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Authorizer')
    .filter(([, r]) => JSON.stringify(r.Properties.JwtConfiguration.Audience) === JSON.stringify([{ Ref: client }]))
    .map(([id]) => id);
  assert.equal(hits.length, 1, `one authorizer whose audience is ${client} alone`);
  return hits[0];
}

/** EventBridge's rate expression for a whole number of minutes, as CloudFormation receives it (hours when whole). */
function rateExpression(minutes: number): string {
  const [n, unit] = minutes % 60 === 0 ? [minutes / 60, 'hour'] : [minutes, 'minute'];
  return `rate(${n} ${unit}${n === 1 ? '' : 's'})`;
}

/**
 * What a declaration says, checked against a synthesized template under `settings`:
 * description, environment, timeout, memory, reserved concurrency and the trigger.
 */
function assertDeployedAsDeclared(res: Resources, settings: VigilSettings): void {
  const valueOfResource = new Map<string, string>();
  for (const { name, json } of DECLARED) {
    const { id, props } = lambdaIn(res, name);
    const byDescription = Object.entries(res).filter(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.Description === json.description);
    assert.deepEqual(byDescription.map(([fid]) => fid), [id], `${name}: found by its description too`);

    // Environment: exactly the resource and default variables, and the optional ones whose
    // stack setting was given (to that setting's value); local ones never.
    const vars = props.Environment?.Variables ?? {};
    const entries = Object.entries(json.environment as Record<string, any>);
    const optionalValue = (k: string) => {
      const setting = OPTIONAL_VARIABLE_SETTINGS[k];
      return setting === undefined ? undefined : (settings as any)[setting];
    };
    const deployed = entries
      .filter(([k, v]) => v.resource !== undefined || v.default !== undefined || (v.optional && optionalValue(k) !== undefined))
      .map(([k]) => k);
    assert.deepEqual(Object.keys(vars).sort(), deployed.sort(), `${name}: environment variables`);
    for (const [k, v] of entries) {
      const setting = DEFAULT_VARIABLE_SETTINGS[k];
      if (v.default !== undefined && setting === undefined) assert.equal(vars[k], v.default, `${name} ${k}: the declared default`);
      if (v.default !== undefined && setting !== undefined) assert.equal(vars[k], String(settings[setting]), `${name} ${k}: its setting's value`);
      if (v.optional && optionalValue(k) !== undefined) assert.equal(vars[k], optionalValue(k), `${name} ${k}: its setting's value`);
      if (v.local) assert.equal(vars[k], undefined, `${name} ${k}: local only`);
      if (v.resource !== undefined) {
        // The same resource key is the same value in every function.
        const value = JSON.stringify(vars[k]);
        assert.ok(vars[k] !== undefined && vars[k] !== '', `${name} ${k}: resource ${v.resource} has a value`);
        if (valueOfResource.has(v.resource)) assert.equal(value, valueOfResource.get(v.resource), `${name} ${k}: resource ${v.resource}`);
        valueOfResource.set(v.resource, value);
      }
    }

    assert.equal(props.Timeout, json.timeoutSecs, `${name}: timeout`);
    assert.equal(props.MemorySize, json.memoryMb, `${name}: memory`);
    const c = json.reservedConcurrency;
    // perShard: per concurrent batch of each shard (the mapping's parallelization factor).
    const lanes = json.trigger.kinesis?.parallelizationFactor ?? 1;
    const reserved = c.setting !== undefined ? (settings as any)[c.setting] : c.perShard !== undefined ? settings.shards * lanes * c.perShard : c.fixed;
    assert.equal(typeof reserved, 'number', `${name}: reserved concurrency resolves to a number`);
    assert.equal(props.ReservedConcurrentExecutions, reserved, `${name}: reserved concurrency`);

    const esms = Object.values(res).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && r.Properties.FunctionName.Ref === id);
    const rules = Object.values(res).filter(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties.Targets.some((t: any) => t.Arn['Fn::GetAtt']?.[0] === id),
    );
    const integrations = Object.entries(res).filter(
      ([, r]) => r.Type === 'AWS::ApiGatewayV2::Integration' && r.Properties.IntegrationUri['Fn::GetAtt']?.[0] === id,
    );
    const subscriptions = Object.values(res).filter(
      (r) => r.Type === 'AWS::SNS::Subscription' && r.Properties.Protocol === 'lambda' && r.Properties.Endpoint['Fn::GetAtt']?.[0] === id,
    );
    const invokeConfigs = Object.values(res).filter((r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && r.Properties.FunctionName.Ref === id);
    const { http, kinesis, schedule, sns } = json.trigger;
    assert.equal(esms.length, kinesis ? 1 : 0, `${name}: event source mappings`);
    assert.equal(rules.length, schedule ? 1 : 0, `${name}: schedules`);
    assert.equal(integrations.length, http ? 1 : 0, `${name}: API integrations`);
    assert.equal(subscriptions.length, sns ? 1 : 0, `${name}: SNS subscriptions`);
    // Asynchronously invoked (schedule, SNS): Lambda's own retries are configured.
    assert.equal(invokeConfigs.length, schedule || sns ? 1 : 0, `${name}: asynchronous invocation config`);
    if (sns) {
      // The topic the declaration names (the stack's topics map: inboundSmsTopic is InboundSmsTopic).
      const topic = idOf(res, 'AWS::SNS::Topic', pascalCase(sns.topic.replace(/([A-Z])/g, '-$1').toLowerCase()));
      assert.deepEqual(subscriptions[0].Properties.TopicArn, { Ref: topic }, `${name}: subscribed to ${sns.topic}`);
      const cfg = invokeConfigs[0].Properties;
      assert.equal(cfg.MaximumRetryAttempts, sns.retryAttempts, `${name}: MaximumRetryAttempts`);
      const destination = cfg.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0];
      assert.equal(res[destination].Type, 'AWS::SQS::Queue', `${name}: its on-failure destination is a queue`);
      // SNS may invoke it, from that topic only.
      const permissions = Object.values(res).filter(
        (r) => r.Type === 'AWS::Lambda::Permission' && r.Properties.FunctionName['Fn::GetAtt']?.[0] === id && r.Properties.Principal === 'sns.amazonaws.com',
      );
      assert.equal(permissions.length, 1, `${name}: SNS invoke permission`);
      assert.deepEqual(permissions[0].Properties.SourceArn, { Ref: topic }, `${name}: from its topic only`);
    }
    if (kinesis) {
      const p = esms[0].Properties;
      assert.equal(p.BatchSize, kinesis.batchSize, `${name}: BatchSize`);
      assert.equal(p.MaximumBatchingWindowInSeconds, kinesis.maxBatchingWindowSecs, `${name}: MaximumBatchingWindowInSeconds`);
      assert.equal(p.MaximumRetryAttempts, kinesis.retryAttempts, `${name}: MaximumRetryAttempts`);
      assert.equal(p.MaximumRecordAgeInSeconds, kinesis.maxRecordAgeHours * 3600, `${name}: MaximumRecordAgeInSeconds`);
      assert.equal(p.BisectBatchOnFunctionError, kinesis.bisectBatchOnError, `${name}: BisectBatchOnFunctionError`);
      assert.equal(p.ParallelizationFactor, kinesis.parallelizationFactor, `${name}: ParallelizationFactor`);
      assert.equal(p.StartingPosition, kinesis.startingPosition, `${name}: StartingPosition`);
      assert.deepEqual(p.FunctionResponseTypes, ['ReportBatchItemFailures'], `${name}: FunctionResponseTypes`);
      // Through its own enhanced fan-out consumer of the stream, or the stream itself.
      const source = p.EventSourceArn['Fn::GetAtt'][0];
      const stream = idOf(res, 'AWS::Kinesis::Stream', 'Readings');
      if (kinesis.enhancedFanOut) {
        assert.equal(res[source].Type, 'AWS::Kinesis::StreamConsumer', `${name}: reads through a consumer`);
        assert.deepEqual(res[source].Properties.StreamARN, { 'Fn::GetAtt': [stream, 'Arn'] }, `${name}: a consumer of the readings stream`);
      } else {
        assert.equal(source, stream, `${name}: reads the stream's shared throughput`);
      }
    }
    if (schedule) {
      const minutes = schedule.setting !== undefined ? (settings as any)[schedule.setting] : schedule.rateMinutes;
      const p = rules[0].Properties;
      assert.equal(p.ScheduleExpression, rateExpression(minutes), `${name}: ScheduleExpression`);
      const target = p.Targets.find((t: any) => t.Arn['Fn::GetAtt']?.[0] === id);
      assert.deepEqual(
        target.RetryPolicy,
        { MaximumRetryAttempts: schedule.retryAttempts, MaximumEventAgeInSeconds: schedule.maxEventAgeMinutes * 60 },
        `${name}: the target's retry policy`,
      );
    }
    if (http) {
      const integrationId = integrations[0][0];
      const routes = Object.values(res).filter(
        (r) => r.Type === 'AWS::ApiGatewayV2::Route' && JSON.stringify(r.Properties.Target).includes(integrationId),
      );
      assert.deepEqual(routes.map((r) => r.Properties.RouteKey).sort(), [...http.routes].sort(), `${name}: routes`);
      if (http.users === 'public') {
        // No sign-in: no authorizer at all (the function checks its own credential).
        for (const r of routes) {
          assert.equal(r.Properties.AuthorizationType, 'NONE', `${name} ${r.Properties.RouteKey}: public`);
          assert.equal(r.Properties.AuthorizerId, undefined, `${name} ${r.Properties.RouteKey}: no authorizer`);
        }
      } else {
        // Every route behind the JWT authorizer of the declared users (and only their client).
        const authorizer = authorizerOf(res, http.users);
        for (const r of routes) {
          assert.equal(r.Properties.AuthorizationType, 'JWT', `${name} ${r.Properties.RouteKey}: authorization`);
          assert.deepEqual(r.Properties.AuthorizerId, { Ref: authorizer }, `${name} ${r.Properties.RouteKey}: the ${http.users} authorizer`);
        }
      }
    }
  }
}

/** Every IAM statement of the managed policy attached to a function's role. */
function statementsOf(name: string): any[] {
  const { props } = lambdaOf(name);
  const roleId = props.Role['Fn::GetAtt'][0];
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles).includes(roleId))
    .flatMap((r) => r.Properties.PolicyDocument.Statement);
}

describe('cdk-nag', () => {
  it('AwsSolutions and HIPAA Security report no unacknowledged error', () => {
    // Reaching this line means synth did not fail; the report must also list no failure.
    const file = path.join(assembly.directory, 'validation-report.json');
    const report = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : { pluginReports: [] };
    const failures = JSON.stringify(report.pluginReports);
    assert.ok(!/"status":\s*"failure"/.test(failures), failures.slice(0, 2000));
  });

  it('every acknowledgement carries a specific reason', () => {
    const acks = Object.values(resources).flatMap((r) => r.Metadata?.cdk_nag?.rules_to_suppress ?? []);
    assert.ok(acks.length > 10);
    for (const a of acks) assert.ok(a.reason && a.reason.length > 40, `short reason for ${a.id}: ${a.reason}`);
  });
});

describe('functions', () => {
  it('are arm64 provided.al2023 with encrypted env, JSON logs and reserved concurrency', () => {
    for (const name of FUNCTIONS) {
      const { props } = lambdaOf(name);
      assert.deepEqual(props.Architectures, ['arm64'], name);
      assert.equal(props.Runtime, 'provided.al2023', name);
      assert.equal(props.Handler, 'bootstrap', name);
      assert.ok(props.KmsKeyArn, `${name} env key`);
      assert.equal(props.LoggingConfig.LogFormat, 'JSON', name);
      assert.ok(props.ReservedConcurrentExecutions >= 1, name);
    }
  });

  it('never carry the pseudonym key itself, only its secret\'s ARN', () => {
    const all = JSON.stringify(template.toJSON());
    assert.doesNotMatch(all, /resolve:secretsmanager/);
    for (const name of FUNCTIONS) assert.equal(lambdaOf(name).props.Environment.Variables.PSEUDONYM_KEY, undefined, name);
  });

  it('have no wildcard action and no AWS managed policy', () => {
    for (const name of FUNCTIONS) {
      for (const s of statementsOf(name)) {
        for (const a of [s.Action].flat()) assert.ok(!String(a).includes('*'), `${name}: ${a}`);
      }
      const roleId = lambdaOf(name).props.Role['Fn::GetAtt'][0];
      assert.equal(resources[roleId].Properties.ManagedPolicyArns, undefined, name);
    }
  });

  it('grant Resource "*" only for SMS publish and Data API statement reads', () => {
    for (const name of FUNCTIONS) {
      for (const s of statementsOf(name).filter((s) => s.Resource === '*')) {
        const actions = [s.Action].flat().sort();
        const ok =
          JSON.stringify(actions) === JSON.stringify(['sns:Publish']) ||
          (actions.every((a: string) => a.startsWith('redshift-data:')) && s.Condition);
        assert.ok(ok, `${name}: ${JSON.stringify(s)}`);
      }
    }
    // SMS publishers: alerts and escalation steps, and reply confirmations.
    const publishers = FUNCTIONS.filter((name) => statementsOf(name).some((s) => [s.Action].flat().includes('sns:Publish')));
    assert.deepEqual(publishers, ['alert-processor', 'daily-summary', 'offline-detector', 'sms-reply']);
  });

  it('scheduled functions have a dead-letter queue; the detector, loader and daily summary run one at a time', () => {
    for (const name of ['offline-detector', 'warehouse-loader', 'daily-summary']) {
      const { props } = lambdaOf(name);
      assert.ok(props.DeadLetterConfig?.TargetArn, name);
      assert.equal(props.ReservedConcurrentExecutions, 1, name);
    }
  });
});

/** A statement's resources as `<logical id>` or `<logical id>/suffix` (GetAtt Arn, or a Join after it). */
function resourceNames(s: any): string[] {
  return [s.Resource].flat().map((r: any) => {
    if (typeof r === 'string') return r;
    if (r['Fn::GetAtt']) return r['Fn::GetAtt'][0];
    const parts = r['Fn::Join']?.[1];
    if (Array.isArray(parts) && parts[0]?.['Fn::GetAtt'] && parts.slice(1).every((p: unknown) => typeof p === 'string')) {
      return `${parts[0]['Fn::GetAtt'][0]}${parts.slice(1).join('')}`;
    }
    return JSON.stringify(r);
  });
}

/** Every `action resource` pair a function's policy allows, sorted. */
function grantsOf(name: string): string[] {
  const pairs = statementsOf(name).flatMap((s) => {
    assert.equal(s.Effect, 'Allow');
    return [s.Action].flat().flatMap((a: string) => resourceNames(s).map((r) => `${a} ${r}`));
  });
  return [...new Set(pairs)].sort();
}

describe('care-api', () => {
  const table = (prefix: string) => idOf(resources, 'AWS::DynamoDB::Table', prefix);

  it('gets its declared environment: the tables by key, the request budget by default', () => {
    const { props } = lambdaOf('care-api');
    assert.deepEqual(props.Environment.Variables, {
      WEARERS_TABLE: { Ref: table('WearersTable') },
      CAREGIVERS_TABLE: { Ref: table('CaregiversTable') },
      CAREGIVER_LINKS_TABLE: { Ref: table('CaregiverLinksTable') },
      ALERTS_TABLE: { Ref: table('AlertsTable') },
      VITALS_TABLE: { Ref: table('VitalsTable') },
      DAYS_TABLE: { Ref: table('DaysTable') },
      DATA_BUCKET: { Ref: idOf(resources, 'AWS::S3::Bucket', 'DataBucket') },
      CURATED_FILES_TABLE: { Ref: table('CuratedFilesTable') },
      PSEUDONYM_KEY_SECRET_ARN: { Ref: idOf(resources, 'AWS::SecretsManager::Secret', 'PseudonymKey') },
      REQUEST_BUDGET_MS: '4000',
    });
    assert.equal(props.ReservedConcurrentExecutions, DEFAULT_SETTINGS.careConcurrency);
    assert.equal(props.Timeout, 10);
    assert.ok(props.KmsKeyArn);
    // Its own encrypted log group, like every function.
    assert.deepEqual(props.LoggingConfig.LogGroup, { Ref: idOf(resources, 'AWS::Logs::LogGroup', 'CareApiLogs') });
  });

  it('is granted exactly its reads, snooze and alert-lifecycle updates, and curated alert files (least privilege)', () => {
    const wearers = table('WearersTable');
    const links = table('CaregiverLinksTable');
    const alerts = table('AlertsTable');
    const vitals = table('VitalsTable');
    const dataKey = idOf(resources, 'AWS::KMS::Key', 'DataKey');
    const logs = idOf(resources, 'AWS::Logs::LogGroup', 'CareApiLogs');
    assert.deepEqual(
      grantsOf('care-api'),
      [
        `dynamodb:GetItem ${wearers}`,
        `dynamodb:UpdateItem ${wearers}`,
        `dynamodb:BatchGetItem ${table('CaregiversTable')}`,
        // The daily-message opt-in rewrites the caller's own caregiver record.
        `dynamodb:GetItem ${table('CaregiversTable')}`,
        `dynamodb:PutItem ${table('CaregiversTable')}`,
        `dynamodb:GetItem ${links}`,
        `dynamodb:Query ${links}`,
        `dynamodb:GetItem ${alerts}`,
        `dynamodb:UpdateItem ${alerts}`,
        `dynamodb:Query ${alerts}`,
        `dynamodb:Query ${alerts}/index/${ALERTS_BY_WEARER_INDEX}`,
        `dynamodb:Query ${vitals}`,
        `dynamodb:Query ${table('DaysTable')}`,
        // Curated alert files, exactly as alert-processor writes them.
        ...grantsOf('alert-processor').filter((g) =>
          [idOf(resources, 'AWS::S3::Bucket', 'DataBucket'), table('CuratedFilesTable'), idOf(resources, 'AWS::SecretsManager::Secret', 'PseudonymKey')].some((id) => g.includes(id))),
        `kms:Decrypt ${dataKey}`,
        `kms:GenerateDataKey ${dataKey}`,
        `kms:DescribeKey ${dataKey}`,
        `logs:CreateLogStream ${logs}`,
        `logs:PutLogEvents ${logs}`,
      ].sort(),
    );
  });

  it('cannot create or delete alerts, write vitals, or touch the stream', () => {
    const grants = grantsOf('care-api');
    const on = (resource: string) => grants.filter((g) => g.split(' ')[1].startsWith(resource)).map((g) => g.split(' ')[0]);
    const writes = ['dynamodb:PutItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem', 'dynamodb:TransactWriteItems'];
    for (const w of writes) assert.ok(!on(table('AlertsTable')).includes(w), `alerts: ${w}`);
    for (const t of ['VitalsTable', 'CaregiverLinksTable']) {
      for (const w of [...writes, 'dynamodb:UpdateItem']) assert.ok(!on(table(t)).includes(w), `${t}: ${w}`);
    }
    const stream = idOf(resources, 'AWS::Kinesis::Stream', 'Readings');
    assert.deepEqual(on(stream), []);
    assert.ok(!grants.some((g) => g.startsWith('kinesis:')), 'no Kinesis action');
    assert.ok(!JSON.stringify(statementsOf('care-api')).includes(stream), 'the stream appears nowhere in its policy');
    // No Scan anywhere: caregivers' wearers come from the links table.
    assert.ok(!grants.some((g) => g.startsWith('dynamodb:Scan')));
  });

  it('no function writes the caregiver links (vigil register-wearer does)', () => {
    const links = table('CaregiverLinksTable');
    for (const name of FUNCTIONS) {
      const onLinks = grantsOf(name).filter((g) => g.split(' ')[1] === links).map((g) => g.split(' ')[0]);
      assert.deepEqual(onLinks.filter((a) => !['dynamodb:GetItem', 'dynamodb:Query'].includes(a)), [], name);
      if (name !== 'care-api') assert.deepEqual(onLinks, [], name);
    }
  });
});

describe('functions/<name>/function.json', () => {
  it('every function crate is declared, and every declaration is a function of the stack', () => {
    const crates = fs.readdirSync(FUNCTIONS_DIR).filter((n) => fs.existsSync(path.join(FUNCTIONS_DIR, n, 'Cargo.toml'))).sort();
    assert.deepEqual(FUNCTIONS, crates);
    assert.deepEqual(DECLARATIONS.map((d) => d.name), FUNCTIONS);
    const lambdas = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    assert.equal(lambdas.length, DECLARED.length);
  });

  it('each function is deployed as declared (default settings)', () => {
    assertDeployedAsDeclared(resources, DEFAULT_SETTINGS);
  });

  it('each function is deployed as declared (other shards, ingest and care concurrency, load rate)', () => {
    const context = { 'vigil:shards': '3', 'vigil:ingestConcurrency': '20', 'vigil:careConcurrency': '7', 'vigil:loadEveryMinutes': '30' };
    const other = synthesize(context);
    const settings: VigilSettings = { ...DEFAULT_SETTINGS, shards: 3, ingestConcurrency: 20, careConcurrency: 7, loadEveryMinutes: 30 };
    assert.deepEqual(other.stack.settings, settings);
    assertDeployedAsDeclared(other.resources, settings);
    // perShard: 3 shards × 4 concurrent batches each × 2, not the default's 2 × 4 × 2.
    assert.equal(lambdaIn(other.resources, 'alert-processor').props.ReservedConcurrentExecutions, 24);
    assert.equal(lambdaIn(other.resources, 'care-api').props.ReservedConcurrentExecutions, 7);
    other.template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(30 minutes)' });
  });

  it('the settings the cost model prices: provisioned stream tables, the upload interval, vitals and warehouse retention', () => {
    // Under the defaults every table is on demand and each variable has its declared default.
    for (const [variable, setting] of Object.entries(DEFAULT_VARIABLE_SETTINGS)) {
      assert.equal(DEFAULT_SETTINGS[setting], variableSettingDefault(variable), variable);
      // Each declaration of the variable names its setting (docs/functions.md shows it).
      const declaring = DECLARATIONS.filter((d) => d.environment[variable]?.kind === 'default');
      assert.ok(declaring.length > 0, variable);
      for (const d of declaring) assert.match(DECLARED.find((x) => x.name === d.name)!.json.environment[variable].meaning, new RegExp(`\\b${setting}\\b`), `${d.name} ${variable}`);
    }
    assert.equal(Object.values(resources).filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget').length, 0);

    const context = {
      'vigil:dynamodbProvisioned': 'true',
      'vigil:provisionedMinUnits': '250',
      'vigil:uploadEverySeconds': '600',
      'vigil:vitalsTtlDays': '10',
      'vigil:warehouseRetentionDays': '92',
    };
    const lean = synthesize(context);
    const settings: VigilSettings = {
      ...DEFAULT_SETTINGS,
      dynamodbProvisioned: true,
      provisionedMinUnits: 250,
      uploadEverySeconds: 600,
      vitalsTtlDays: 10,
      warehouseRetentionDays: 92,
    };
    assert.deepEqual(lean.stack.settings, settings);
    assertDeployedAsDeclared(lean.resources, settings);
    assert.equal(lambdaIn(lean.resources, 'ingest-api').props.Environment.Variables.UPLOAD_ROUTINE_EVERY_SECS, '600');
    assert.equal(lambdaIn(lean.resources, 'vitals-writer').props.Environment.Variables.VITALS_TTL_DAYS, '10');
    assert.equal(lambdaIn(lean.resources, 'warehouse-loader').props.Environment.Variables.WAREHOUSE_RETENTION_DAYS, '92');

    // The vitals and wearer-state tables (and the state's index) provisioned; every other on demand.
    const modes = Object.fromEntries(
      Object.entries(lean.resources)
        .filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')
        .map(([id, r]) => [id.replace(/Table.*$/, ''), r.Properties.BillingMode ?? 'PROVISIONED']), // CloudFormation's default
    );
    assert.deepEqual(
      Object.entries(modes).filter(([, mode]) => mode === 'PROVISIONED').map(([id]) => id).sort(),
      ['Vitals', 'WearerState'],
    );
    assert.ok(Object.values(modes).every((mode) => mode === 'PROVISIONED' || mode === 'PAY_PER_REQUEST'), JSON.stringify(modes));
    const state = Object.values(lean.resources).find((r) => r.Type === 'AWS::DynamoDB::Table' && r.Properties.GlobalSecondaryIndexes?.[0]?.IndexName === STATE_CHECK_INDEX)!;
    assert.deepEqual(state.Properties.ProvisionedThroughput, { ReadCapacityUnits: 250, WriteCapacityUnits: 250 });
    assert.deepEqual(state.Properties.GlobalSecondaryIndexes[0].ProvisionedThroughput, { ReadCapacityUnits: 250, WriteCapacityUnits: 250 });

    // Reads and writes of both tables and of the index scale, each from 250 units, at 70 % use.
    const targets = Object.values(lean.resources).filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalableTarget');
    assert.deepEqual(
      targets.map((t) => t.Properties.ScalableDimension).sort(),
      [
        'dynamodb:index:ReadCapacityUnits',
        'dynamodb:index:WriteCapacityUnits',
        'dynamodb:table:ReadCapacityUnits',
        'dynamodb:table:ReadCapacityUnits',
        'dynamodb:table:WriteCapacityUnits',
        'dynamodb:table:WriteCapacityUnits',
      ],
    );
    for (const t of targets) {
      assert.equal(t.Properties.MinCapacity, 250);
      assert.equal(t.Properties.MaxCapacity, MAX_PROVISIONED_UNITS);
    }
    // A throttle alarm on each provisioned table, none on demand.
    const throttleAlarms = (res: Resources) => Object.keys(res).filter((id) => /^(Vitals|WearerState)TableThrottled/.test(id)).length;
    assert.equal(throttleAlarms(lean.resources), 2);
    assert.equal(throttleAlarms(resources), 0);
    const policies = Object.values(lean.resources).filter((r) => r.Type === 'AWS::ApplicationAutoScaling::ScalingPolicy');
    assert.equal(policies.length, 6);
    for (const p of policies) assert.equal(p.Properties.TargetTrackingScalingPolicyConfiguration.TargetValue, 70);

    // Values outside each setting's range fail the synth, naming the setting.
    const bad: Array<[string, string]> = [
      ['uploadEverySeconds', '59'],
      ['uploadEverySeconds', '601'],
      ['uploadEverySeconds', '90.5'],
      ['vitalsTtlDays', '9'],
      ['warehouseRetentionDays', '0'],
      ['provisionedMinUnits', '0'],
      ['provisionedMinUnits', String(MAX_PROVISIONED_UNITS + 1)],
    ];
    for (const [key, value] of bad) {
      assert.throws(() => synthesize({ 'vigil:dynamodbProvisioned': 'true', [`vigil:${key}`]: value }), new RegExp(`vigil:${key}=`), `${key}=${value}`);
    }
    assert.throws(() => variableSettingDefault('NOT_DECLARED'), /NOT_DECLARED/);
  });

  it('a schedule\'s setting defaults to the declared rate', () => {
    const withSetting = DECLARED.filter((d) => d.json.trigger.schedule?.setting !== undefined);
    assert.ok(withSetting.length >= 1);
    for (const { json } of withSetting) {
      assert.equal((DEFAULT_SETTINGS as any)[json.trigger.schedule.setting], json.trigger.schedule.rateMinutes);
    }
    const loader = DECLARED.find((d) => d.name === 'warehouse-loader')!.json.trigger.schedule;
    assert.equal(loader.setting, 'loadEveryMinutes');
    assert.equal(DEFAULT_SETTINGS.loadEveryMinutes, loader.rateMinutes);
  });

  it('a variable naming a resource the stack does not have fails, naming the function and the variable', () => {
    const decl = parseDeclaration('example-fn', {
      description: 'an example',
      timeoutSecs: 10,
      memoryMb: 128,
      reservedConcurrency: { fixed: 1, why: 'an example' },
      environment: {
        DEVICES_TABLE: { resource: 'devicesTable', meaning: 'known' },
        NOPE_TABLE: { resource: 'nopeTable', meaning: 'not a resource of the stack' },
      },
      trigger: { http: { users: 'app', routes: ['GET /x'] } },
    });
    assert.throws(() => environmentOf(decl, { devicesTable: 'Devices' }), /example-fn.*NOPE_TABLE.*"nopeTable"/);
    // A real declaration against a map without its resources.
    assert.throws(() => environmentOf(declarationOf('ingest-api'), {}), /functions\/ingest-api\/function\.json: STREAM_NAME .*"readingsStream"/);
    // local and optional variables are never set; defaults are.
    const loader = declarationOf('warehouse-loader');
    const all = Object.fromEntries(
      Object.values(loader.environment).flatMap((v) => (v.kind === 'resource' ? [[v.resource, `<${v.resource}>`]] : [])),
    );
    const env = environmentOf(loader, all);
    assert.equal(env.REDSHIFT_SECRET_ARN, undefined);
    assert.equal(env.LOAD_MAX_FILES, '500');
    assert.equal(env.COPY_ROLE_ARN, '<copyRole>');
    // An optional variable is set only when its value is given; a local one never.
    const detector = declarationOf('offline-detector');
    const detectorResources = Object.fromEntries(
      Object.values(detector.environment).flatMap((v) => (v.kind === 'resource' ? [[v.resource, `<${v.resource}>`]] : [])),
    );
    assert.equal(environmentOf(detector, detectorResources).VOICE_ORIGINATION_IDENTITY, undefined);
    const withVoice = environmentOf(detector, detectorResources, { VOICE_ORIGINATION_IDENTITY: '+34910000000', LINK_KEY: 'never' });
    assert.equal(withVoice.VOICE_ORIGINATION_IDENTITY, '+34910000000');
    assert.equal(withVoice.VOICE_CONFIGURATION_SET, undefined);
    assert.equal(withVoice.LINK_KEY, undefined, 'a local variable is never set');
    // Every optional variable the stack can set is declared optional by some function.
    for (const variable of Object.keys(OPTIONAL_VARIABLE_SETTINGS)) {
      assert.ok(DECLARATIONS.some((d) => d.environment[variable]?.kind === 'optional'), variable);
    }
  });

  it('malformed declarations fail with the file and the field', () => {
    const valid = {
      description: 'd',
      timeoutSecs: 10,
      memoryMb: 128,
      reservedConcurrency: { perShard: 2 },
      environment: {},
      trigger: { schedule: { rateMinutes: 5, retryAttempts: 0, maxEventAgeMinutes: 1 } },
    };
    assert.doesNotThrow(() => parseDeclaration('ok', valid));
    const bad: Array<[unknown, RegExp]> = [
      [{ ...valid, timeoutSecs: undefined }, /functions\/x\/function\.json: missing field\(s\) timeoutSecs/],
      [{ ...valid, timeoutSecs: '10' }, /timeoutSecs: expected an integer/],
      [{ ...valid, memorySize: 128 }, /unknown field\(s\) memorySize/],
      [{ ...valid, reservedConcurrency: { fixed: 1 } }, /reservedConcurrency\.why/],
      [{ ...valid, reservedConcurrency: { fixed: 1, perShard: 2, why: 'w' } }, /reservedConcurrency: expected exactly one of/],
      [{ ...valid, environment: { X: { meaning: 'm' } } }, /environment\.X: expected exactly one of resource, default, local, optional/],
      [{ ...valid, environment: { X: { default: 5, meaning: 'm' } } }, /environment\.X\.default: expected a string/],
      [{ ...valid, environment: { X: { resource: 'r' } } }, /environment\.X: missing field\(s\) meaning/],
      [{ ...valid, trigger: { http: { users: 'app', routes: ['/v1/uploads'] } } }, /trigger\.http\.routes\[0\]: expected "METHOD \/path"/],
      [{ ...valid, trigger: { http: { routes: ['POST /v1/uploads'] } } }, /trigger\.http: missing field\(s\) users/],
      [{ ...valid, trigger: { http: { users: 'admins', routes: ['POST /v1/uploads'] } } }, /trigger\.http\.users: expected "app", "caregivers" or "public", got "admins"/],
      [{ ...valid, trigger: { http: { users: 'app', routes: [] } } }, /trigger\.http\.routes: expected a non-empty list/],
      [{ ...valid, trigger: { kinesis: { batchSize: 10 } } }, /trigger\.kinesis: missing field\(s\)/],
      [{ ...valid, trigger: { schedule: { rateMinutes: 5, retryAttempts: 0 }, http: { routes: [] } } }, /trigger: expected exactly one of/],
      [{ ...valid, trigger: { sns: { retryAttempts: 2 } } }, /trigger\.sns: missing field\(s\) topic/],
      [{ ...valid, trigger: { sns: { topic: 't', retryAttempts: 3 } } }, /trigger\.sns\.retryAttempts: expected an integer from 0 to 2, got 3/],
      [{ ...valid, trigger: { sns: { topic: 't', retryAttempts: 1, batchSize: 10 } } }, /trigger\.sns: unknown field\(s\) batchSize/],
      [{ ...valid, environment: { X: { optional: false, meaning: 'm' } } }, /environment\.X\.optional: expected true/],
    ];
    for (const [json, message] of bad) assert.throws(() => parseDeclaration('x', json), message, JSON.stringify(json));
    // Route keys with path parameters are read as written.
    const withParams = parseDeclaration('x', { ...valid, trigger: { http: { users: 'caregivers', routes: ['GET /v1/wearers/{wearer_id}/alerts'] } } });
    assert.deepEqual(withParams.trigger, {
      kind: 'http',
      users: 'caregivers',
      routes: [{ method: 'GET', path: '/v1/wearers/{wearer_id}/alerts', key: 'GET /v1/wearers/{wearer_id}/alerts' }],
    });
    // Public routes and SNS triggers are read as written.
    const pub = parseDeclaration('x', { ...valid, trigger: { http: { users: 'public', routes: ['GET /a/{token}'] } } });
    assert.equal(pub.trigger.kind === 'http' && pub.trigger.users, 'public');
    const fromTopic = parseDeclaration('x', { ...valid, trigger: { sns: { topic: 'inboundSmsTopic', retryAttempts: 2, why: 'w' } } });
    assert.deepEqual(fromTopic.trigger, { kind: 'sns', sns: { topic: 'inboundSmsTopic', retryAttempts: 2, why: 'w' } });
    assert.throws(() => topicOf(fromTopic, { otherTopic: 1 }), /x\/function\.json: trigger\.sns\.topic names "inboundSmsTopic", which the stack does not have \(known: otherTopic\)/);
    // Settings a declaration names must exist (and be numbers).
    const named = parseDeclaration('x', { ...valid, reservedConcurrency: { setting: 'nope' }, trigger: { schedule: { rateMinutes: 5, retryAttempts: 0, maxEventAgeMinutes: 1, setting: 'alarmEmail' } } });
    assert.throws(() => reservedConcurrencyOf(named, DEFAULT_SETTINGS), /x\/function\.json: reservedConcurrency\.setting names "nope"/);
    assert.throws(() => schedulePropsOf(named, DEFAULT_SETTINGS), /trigger\.schedule\.setting names "alarmEmail"/);
  });

  it('a function crate without a function.json fails to load', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-functions-'));
    try {
      fs.mkdirSync(path.join(dir, 'new-fn'));
      fs.writeFileSync(path.join(dir, 'new-fn', 'Cargo.toml'), '[package]\nname = "new-fn"\n');
      assert.throws(() => loadDeclarations(dir), /new-fn\/function\.json is missing/);
      fs.writeFileSync(path.join(dir, 'new-fn', 'function.json'), '{ "description": ');
      assert.throws(() => loadDeclarations(dir), /new-fn\/function\.json: not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('stream', () => {
  it('is KMS-encrypted with a customer key', () => {
    template.hasResourceProperties('AWS::Kinesis::Stream', {
      StreamEncryption: { EncryptionType: 'KMS', KeyId: Match.objectLike({ 'Fn::GetAtt': Match.arrayWith([Match.stringLikeRegexp('DataKey')]) }) },
      RetentionPeriodHours: 168,
    });
  });

  it('has one event source mapping per stream function, with bounded, reported failures', () => {
    const esms = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    assert.equal(esms.length, 3);
    const targets = esms.map((e) => e.Properties.FunctionName.Ref).sort();
    assert.deepEqual(targets, [lambdaOf('alert-processor').id, lambdaOf('raw-archiver').id, lambdaOf('vitals-writer').id].sort());
    for (const e of esms) {
      const p = e.Properties;
      assert.deepEqual(p.FunctionResponseTypes, ['ReportBatchItemFailures']);
      assert.equal(p.BisectBatchOnFunctionError, true);
      assert.ok(p.MaximumRetryAttempts > 0 && p.MaximumRetryAttempts <= 1000);
      assert.ok(p.MaximumRecordAgeInSeconds > 0 && p.MaximumRecordAgeInSeconds <= 86400);
      // The sinks batch for fewer, larger writes; the alert path does not wait.
      const alerts = p.FunctionName.Ref === lambdaOf('alert-processor').id;
      assert.ok(alerts ? p.MaximumBatchingWindowInSeconds === 0 : p.MaximumBatchingWindowInSeconds >= 1);
      assert.ok(p.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0].includes('Failures'));
    }
  });

  it('failure queues are encrypted and TLS-only; the one holding SMS replies under the data key', () => {
    const queues = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::SQS::Queue');
    assert.equal(queues.length, 7);
    const dataKey = idOf(resources, 'AWS::KMS::Key', 'DataKey');
    for (const [id, q] of queues) {
      if (id.startsWith('SmsReplyFailures')) {
        // sms-reply's failed events carry the reply (a caregiver's number and text): personal data.
        assert.deepEqual(q.Properties.KmsMasterKeyId, { 'Fn::GetAtt': [dataKey, 'Arn'] }, id);
        assert.equal(q.Properties.SqsManagedSseEnabled, undefined, id);
      } else {
        // Kinesis pointers and schedule events only.
        assert.equal(q.Properties.SqsManagedSseEnabled, true, id);
      }
    }
    template.resourcePropertiesCountIs('AWS::SQS::QueuePolicy', Match.objectLike({ PolicyDocument: Match.objectLike({ Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) }) }), 7);
  });
});

describe('storage', () => {
  it('data and quarantine buckets: KMS, versioned, logged, public access blocked', () => {
    const buckets = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::S3::Bucket');
    assert.equal(buckets.length, 3);
    for (const [id, b] of buckets) {
      const p = b.Properties;
      assert.deepEqual(p.PublicAccessBlockConfiguration, { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }, id);
      assert.equal(p.VersioningConfiguration.Status, 'Enabled', id);
      const algo = p.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm;
      if (id.startsWith('AccessLogs')) assert.equal(algo, 'AES256', id);
      else {
        assert.equal(algo, 'aws:kms', id);
        assert.ok(p.LoggingConfiguration.DestinationBucketName, id);
      }
    }
    // enforceSSL on every bucket
    template.resourceCountIs('AWS::S3::BucketPolicy', 3);
  });

  it('raw/ and curated/ move to an archive class after 90 days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'raw/', Status: 'Enabled', Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }] }),
          Match.objectLike({ Prefix: 'curated/', Status: 'Enabled', Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }] }),
        ]),
      },
    });
  });

  it('retention: TTL on expires_at exactly where items expire (docs/storage.md, "Retention")', () => {
    const ttl: Record<string, string | undefined> = {};
    for (const [id, t] of Object.entries(resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table')) {
      const spec = t.Properties.TimeToLiveSpecification;
      ttl[id.replace(/Table.*$/, '')] = spec?.Enabled ? spec.AttributeName : undefined;
    }
    assert.deepEqual(ttl, {
      Devices: undefined,
      Wearers: undefined,
      Caregivers: undefined,
      WearerState: 'expires_at',
      Alerts: 'expires_at',
      Deliveries: 'expires_at',
      CuratedFiles: 'expires_at',
      Vitals: 'expires_at',
      Days: 'expires_at',
      CaregiverLinks: undefined,
    });
  });

  it('retention: lifecycle rules expire raw/, curated/ and quarantine by the settings', () => {
    const rules = (t: Template) =>
      Object.values(t.findResources('AWS::S3::Bucket')).flatMap((b: any) => b.Properties.LifecycleConfiguration?.Rules ?? []);
    const byId = (t: Template) => Object.fromEntries(rules(t).map((r: any) => [r.Id, r]));
    const defaults = byId(template);
    assert.deepEqual(defaults['raw-to-archive-after-90-days-then-expire'], {
      Id: 'raw-to-archive-after-90-days-then-expire',
      Prefix: 'raw/',
      Status: 'Enabled',
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
      ExpirationInDays: 400,
    });
    assert.deepEqual(defaults['curated-to-archive-after-90-days-then-expire'], {
      Id: 'curated-to-archive-after-90-days-then-expire',
      Prefix: 'curated/',
      Status: 'Enabled',
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }],
      ExpirationInDays: 730,
    });
    assert.equal(defaults['expire-quarantine'].ExpirationInDays, 90);
    assert.equal(defaults['expire-quarantine'].Prefix, undefined, 'the whole quarantine bucket');
    assert.equal(defaults['manifests-expire'].ExpirationInDays, 30);

    const set = byId(synthesize({ 'vigil:rawRetentionDays': '60', 'vigil:curatedRetentionDays': '365', 'vigil:quarantineRetentionDays': '30' }).template);
    assert.equal(set['raw-to-archive-after-90-days-then-expire'].ExpirationInDays, 60);
    assert.equal(set['raw-to-archive-after-90-days-then-expire'].Transitions, undefined, 'no archive class for less than its 90-day minimum');
    assert.equal(set['curated-to-archive-after-90-days-then-expire'].ExpirationInDays, 365);
    const short = byId(synthesize({ 'vigil:curatedRetentionDays': '90' }).template);
    assert.equal(short['curated-to-archive-after-90-days-then-expire'].Transitions, undefined, 'no archive class for less than its 90-day minimum');
    assert.equal(set['expire-quarantine'].ExpirationInDays, 30);
    for (const bad of ['0', '1.5', '-3']) {
      assert.throws(() => synthesize({ 'vigil:curatedRetentionDays': bad }), /vigil:curatedRetentionDays/);
    }
  });

  it('tables: KMS, PITR, keys as provisioned locally, TTL on vitals, the loader\'s status index', () => {
    const tables = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 10);
    const keys: Record<string, string> = {};
    for (const [id, t] of tables) {
      const p = t.Properties;
      assert.equal(p.SSESpecification.SSEEnabled, true, id);
      assert.equal(p.SSESpecification.SSEType, 'KMS', id);
      assert.equal(p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true, id);
      assert.equal(p.BillingMode, 'PAY_PER_REQUEST', id);
      assert.equal(p.DeletionProtectionEnabled, true, id);
      assert.equal(t.DeletionPolicy, 'Retain', id);
      keys[id.replace(/Table.*$/, '')] = p.KeySchema.map((k: any) => k.AttributeName).join('+');
    }
    assert.deepEqual(keys, {
      Devices: 'device_id',
      Wearers: 'wearer_id',
      Caregivers: 'caregiver_id',
      WearerState: 'wearer_id',
      Alerts: 'alert_id',
      Deliveries: 'delivery_key',
      CuratedFiles: 'file_key',
      Vitals: 'wearer_id+sk',
      Days: 'wearer_id+date',
      CaregiverLinks: 'caregiver_sub+wearer_id',
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'wearer_id', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
    });
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'file_key', KeyType: 'HASH' }],
      // Loaded files' items expire (crates/vigil-aws/src/warehouse.rs sets expires_at).
      TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: CURATED_BY_STATUS_INDEX,
          KeySchema: [{ AttributeName: 'status', KeyType: 'HASH' }, { AttributeName: 'created_at', KeyType: 'RANGE' }],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['event_date', 'rows', 'bytes', 'kind'] },
        }),
      ],
    });
  });

  it('caregiver links: caregiver_sub + wearer_id, under the data key like the other personal-data tables, backed up', () => {
    const id = idOf(resources, 'AWS::DynamoDB::Table', 'CaregiverLinksTable');
    const links = resources[id] as any;
    const wearersTable = resources[idOf(resources, 'AWS::DynamoDB::Table', 'WearersTable')] as any;
    assert.deepEqual(links.Properties.KeySchema, [
      { AttributeName: 'caregiver_sub', KeyType: 'HASH' },
      { AttributeName: 'wearer_id', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(links.Properties.AttributeDefinitions, [
      { AttributeName: 'caregiver_sub', AttributeType: 'S' },
      { AttributeName: 'wearer_id', AttributeType: 'S' },
    ]);
    // Everything but the keys as the wearers table (encryption key, PITR, billing, protection, removal).
    const { KeySchema: _k1, AttributeDefinitions: _a1, ...linkRest } = links.Properties;
    const { KeySchema: _k2, AttributeDefinitions: _a2, ...wearersRest } = wearersTable.Properties;
    assert.deepEqual(linkRest, wearersRest);
    assert.equal(links.DeletionPolicy, wearersTable.DeletionPolicy);
    assert.equal(links.UpdateReplacePolicy, wearersTable.UpdateReplacePolicy);
    assert.equal(links.Properties.SSESpecification.KMSMasterKeyId['Fn::GetAtt'][0], idOf(resources, 'AWS::KMS::Key', 'DataKey'));
    assert.equal(links.Properties.GlobalSecondaryIndexes, undefined);
    // In the daily backup selection with the other tables.
    const selection = Object.values(resources).find((r) => r.Type === 'AWS::Backup::BackupSelection')!;
    assert.ok(JSON.stringify(selection.Properties).includes(id), 'the links table is backed up');
    template.hasOutput('CaregiverLinksTable', { Value: { Ref: id } });
  });

  it('caregivers: one record per caregiver keyed caregiver_id, never expiring, like the wearers table, backed up', () => {
    const id = idOf(resources, 'AWS::DynamoDB::Table', 'CaregiversTable');
    const caregivers = resources[id] as any;
    const wearersTable = resources[idOf(resources, 'AWS::DynamoDB::Table', 'WearersTable')] as any;
    assert.deepEqual(caregivers.Properties.KeySchema, [{ AttributeName: 'caregiver_id', KeyType: 'HASH' }]);
    assert.equal(caregivers.Properties.TimeToLiveSpecification, undefined, 'caregiver records do not expire');
    // Everything but the keys as the wearers table (data key, PITR, billing, protection, removal).
    const { KeySchema: _k1, AttributeDefinitions: _a1, ...rest } = caregivers.Properties;
    const { KeySchema: _k2, AttributeDefinitions: _a2, ...wearersRest } = wearersTable.Properties;
    assert.deepEqual(rest, wearersRest);
    assert.equal(caregivers.DeletionPolicy, wearersTable.DeletionPolicy);
    assert.equal(caregivers.Properties.SSESpecification.KMSMasterKeyId['Fn::GetAtt'][0], idOf(resources, 'AWS::KMS::Key', 'DataKey'));
    const selection = Object.values(resources).find((r) => r.Type === 'AWS::Backup::BackupSelection')!;
    assert.ok(JSON.stringify(selection.Properties).includes(id), 'the caregivers table is backed up');
    template.hasOutput('CaregiversTable', { Value: { Ref: id } });
    // Every function that reads profiles resolves their caregivers with BatchGetItem, and
    // only that; care-api also rewrites the caller's own record (the daily-message opt-in).
    const readers = ['alert-processor', 'offline-detector', 'daily-summary', 'care-api', 'ack-link', 'sms-reply'];
    for (const name of readers) {
      assert.equal(lambdaOf(name).props.Environment.Variables.CAREGIVERS_TABLE.Ref, id, name);
      const want = name === 'care-api' ? ['BatchGetItem', 'GetItem', 'PutItem'] : ['BatchGetItem'];
      assert.deepEqual(grantsOf(name).filter((g) => g.endsWith(` ${id}`)), want.map((a) => `dynamodb:${a} ${id}`), name);
    }
    for (const name of FUNCTIONS.filter((n) => !readers.includes(n))) {
      assert.ok(!grantsOf(name).some((g) => g.endsWith(` ${id}`)), `${name} has no access to caregivers`);
    }
  });

  it('alerts: the wearer_id-raised_at-index (ALL projection) for care-api', () => {
    const alerts = resources[idOf(resources, 'AWS::DynamoDB::Table', 'AlertsTable')].Properties;
    assert.equal(ALERTS_BY_WEARER_INDEX, 'wearer_id-raised_at-index');
    assert.deepEqual(alerts.KeySchema, [{ AttributeName: 'alert_id', KeyType: 'HASH' }]);
    assert.deepEqual(alerts.GlobalSecondaryIndexes, [
      {
        IndexName: 'wearer_id-raised_at-index',
        KeySchema: [{ AttributeName: 'wearer_id', KeyType: 'HASH' }, { AttributeName: 'raised_at', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      },
    ]);
    assert.deepEqual(
      [...alerts.AttributeDefinitions].sort((a: any, b: any) => a.AttributeName.localeCompare(b.AttributeName)),
      [
        { AttributeName: 'alert_id', AttributeType: 'S' },
        { AttributeName: 'raised_at', AttributeType: 'S' },
        { AttributeName: 'wearer_id', AttributeType: 'S' },
      ],
    );
  });

  it('deliveries: the due index (ALL) for offline-detector and the phone index (INCLUDE alert_id, caregiver_id) for sms-reply', () => {
    const deliveries = resources[idOf(resources, 'AWS::DynamoDB::Table', 'DeliveriesTable')].Properties;
    assert.equal(DELIVERIES_DUE_INDEX, 'due_shard-not_before-index');
    assert.equal(DELIVERIES_BY_PHONE_INDEX, 'phone-sent_at-index');
    assert.deepEqual(deliveries.KeySchema, [{ AttributeName: 'delivery_key', KeyType: 'HASH' }]);
    assert.deepEqual(deliveries.GlobalSecondaryIndexes, [
      {
        IndexName: 'due_shard-not_before-index',
        KeySchema: [{ AttributeName: 'due_shard', KeyType: 'HASH' }, { AttributeName: 'not_before', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      },
      {
        IndexName: 'phone-sent_at-index',
        KeySchema: [{ AttributeName: 'phone', KeyType: 'HASH' }, { AttributeName: 'sent_at', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['alert_id', 'caregiver_id'] },
      },
    ]);
    assert.deepEqual(
      [...deliveries.AttributeDefinitions].sort((a: any, b: any) => a.AttributeName.localeCompare(b.AttributeName)),
      ['delivery_key', 'due_shard', 'not_before', 'phone', 'sent_at'].map((n) => ({ AttributeName: n, AttributeType: 'S' })),
    );
  });

  it('wearer state: the sparse check index (check_shard + check_at, KEYS_ONLY) offline-detector queries', () => {
    const state = resources[idOf(resources, 'AWS::DynamoDB::Table', 'WearerStateTable')].Properties;
    assert.equal(STATE_CHECK_INDEX, 'check_shard-check_at-index');
    assert.deepEqual(state.KeySchema, [{ AttributeName: 'wearer_id', KeyType: 'HASH' }]);
    assert.deepEqual(state.GlobalSecondaryIndexes, [
      {
        IndexName: 'check_shard-check_at-index',
        KeySchema: [{ AttributeName: 'check_shard', KeyType: 'HASH' }, { AttributeName: 'check_at', KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    assert.deepEqual(
      [...state.AttributeDefinitions].sort((a: any, b: any) => a.AttributeName.localeCompare(b.AttributeName)),
      ['check_at', 'check_shard', 'wearer_id'].map((n) => ({ AttributeName: n, AttributeType: 'S' })),
    );
  });

  it('deliveries: an upgrade adds one index per deploy (vigil:deliveriesPhoneIndex=false first)', () => {
    const first = synthesize({ 'vigil:deliveriesPhoneIndex': 'false' });
    const table = first.resources[idOf(first.resources, 'AWS::DynamoDB::Table', 'DeliveriesTable')].Properties;
    assert.deepEqual(table.GlobalSecondaryIndexes.map((i: any) => i.IndexName), [DELIVERIES_DUE_INDEX]);
    assertDeployedAsDeclared(first.resources, { ...DEFAULT_SETTINGS, deliveriesPhoneIndex: false });
  });

  it('the pseudonym key is generated in Secrets Manager under the data key', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 64, ExcludePunctuation: true }),
      KmsKeyId: Match.anyValue(),
    });
  });
});

describe('api', () => {
  it('POST /v1/uploads behind a Cognito JWT authorizer', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: Match.objectLike({ Issuer: Match.anyValue(), Audience: Match.anyValue() }),
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /v1/uploads', AuthorizationType: 'JWT' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', { PayloadFormatVersion: '2.0', IntegrationType: 'AWS_PROXY' });
  });

  it('two app clients on the one user pool, with the same flows and token lifetimes; both ids are outputs', () => {
    const clients = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Cognito::UserPoolClient');
    assert.equal(clients.length, 2);
    const mobile = resources[idOf(resources, 'AWS::Cognito::UserPoolClient', 'AppUsersMobileApp')].Properties;
    const caregiver = resources[idOf(resources, 'AWS::Cognito::UserPoolClient', 'AppUsersCaregiverApp')].Properties;
    assert.deepEqual(caregiver, mobile);
    assert.equal(caregiver.GenerateSecret, false);
    assert.deepEqual([...caregiver.ExplicitAuthFlows].sort(), ['ALLOW_ADMIN_USER_PASSWORD_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH', 'ALLOW_USER_SRP_AUTH']);
    assert.equal(caregiver.PreventUserExistenceErrors, 'ENABLED');
    assert.deepEqual(caregiver.UserPoolId, { Ref: idOf(resources, 'AWS::Cognito::UserPool', 'AppUsers') });
    template.hasOutput('AppClientId', { Value: { Ref: idOf(resources, 'AWS::Cognito::UserPoolClient', 'AppUsersMobileApp') } });
    template.hasOutput('CaregiverAppClientId', { Value: { Ref: idOf(resources, 'AWS::Cognito::UserPoolClient', 'AppUsersCaregiverApp') } });
  });

  it('two JWT authorizers on the same pool, each accepting only its own client', () => {
    const authorizers = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Authorizer');
    assert.equal(authorizers.length, 2);
    const app = authorizerOf(resources, 'app');
    const caregivers = authorizerOf(resources, 'caregivers');
    assert.notEqual(app, caregivers);
    const issuers = authorizers.map(([, r]) => JSON.stringify(r.Properties.JwtConfiguration.Issuer));
    assert.equal(issuers[0], issuers[1], 'the same user pool');
    for (const [, r] of authorizers) {
      assert.equal(r.Properties.AuthorizerType, 'JWT');
      assert.equal(r.Properties.JwtConfiguration.Audience.length, 1);
    }
  });

  it('care-api\'s routes use the caregivers\' authorizer, /v1/uploads the app one; every route is authorized', () => {
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route').map((r) => r.Properties);
    const byKey = new Map(routes.map((r) => [r.RouteKey as string, r]));
    const care = DECLARED.find((d) => d.name === 'care-api')!.json.trigger.http;
    assert.equal(care.users, 'caregivers');
    assert.ok(care.routes.length >= 1);
    const caregivers = authorizerOf(resources, 'caregivers');
    const app = authorizerOf(resources, 'app');
    for (const key of care.routes) {
      assert.ok(byKey.has(key), `route ${key}`);
      assert.deepEqual(byKey.get(key)!.AuthorizerId, { Ref: caregivers }, key);
    }
    for (const key of ['GET /v1/wearers/{wearer_id}', 'POST /v1/alerts/{alert_id}/acknowledge']) {
      assert.deepEqual(byKey.get(key)?.AuthorizerId, { Ref: caregivers }, key);
    }
    assert.deepEqual(byKey.get('POST /v1/uploads')!.AuthorizerId, { Ref: app });
    // Every route keeps its JWT authorizer but the public ones a declaration names.
    const publicKeys = new Set(DECLARED.filter((d) => d.json.trigger.http?.users === 'public').flatMap((d) => d.json.trigger.http.routes));
    assert.deepEqual([...publicKeys].sort(), ['GET /a/{token}', 'POST /a/{token}']);
    for (const r of routes) {
      if (publicKeys.has(r.RouteKey)) continue;
      assert.equal(r.AuthorizationType, 'JWT', r.RouteKey);
      assert.ok([{ Ref: caregivers }, { Ref: app }].some((a) => JSON.stringify(a) === JSON.stringify(r.AuthorizerId)), r.RouteKey);
    }
    assert.equal(routes.length, DECLARED.flatMap((d) => d.json.trigger.http?.routes ?? []).length);
    // The integration waits a little longer than the function may run.
    const careIntegration = Object.values(resources).find(
      (r) => r.Type === 'AWS::ApiGatewayV2::Integration' && r.Properties.IntegrationUri['Fn::GetAtt']?.[0] === lambdaOf('care-api').id,
    )!.Properties;
    assert.equal(careIntegration.PayloadFormatVersion, '2.0');
    assert.ok(careIntegration.TimeoutInMillis > lambdaOf('care-api').props.Timeout * 1000);
    assert.ok(careIntegration.TimeoutInMillis <= 30000);
  });

  it('is throttled and access-logged without bodies', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!.Properties;
    assert.ok(stage.DefaultRouteSettings.ThrottlingRateLimit > 0);
    assert.ok(stage.DefaultRouteSettings.ThrottlingBurstLimit > 0);
    const format = stage.AccessLogSettings.Format as string;
    assert.ok(format.includes('$context.requestId'));
    assert.ok(!/body|\$input/i.test(format), format);
  });
});

describe('acknowledgement links, SMS replies and escalation calls', () => {
  const table = (prefix: string) => idOf(resources, 'AWS::DynamoDB::Table', prefix);
  const dataKey = idOf(resources, 'AWS::KMS::Key', 'DataKey');
  const linkKey = idOf(resources, 'AWS::SecretsManager::Secret', 'LinkKey');
  const topic = idOf(resources, 'AWS::SNS::Topic', 'InboundSmsTopic');
  /** Curated alert files and the pseudonym key, exactly as alert-processor has them. */
  const curatedGrants = () =>
    grantsOf('alert-processor').filter((g) =>
      [idOf(resources, 'AWS::S3::Bucket', 'DataBucket'), table('CuratedFilesTable'), idOf(resources, 'AWS::SecretsManager::Secret', 'PseudonymKey')].some((id) => g.includes(id)),
    );
  const dataKeyGrants = [`kms:Decrypt ${dataKey}`, `kms:GenerateDataKey ${dataKey}`, `kms:DescribeKey ${dataKey}`];
  const logGrants = (prefix: string) => {
    const logs = idOf(resources, 'AWS::Logs::LogGroup', `${prefix}Logs`);
    return [`logs:CreateLogStream ${logs}`, `logs:PutLogEvents ${logs}`];
  };
  const linkKeyGrants = [`secretsmanager:GetSecretValue ${JSON.stringify({ Ref: linkKey })}`, `secretsmanager:DescribeSecret ${JSON.stringify({ Ref: linkKey })}`];

  it('ack-link: GET and POST /a/{token} with no authorizer, throttled per route, acknowledged in cdk-nag with the reason', () => {
    const routes = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Route' && / \/a\//.test(r.Properties.RouteKey));
    assert.deepEqual(routes.map(([, r]) => r.Properties.RouteKey).sort(), ['GET /a/{token}', 'POST /a/{token}']);
    const stage = Object.entries(resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    for (const [id, r] of routes) {
      assert.equal(r.Properties.AuthorizationType, 'NONE', id);
      assert.equal(r.Properties.AuthorizerId, undefined, id);
      // The integration is ack-link's, payload 2.0.
      const integration = resources[r.Properties.Target['Fn::Join'][1][1].Ref].Properties;
      assert.equal(integration.IntegrationUri['Fn::GetAtt'][0], lambdaOf('ack-link').id);
      assert.equal(integration.PayloadFormatVersion, '2.0');
      const acks = r.Metadata?.cdk_nag?.rules_to_suppress ?? [];
      const apig4 = acks.find((a: any) => a.id === 'AwsSolutions-APIG4');
      assert.ok(apig4, `${id}: APIG4 acknowledged`);
      assert.match(apig4.reason, /token in the path.*HMAC-SHA256/);
      // Throttled below the stage, and the stage waits for the route it names.
      assert.deepEqual(stage[1].Properties.RouteSettings[r.Properties.RouteKey], {
        ThrottlingRateLimit: PUBLIC_ROUTE_THROTTLE.rateLimit,
        ThrottlingBurstLimit: PUBLIC_ROUTE_THROTTLE.burstLimit,
        DetailedMetricsEnabled: true,
      });
      assert.ok((stage[1] as any).DependsOn.includes(id), `${stage[0]} depends on ${id}`);
    }
    assert.ok(PUBLIC_ROUTE_THROTTLE.rateLimit < stage[1].Properties.DefaultRouteSettings.ThrottlingRateLimit);
    assert.deepEqual(Object.keys(stage[1].Properties.RouteSettings).sort(), ['GET /a/{token}', 'POST /a/{token}']);
    // Only these routes are public.
    const none = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route' && r.Properties.AuthorizationType !== 'JWT');
    assert.equal(none.length, 2);
    assert.equal(lambdaOf('ack-link').props.ReservedConcurrentExecutions, 10);
  });

  it('ack-link is granted exactly: read and acknowledge alerts, read wearers, the link key, curated alert files', () => {
    const alerts = table('AlertsTable');
    assert.deepEqual(
      grantsOf('ack-link'),
      [
        `dynamodb:GetItem ${alerts}`,
        `dynamodb:UpdateItem ${alerts}`,
        `dynamodb:GetItem ${table('WearersTable')}`,
        `dynamodb:BatchGetItem ${table('CaregiversTable')}`,
        ...linkKeyGrants,
        ...curatedGrants(),
        ...dataKeyGrants,
        ...logGrants('AckLink'),
      ].sort(),
    );
  });

  it('sms-reply is granted exactly: the phone index, alert acknowledgement, wearers, SMS, its failure queue, curated alert files', () => {
    const alerts = table('AlertsTable');
    const queue = idOf(resources, 'AWS::SQS::Queue', 'SmsReplyFailures');
    assert.deepEqual(
      grantsOf('sms-reply'),
      [
        `dynamodb:Query ${table('DeliveriesTable')}/index/${DELIVERIES_BY_PHONE_INDEX}`,
        `dynamodb:GetItem ${alerts}`,
        `dynamodb:UpdateItem ${alerts}`,
        `dynamodb:GetItem ${table('WearersTable')}`,
        `dynamodb:BatchGetItem ${table('CaregiversTable')}`,
        'sns:Publish *',
        `sqs:SendMessage ${queue}`,
        ...curatedGrants(),
        ...dataKeyGrants,
        ...logGrants('SmsReply'),
      ].sort(),
    );
    // Its Resource "*" (SMS to a phone number) is acknowledged, like the other SMS senders'.
    const role = lambdaOf('sms-reply').props.Role['Fn::GetAtt'][0];
    const acks = resources[role].Metadata?.cdk_nag?.rules_to_suppress ?? [];
    assert.ok(acks.some((a: any) => a.id === 'AwsSolutions-IAM5[Resource::*]'), JSON.stringify(acks));
  });

  it('sms-reply: subscribed to the inbound SMS topic, 2 retries, then its on-failure queue (data key), alarmed on depth', () => {
    const id = lambdaOf('sms-reply').id;
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'lambda', TopicArn: { Ref: topic }, Endpoint: { 'Fn::GetAtt': [id, 'Arn'] } });
    const queue = idOf(resources, 'AWS::SQS::Queue', 'SmsReplyFailures');
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: id },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
    });
    assert.deepEqual(resources[queue].Properties.KmsMasterKeyId, { 'Fn::GetAtt': [dataKey, 'Arn'] });
    const depth = Object.values(resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && JSON.stringify(r.Properties.Dimensions).includes(queue),
    );
    assert.equal(depth.length, 1);
  });

  it('the inbound SMS topic: data key, TLS only, End User Messaging may publish for this account only; its ARN is an output', () => {
    const t = resources[topic].Properties;
    assert.deepEqual(t.KmsMasterKeyId, { 'Fn::GetAtt': [dataKey, 'Arn'] });
    const policy = Object.values(resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy' && JSON.stringify(r.Properties.Topics) === JSON.stringify([{ Ref: topic }]))!;
    const statements = policy.Properties.PolicyDocument.Statement;
    const allow = statements.filter((s: any) => s.Effect === 'Allow');
    assert.equal(allow.length, 1);
    assert.deepEqual(allow[0].Principal, { Service: 'sms-voice.amazonaws.com' });
    assert.equal(allow[0].Action, 'sns:Publish');
    assert.deepEqual(allow[0].Resource, { Ref: topic });
    assert.deepEqual(allow[0].Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    assert.match(JSON.stringify(allow[0].Condition.ArnLike['aws:SourceArn']), /:sms-voice:/);
    assert.ok(statements.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'), 'TLS only');
    // The data key lets the service encrypt for this account only (an encrypted topic needs it).
    const keyStatements = resources[dataKey].Properties.KeyPolicy.Statement.filter((s: any) => s.Principal?.Service === 'sms-voice.amazonaws.com');
    assert.equal(keyStatements.length, 1);
    assert.deepEqual([keyStatements[0].Action].flat().sort(), ['kms:Decrypt', 'kms:GenerateDataKey']);
    assert.deepEqual(keyStatements[0].Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
    template.hasOutput('InboundSmsTopicArn', { Value: { Ref: topic } });
    // Only sms-reply is subscribed.
    const subs = Object.values(resources).filter((r) => r.Type === 'AWS::SNS::Subscription' && r.Properties.TopicArn.Ref === topic);
    assert.equal(subs.length, 1);
  });

  it('the link key: 48 letters and digits under the data key, rotation acknowledged, read by its signers and verifier only', () => {
    const secret = resources[linkKey] as any;
    assert.deepEqual(secret.Properties.GenerateSecretString, { ExcludePunctuation: true, IncludeSpace: false, PasswordLength: 48 });
    assert.deepEqual(secret.Properties.KmsKeyId, { 'Fn::GetAtt': [dataKey, 'Arn'] });
    assert.equal(secret.DeletionPolicy, 'Retain');
    const acks = (secret.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((a: any) => a.id).sort();
    assert.deepEqual(acks, ['AwsSolutions-SMG4', 'HIPAA.Security-SecretsManagerRotationEnabled']);
    const readers = FUNCTIONS.filter((name) => grantsOf(name).some((g) => g.includes(linkKey)));
    assert.deepEqual(readers, ['ack-link', 'alert-processor', 'daily-summary', 'offline-detector']);
    for (const name of readers) {
      const vars = lambdaOf(name).props.Environment.Variables;
      assert.deepEqual(vars.LINK_KEY_SECRET_ARN, { Ref: linkKey }, name);
      assert.equal(vars.LINK_KEY, undefined, `${name}: never the key itself`);
    }
  });

  it('LINK_BASE_URL: the API endpoint by default, a short custom domain when vigil:linkBaseUrl is given', () => {
    const api = idOf(resources, 'AWS::ApiGatewayV2::Api', 'Api');
    for (const name of ['alert-processor', 'offline-detector']) {
      const value = lambdaOf(name).props.Environment.Variables.LINK_BASE_URL;
      assert.deepEqual(value, { 'Fn::GetAtt': [api, 'ApiEndpoint'] }, name);
    }
    template.hasOutput('LinkBaseUrl', { Value: lambdaOf('alert-processor').props.Environment.Variables.LINK_BASE_URL });
    assert.equal(MAX_LINK_BASE_URL_CHARS + '/a/'.length + 48, 75);
    assert.equal(checkedLinkBaseUrl(' https://vgl.example.org/ '), 'https://vgl.example.org');
    assert.equal(checkedLinkBaseUrl('https://example.org/vigil'), 'https://example.org/vigil');
    for (const bad of ['http://vgl.example.org', 'vgl.example.org', 'https://vgl.example.org/a b', 'https://']) {
      assert.throws(() => checkedLinkBaseUrl(bad), /vigil:linkBaseUrl/, bad);
    }
  });

  it('offline-detector Queries the due and check indexes and Scans nothing; no function scans the deliveries', () => {
    const deliveries = table('DeliveriesTable');
    const grants = grantsOf('offline-detector');
    assert.ok(grants.includes(`dynamodb:Query ${deliveries}/index/${DELIVERIES_DUE_INDEX}`));
    assert.ok(grants.includes(`dynamodb:Query ${table('WearerStateTable')}/index/${STATE_CHECK_INDEX}`));
    assert.deepEqual(grants.filter((g) => g.startsWith('dynamodb:Scan')), []);
    for (const name of FUNCTIONS) {
      assert.ok(!grantsOf(name).some((g) => g.startsWith('dynamodb:Scan') && g.includes(deliveries)), name);
    }
    // Each index is read by its one function.
    const readers = (index: string) => FUNCTIONS.filter((name) => grantsOf(name).some((g) => g.endsWith(`/index/${index}`)));
    assert.deepEqual(readers(DELIVERIES_DUE_INDEX), ['offline-detector']);
    assert.deepEqual(readers(STATE_CHECK_INDEX), ['offline-detector']);
    assert.deepEqual(readers(DELIVERIES_BY_PHONE_INDEX), ['sms-reply']);
  });

  it('no escalation calls without an origination identity: no sms-voice grant, no VOICE_* variable', () => {
    for (const name of FUNCTIONS) {
      assert.ok(!grantsOf(name).some((g) => g.startsWith('sms-voice:')), name);
      const vars = lambdaOf(name).props.Environment.Variables;
      assert.equal(vars.VOICE_ORIGINATION_IDENTITY, undefined, name);
      assert.equal(vars.VOICE_CONFIGURATION_SET, undefined, name);
    }
  });

  /** Every `action resource` pair of a function's policy in another synthesized template. */
  const grantsIn = (res: Resources, name: string) => {
    const roleId = lambdaIn(res, name).props.Role['Fn::GetAtt'][0];
    return Object.values(res)
      .filter((r) => r.Type === 'AWS::IAM::ManagedPolicy' && JSON.stringify(r.Properties.Roles).includes(roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement)
      .flatMap((s: any) => [s.Action].flat().map((a: string) => ({ action: a, resource: s.Resource })));
  };

  it('with an origination identity ARN and a configuration set: SendVoiceMessage on those only, for offline-detector only', () => {
    const identity = 'arn:aws:sms-voice:eu-west-1:111122223333:phone-number/phone-0123456789abcdef';
    const context = { 'vigil:voiceOriginationIdentity': identity, 'vigil:voiceConfigurationSet': 'vigil-calls', 'vigil:linkBaseUrl': 'https://vgl.example.org/' };
    const other = synthesize(context);
    const settings: VigilSettings = { ...DEFAULT_SETTINGS, voiceOriginationIdentity: identity, voiceConfigurationSet: 'vigil-calls', linkBaseUrl: 'https://vgl.example.org/' };
    assert.deepEqual(other.stack.settings, settings);
    assertDeployedAsDeclared(other.resources, settings);
    const vars = lambdaIn(other.resources, 'offline-detector').props.Environment.Variables;
    assert.equal(vars.VOICE_ORIGINATION_IDENTITY, identity);
    assert.equal(vars.VOICE_CONFIGURATION_SET, 'vigil-calls');
    for (const name of ['alert-processor', 'offline-detector']) {
      assert.equal(lambdaIn(other.resources, name).props.Environment.Variables.LINK_BASE_URL, 'https://vgl.example.org', name);
    }
    const calls = grantsIn(other.resources, 'offline-detector').filter((g) => g.action === 'sms-voice:SendVoiceMessage');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].resource[0], identity);
    assert.match(JSON.stringify(calls[0].resource[1]), /:sms-voice:.*:configuration-set\/vigil-calls/);
    assert.equal(calls[0].resource.length, 2);
    for (const name of FUNCTIONS.filter((n) => n !== 'offline-detector')) {
      assert.ok(!grantsIn(other.resources, name).some((g) => g.action.startsWith('sms-voice:')), `${name}: no sms-voice action`);
      const v = lambdaIn(other.resources, name).props.Environment.Variables;
      assert.equal(v.VOICE_ORIGINATION_IDENTITY, undefined, name);
    }
    Annotations.fromStack(other.stack).hasNoWarning('*', Match.anyValue());
  });

  it('with an origination number (not an ARN): SendVoiceMessage on "*" for offline-detector only, acknowledged with the reason', () => {
    const other = synthesize({ 'vigil:voiceOriginationIdentity': '+34910000000' });
    const calls = grantsIn(other.resources, 'offline-detector').filter((g) => g.action === 'sms-voice:SendVoiceMessage');
    assert.deepEqual(calls.map((c) => c.resource), ['*']);
    for (const name of FUNCTIONS.filter((n) => n !== 'offline-detector')) {
      assert.ok(!grantsIn(other.resources, name).some((g) => g.action.startsWith('sms-voice:')), `${name}: no sms-voice action`);
    }
    const role = lambdaIn(other.resources, 'offline-detector').props.Role['Fn::GetAtt'][0];
    const ack = (other.resources[role].Metadata?.cdk_nag?.rules_to_suppress ?? []).find((a: any) => a.id === 'AwsSolutions-IAM5[Resource::*]');
    assert.match(ack.reason, /SendVoiceMessage.*phone number, pool and configuration set ARNs/);
    assert.equal(lambdaIn(other.resources, 'offline-detector').props.Environment.Variables.VOICE_CONFIGURATION_SET, undefined);
  });

  it('settings are checked: a malformed identity, configuration set or link base URL fails the synth; a long link base URL warns', () => {
    assert.throws(() => synthesize({ 'vigil:voiceOriginationIdentity': 'arn:aws:sms-voice:eu-west-1:111122223333:configuration-set/x' }), /voiceOriginationIdentity/);
    assert.throws(() => synthesize({ 'vigil:voiceConfigurationSet': 'not a name' }), /voiceConfigurationSet/);
    assert.throws(() => synthesize({ 'vigil:linkBaseUrl': 'http://vgl.example.org' }), /linkBaseUrl/);
    const long = synthesize({ 'vigil:linkBaseUrl': 'https://acknowledge.vigil.example.org' });
    Annotations.fromStack(long.stack).hasWarning('*', Match.stringLikeRegexp('links exceed 75 characters'));
  });

  it('an alarm when an alert reaches its last escalation level unacknowledged (Sum >= 1 in 1 minute)', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === LAST_LEVEL_METRIC);
    assert.equal(alarms.length, 1);
    const a = alarms[0].Properties;
    assert.equal(a.Namespace, 'Vigil');
    assert.deepEqual(a.Dimensions, [{ Name: 'Function', Value: 'offline-detector' }]);
    assert.equal(a.Statistic, 'Sum');
    assert.equal(a.Period, 60);
    assert.equal(a.EvaluationPeriods, 1);
    assert.equal(a.Threshold, 1);
    assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
    assert.equal(a.TreatMissingData, 'notBreaching');
    const alarmTopic = idOf(resources, 'AWS::SNS::Topic', 'AlarmTopic');
    assert.deepEqual(a.AlarmActions, [{ Ref: alarmTopic }]);
    assert.deepEqual(a.OKActions, [{ Ref: alarmTopic }]);
  });
});

describe('daily-summary', () => {
  const table = (prefix: string) => idOf(resources, 'AWS::DynamoDB::Table', prefix);
  const declared = DECLARED.find((d) => d.name === 'daily-summary')!.json;
  const daysId = table('DaysTable');

  it('the days table: wearer_id + date, TTL on expires_at, the data key, PITR, protected and backed up like vitals', () => {
    const days = resources[daysId] as any;
    const vitals = resources[table('VitalsTable')] as any;
    assert.deepEqual(days.Properties.KeySchema, [
      { AttributeName: 'wearer_id', KeyType: 'HASH' },
      { AttributeName: 'date', KeyType: 'RANGE' },
    ]);
    assert.deepEqual(days.Properties.AttributeDefinitions, [
      { AttributeName: 'wearer_id', AttributeType: 'S' },
      { AttributeName: 'date', AttributeType: 'S' },
    ]);
    assert.deepEqual(days.Properties.TimeToLiveSpecification, { AttributeName: 'expires_at', Enabled: true });
    assert.deepEqual(days.Properties.SSESpecification, {
      KMSMasterKeyId: { 'Fn::GetAtt': [idOf(resources, 'AWS::KMS::Key', 'DataKey'), 'Arn'] },
      SSEEnabled: true,
      SSEType: 'KMS',
    });
    assert.equal(days.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true);
    assert.equal(days.Properties.DeletionProtectionEnabled, true);
    assert.equal(days.DeletionPolicy, 'Retain');
    // Everything but the keys as the vitals table: personal health data, treated alike.
    const { KeySchema: _k1, AttributeDefinitions: _a1, ...rest } = days.Properties;
    const { KeySchema: _k2, AttributeDefinitions: _a2, ...vitalsRest } = vitals.Properties;
    assert.deepEqual(rest, vitalsRest);
    assert.equal(days.UpdateReplacePolicy, vitals.UpdateReplacePolicy);
    const selection = Object.values(resources).find((r) => r.Type === 'AWS::Backup::BackupSelection')!;
    assert.ok(JSON.stringify(selection.Properties).includes(daysId), 'the days table is backed up');
    template.hasOutput('DaysTable', { Value: { Ref: daysId } });
    // Both functions that declare it get this table; the retention is daily-summary's declared default.
    for (const name of ['daily-summary', 'care-api']) {
      assert.deepEqual(lambdaOf(name).props.Environment.Variables.DAYS_TABLE, { Ref: daysId }, name);
    }
    assert.equal(lambdaOf('daily-summary').props.Environment.Variables.DAYS_TTL_DAYS, declared.environment.DAYS_TTL_DAYS.default);
    // Not protected when the data is not retained (a test stack).
    const scratch = synthesize({ 'vigil:retainData': 'false' }).resources;
    const scratchDays = scratch[idOf(scratch, 'AWS::DynamoDB::Table', 'DaysTable')];
    assert.equal(scratchDays.Properties.DeletionProtectionEnabled, false);
    assert.equal(scratchDays.DeletionPolicy, 'Delete');
  });

  it('runs every hour as declared: one run at a time, a failed run not retried but kept on its own queue', () => {
    assert.equal(declared.trigger.schedule.rateMinutes, 60, 'function.json declares an hourly run');
    const { id, props } = lambdaOf('daily-summary');
    const rules = Object.values(resources).filter(
      (r) => r.Type === 'AWS::Events::Rule' && r.Properties.Targets.some((t: any) => t.Arn['Fn::GetAtt']?.[0] === id),
    );
    assert.equal(rules.length, 1);
    assert.equal(rules[0].Properties.ScheduleExpression, 'rate(1 hour)');
    assert.equal(rules[0].Properties.State, 'ENABLED');
    const queue = idOf(resources, 'AWS::SQS::Queue', 'DailySummaryFailures');
    const target = rules[0].Properties.Targets[0];
    assert.deepEqual(target.DeadLetterConfig, { Arn: { 'Fn::GetAtt': [queue, 'Arn'] } });
    assert.deepEqual(target.RetryPolicy, { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 600 });
    assert.deepEqual(props.DeadLetterConfig, { TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] } });
    assert.equal(props.ReservedConcurrentExecutions, 1);
    assert.equal(props.Timeout, declared.timeoutSecs);
    const invoke = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::EventInvokeConfig' && r.Properties.FunctionName.Ref === id)!;
    assert.equal(invoke.Properties.MaximumRetryAttempts, 0, 'Lambda does not retry a failed run: the next run redoes it');
  });

  it('is granted exactly its reads, its days, the alert path\'s writes, SMS and curated days and alerts (least privilege)', () => {
    const alerts = table('AlertsTable');
    const deliveries = table('DeliveriesTable');
    const dataBucket = idOf(resources, 'AWS::S3::Bucket', 'DataBucket');
    const dataKey = idOf(resources, 'AWS::KMS::Key', 'DataKey');
    const logs = idOf(resources, 'AWS::Logs::LogGroup', 'DailySummaryLogs');
    const secret = (prefix: string) => idOf(resources, 'AWS::SecretsManager::Secret', prefix);
    assert.deepEqual(
      grantsOf('daily-summary'),
      [
        `dynamodb:Scan ${table('WearersTable')}`,
        `dynamodb:BatchGetItem ${table('CaregiversTable')}`,
        `dynamodb:Query ${table('VitalsTable')}`,
        `dynamodb:Query ${alerts}/index/${ALERTS_BY_WEARER_INDEX}`,
        `dynamodb:PutItem ${alerts}`,
        `dynamodb:GetItem ${deliveries}`,
        `dynamodb:PutItem ${deliveries}`,
        `dynamodb:UpdateItem ${deliveries}`,
        `dynamodb:Query ${daysId}`,
        `dynamodb:GetItem ${daysId}`,
        `dynamodb:PutItem ${daysId}`,
        `dynamodb:DeleteItem ${daysId}`,
        `dynamodb:PutItem ${table('CuratedFilesTable')}`,
        `s3:PutObject ${dataBucket}/curated/days/*`,
        `s3:PutObject ${dataBucket}/curated/alerts/*`,
        'sns:Publish *',
        ...['PseudonymKey', 'LinkKey'].flatMap((k) =>
          ['GetSecretValue', 'DescribeSecret'].map((a) => `secretsmanager:${a} ${JSON.stringify({ Ref: secret(k) })}`)),
        // Its dead-letter queue (Lambda sends a failed run there).
        `sqs:SendMessage ${idOf(resources, 'AWS::SQS::Queue', 'DailySummaryFailures')}`,
        `kms:Decrypt ${dataKey}`,
        `kms:GenerateDataKey ${dataKey}`,
        `kms:DescribeKey ${dataKey}`,
        `logs:CreateLogStream ${logs}`,
        `logs:PutLogEvents ${logs}`,
      ].sort(),
    );
  });

  it('can Query its days and the vitals, cannot write vitals, and Scans nothing but the wearers', () => {
    const grants = grantsOf('daily-summary');
    const on = (t: string) => grants.filter((g) => g.split(' ')[1].startsWith(table(t))).map((g) => g.split(' ')[0]);
    assert.ok(on('DaysTable').includes('dynamodb:Query'));
    assert.ok(on('VitalsTable').includes('dynamodb:Query'));
    assert.deepEqual(on('VitalsTable'), ['dynamodb:Query'], 'vitals: read only');
    for (const t of ['WearersTable', 'CaregiversTable', 'CaregiverLinksTable', 'DevicesTable', 'WearerStateTable']) {
      const writes = on(t).filter((a) => /Put|Update|Delete|Write/.test(a));
      assert.deepEqual(writes, [], `${t}: no writes`);
    }
    assert.deepEqual(grants.filter((g) => g.startsWith('dynamodb:Scan')), [`dynamodb:Scan ${table('WearersTable')}`]);
    // S3 writes only under its two curated prefixes; nothing read from or deleted in a bucket.
    const s3 = grants.filter((g) => g.startsWith('s3:'));
    assert.ok(s3.every((g) => g.startsWith('s3:PutObject ') && /\/curated\/(days|alerts)\/\*$/.test(g)), s3.join(', '));
    assert.ok(!grants.some((g) => g.startsWith('kinesis:') || g.startsWith('sms-voice:')), 'no stream, no calls');
  });

  it('alarms: its errors, its failure queue, refused messages, and wearers failed or left in 2 runs running; its figures on the dashboard', () => {
    const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    const alarmTopic = idOf(resources, 'AWS::SNS::Topic', 'AlarmTopic');
    const { id } = lambdaOf('daily-summary');
    const queue = idOf(resources, 'AWS::SQS::Queue', 'DailySummaryFailures');
    const errors = alarms.filter(([, r]) => r.Properties.MetricName === 'Errors' && r.Properties.Dimensions?.[0]?.Value?.Ref === id);
    assert.equal(errors.length, 1, 'an Errors alarm');
    const depth = alarms.filter(
      ([, r]) => r.Properties.MetricName === 'ApproximateNumberOfMessagesVisible' && r.Properties.Dimensions?.[0]?.Value?.['Fn::GetAtt']?.[0] === queue,
    );
    assert.equal(depth.length, 1, 'a depth alarm on its failure queue');
    for (const [, { Properties: a }] of [...errors, ...depth]) {
      assert.equal(a.Threshold, 0);
      assert.equal(a.ComparisonOperator, 'GreaterThanThreshold');
      assert.deepEqual(a.AlarmActions, [{ Ref: alarmTopic }]);
    }
    const emfAlarm = (metric: string) =>
      alarms.filter(([, r]) => r.Properties.Namespace === 'Vigil' && r.Properties.MetricName === metric && r.Properties.Dimensions?.[0]?.Value === 'daily-summary');
    for (const metric of ['WearersFailed', 'WearersLeft']) {
      const found = emfAlarm(metric);
      assert.equal(found.length, 1, metric);
      const a = found[0][1].Properties;
      // One period per run (the declared rate), over 0 in 2 periods running.
      assert.equal(a.Period, declared.trigger.schedule.rateMinutes * 60, metric);
      assert.equal(a.EvaluationPeriods, 2, metric);
      assert.equal(a.Threshold, 0, metric);
      assert.equal(a.ComparisonOperator, 'GreaterThanThreshold', metric);
      assert.equal(a.TreatMissingData, 'notBreaching', metric);
    }
    const body = JSON.stringify((Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!).Properties.DashboardBody);
    for (const metric of ['DaysComputed', 'TrendsRaised', 'DailyMessagesSent']) {
      assert.ok(body.includes(`\\"${metric}\\"`), `${metric} graphed`);
    }
    for (const [alarmId] of [...emfAlarm('WearersFailed'), ...emfAlarm('WearersLeft')]) assert.ok(body.includes(alarmId), `${alarmId} on the dashboard`);
  });
});

describe('warehouse', () => {
  it('Redshift Serverless: encrypted, private, audit logs, isolated subnets in three AZs', () => {
    template.hasResourceProperties('AWS::RedshiftServerless::Namespace', {
      KmsKeyId: Match.anyValue(),
      LogExports: Match.arrayWith(['userlog', 'connectionlog', 'useractivitylog']),
      ManageAdminPassword: true,
    });
    template.hasResourceProperties('AWS::RedshiftServerless::Workgroup', { PubliclyAccessible: false, EnhancedVpcRouting: true });
    const wg = Object.values(resources).find((r) => r.Type === 'AWS::RedshiftServerless::Workgroup')!.Properties;
    assert.equal(wg.SubnetIds.length, 3);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::FlowLog', 1);
  });

  it('the COPY role reads only curated/ and manifests/', () => {
    const copyPolicy = Object.entries(resources).find(([id, r]) => r.Type === 'AWS::IAM::ManagedPolicy' && id.includes('CopyRole'))![1];
    const s3 = copyPolicy.Properties.PolicyDocument.Statement.filter((s: any) => [s.Action].flat().some((a: string) => a.startsWith('s3:')));
    assert.equal(s3.length, 1);
    assert.equal(s3[0].Action, 's3:GetObject');
    const prefixes = s3[0].Resource.map((r: any) => JSON.stringify(r).match(/\/([a-z]+)\/\*/)![1]).sort();
    assert.deepEqual(prefixes, ['curated', 'manifests']);
  });

  it('the loader is scheduled and the detector runs every minute', () => {
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(15 minutes)' });
  });
});

describe('monitoring', () => {
  it('alarms for poison, refused notifications, wearers without a profile, warehouse backlog and alert latency p99, each on the dashboard', () => {
    const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm');
    const alarmTopic = idOf(resources, 'AWS::SNS::Topic', 'AlarmTopic');
    // [metric, function, statistic, period (s), threshold, operator, evaluation periods]
    type Want = [string, string, string, number, number, string, number];
    const wanted: Want[] = [
      ['PoisonRecords', 'alert-processor', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      ['PoisonRecords', 'raw-archiver', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      ['PoisonRecords', 'vitals-writer', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      ['NotificationsRefused', 'alert-processor', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      ['NotificationsRefused', 'offline-detector', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      ['NotificationsRefused', 'daily-summary', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      // Two hourly runs running (its declared rate) with a wearer failed or left undone.
      ['WearersFailed', 'daily-summary', 'Sum', 3600, 0, 'GreaterThanThreshold', DAILY_SUMMARY_SUSTAINED_RUNS],
      ['WearersLeft', 'daily-summary', 'Sum', 3600, 0, 'GreaterThanThreshold', DAILY_SUMMARY_SUSTAINED_RUNS],
      ['WearersWithoutProfile', 'alert-processor', 'Sum', 300, 0, 'GreaterThanThreshold', 1],
      // Four load runs (15 minutes apart by default).
      ['OldestPendingFileAgeS', 'warehouse-loader', 'Maximum', 900, 3600, 'GreaterThanThreshold', 1],
      ['AlertLatencyMs', 'alert-processor', 'p99', 300, 360_000, 'GreaterThanThreshold', 3],
      [LAST_LEVEL_METRIC, 'offline-detector', 'Sum', 60, 1, 'GreaterThanOrEqualToThreshold', 1],
    ];
    const ids: string[] = [];
    for (const [metric, fn, statistic, period, threshold, operator, periods] of wanted) {
      const found = alarms.filter(
        ([, r]) => r.Properties.MetricName === metric && r.Properties.Namespace === 'Vigil' && r.Properties.Dimensions?.[0]?.Value === fn,
      );
      assert.equal(found.length, 1, `${metric} of ${fn}`);
      const [id, { Properties: a }] = found[0];
      assert.deepEqual(a.Dimensions, [{ Name: 'Function', Value: fn }], metric);
      assert.equal(statistic.startsWith('p') ? a.ExtendedStatistic : a.Statistic, statistic, metric);
      assert.equal(a.Period, period, metric);
      assert.equal(a.Threshold, threshold, metric);
      assert.equal(a.ComparisonOperator, operator, metric);
      assert.equal(a.EvaluationPeriods, periods, metric);
      assert.equal(a.TreatMissingData, 'notBreaching', metric);
      assert.deepEqual(a.AlarmActions, [{ Ref: alarmTopic }], metric);
      assert.deepEqual(a.OKActions, [{ Ref: alarmTopic }], metric);
      ids.push(id);
    }
    // On the dashboard: each alarm in the status widget, the new metrics graphed.
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const id of ids) assert.ok(body.includes(id), `${id} on the dashboard`);
    for (const metric of ['OldestPendingFileAgeS', 'WearersWithoutProfile', 'PoisonRecords', 'NotificationsRefused', 'AlertLatencyMs', 'DaysComputed', 'TrendsRaised', 'DailyMessagesSent', 'WearersFailed', 'WearersLeft']) {
      // The body is JSON inside the template: its quotes are escaped once more here.
      assert.ok(body.includes(`\\"${metric}\\"`), `${metric} graphed`);
    }
    // The backlog alarm follows the load rate.
    const hourly = Object.values(synthesize({ 'vigil:loadEveryMinutes': '60' }).resources).find(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'OldestPendingFileAgeS',
    )!.Properties;
    assert.deepEqual([hourly.Period, hourly.Threshold], [3600, 4 * 3600]);
  });

  it('alarms for back-pressure, errors, throttles, failure queues, 5xx rate and SMS spend, all to the topic', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => r.Properties);
    const named = (m: string) => alarms.filter((a) => a.MetricName === m);
    assert.equal(named('IteratorAge').length, 3);
    assert.equal(named('Errors').length, FUNCTIONS.length);
    assert.equal(named('Throttles').length, FUNCTIONS.length);
    // One of each per function, care-api's included.
    for (const name of FUNCTIONS) {
      const id = lambdaOf(name).id;
      for (const m of ['Errors', 'Throttles']) {
        assert.equal(named(m).filter((a) => a.Dimensions?.[0]?.Value?.Ref === id).length, 1, `${name}: ${m} alarm`);
      }
    }
    assert.equal(named('ApproximateNumberOfMessagesVisible').length, 7);
    assert.equal(named('SMSMonthToDateSpentUSD').length, 1);
    assert.ok(alarms.some((a) => (a.Metrics ?? []).some((m: any) => m.Expression?.includes('errors / requests'))));
    for (const a of alarms) assert.equal(a.AlarmActions.length, 1);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('log groups are KMS-encrypted with a retention', () => {
    for (const r of Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup')) {
      assert.ok(r.Properties.KmsKeyId);
      assert.ok(r.Properties.RetentionInDays >= 365);
    }
  });

  it('only the API access log is Infrequent Access: the functions\' logs carry their EMF metrics', () => {
    const groups = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Logs::LogGroup');
    const infrequent = groups.filter(([, r]) => r.Properties.LogGroupClass === 'INFREQUENT_ACCESS').map(([id]) => id);
    assert.deepEqual(infrequent, [idOf(resources, 'AWS::Logs::LogGroup', 'ApiAccessLogs')]);
    assert.ok(groups.length > 10, 'a log group per function beside it');
  });
});
