// Unit tests of the Vigil stack: the resources and settings issue #7 asks for.
// Run with `npm test` (node:test through ts-node); no Rust is compiled (bundling off).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { buildApp, STACK_NAME } from '../lib/app';
import { CURATED_BY_STATUS_INDEX } from '../lib/vigil-stack';

const app = buildApp(new App({ postCliContext: { 'aws:cdk:bundling-stacks': [] } }));
const stack = app.node.findChild(STACK_NAME) as Stack;
// Synthesizing runs the cdk-nag packs: an unacknowledged error throws here.
const assembly = app.synth();
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: any; Metadata?: any }>;

const FUNCTIONS = ['ingest-api', 'alert-processor', 'offline-detector', 'raw-archiver', 'vitals-writer', 'warehouse-loader'];

/** The Lambda function whose Description/env matches a crate, found by its log group path. */
function lambdaOf(name: string): { id: string; props: any } {
  const hits = Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(name.split('-').map((w) => w[0].toUpperCase() + w.slice(1)).join('')),
  );
  assert.equal(hits.length, 1, `one function for ${name}`);
  return { id: hits[0][0], props: hits[0][1].Properties };
}

function envOf(name: string): Record<string, unknown> {
  return lambdaOf(name).props.Environment.Variables;
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

  it('read the environment their config code asks for', () => {
    const expect: Record<string, string[]> = {
      'ingest-api': ['STREAM_NAME', 'DEVICES_TABLE', 'PUBLISH_BUDGET_MS', 'REGISTRY_CACHE_TTL_SECS', 'REGISTRY_NEGATIVE_TTL_SECS'],
      'alert-processor': ['WEARERS_TABLE', 'STATE_TABLE', 'ALERTS_TABLE', 'DELIVERIES_TABLE', 'QUARANTINE_BUCKET', 'DELIVERY_LEASE_SECS', 'DATA_BUCKET', 'CURATED_FILES_TABLE', 'PSEUDONYM_KEY_SECRET_ARN'],
      'offline-detector': ['WEARERS_TABLE', 'STATE_TABLE', 'ALERTS_TABLE', 'DELIVERIES_TABLE', 'QUARANTINE_BUCKET', 'DELIVERY_LEASE_SECS', 'NO_DATA_SCAN_AFTER_MIN', 'DATA_BUCKET', 'CURATED_FILES_TABLE', 'PSEUDONYM_KEY_SECRET_ARN'],
      'raw-archiver': ['DATA_BUCKET', 'CURATED_FILES_TABLE', 'QUARANTINE_BUCKET', 'PSEUDONYM_KEY_SECRET_ARN'],
      'vitals-writer': ['VITALS_TABLE', 'SHADOW_TABLE', 'QUARANTINE_BUCKET', 'VITALS_TTL_DAYS', 'WRITE_BUDGET_MS'],
      'warehouse-loader': ['CURATED_FILES_TABLE', 'DATA_BUCKET', 'MANIFEST_PREFIX', 'LOAD_MAX_FILES', 'REDSHIFT_WORKGROUP', 'REDSHIFT_DATABASE', 'COPY_ROLE_ARN', 'LOAD_BUDGET_MS', 'LOADED_FILES_TTL_DAYS'],
    };
    for (const [name, vars] of Object.entries(expect)) {
      assert.deepEqual(Object.keys(envOf(name)).sort(), [...vars].sort(), name);
    }
    // The pseudonym key is never in a function's configuration, only the secret's ARN.
    const all = JSON.stringify(template.toJSON());
    assert.doesNotMatch(all, /resolve:secretsmanager/);
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
  });

  it('scheduled functions have a dead-letter queue; the detector and loader run one at a time', () => {
    for (const name of ['offline-detector', 'warehouse-loader']) {
      const { props } = lambdaOf(name);
      assert.ok(props.DeadLetterConfig?.TargetArn, name);
      assert.equal(props.ReservedConcurrentExecutions, 1, name);
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
      assert.ok(p.MaximumBatchingWindowInSeconds >= 1);
      assert.ok(p.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0].includes('Failures'));
    }
  });

  it('failure queues are encrypted and TLS-only', () => {
    const queues = Object.values(resources).filter((r) => r.Type === 'AWS::SQS::Queue');
    assert.equal(queues.length, 5);
    for (const q of queues) assert.equal(q.Properties.SqsManagedSseEnabled, true);
    template.resourcePropertiesCountIs('AWS::SQS::QueuePolicy', Match.objectLike({ PolicyDocument: Match.objectLike({ Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) }) }), 5);
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

  it('raw/ moves to an archive class after 90 days', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'raw/', Status: 'Enabled', Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 90 }] }),
        ]),
      },
    });
  });

  it('tables: KMS, PITR, keys as provisioned locally, TTL on vitals, the loader\'s status index', () => {
    const tables = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
    assert.equal(tables.length, 8);
    const keys: Record<string, string> = {};
    for (const [id, t] of tables) {
      const p = t.Properties;
      assert.equal(p.SSESpecification.SSEEnabled, true, id);
      assert.equal(p.SSESpecification.SSEType, 'KMS', id);
      assert.equal(p.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled, true, id);
      keys[id.replace(/Table.*$/, '')] = p.KeySchema.map((k: any) => k.AttributeName).join('+');
    }
    assert.deepEqual(keys, {
      Devices: 'device_id',
      Wearers: 'wearer_id',
      WearerState: 'wearer_id',
      Alerts: 'alert_id',
      Deliveries: 'delivery_key',
      CuratedFiles: 'file_key',
      Vitals: 'wearer_id+sk',
      WearerShadow: 'wearer_id',
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

  it('is throttled and access-logged without bodies', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!.Properties;
    assert.ok(stage.DefaultRouteSettings.ThrottlingRateLimit > 0);
    assert.ok(stage.DefaultRouteSettings.ThrottlingBurstLimit > 0);
    const format = stage.AccessLogSettings.Format as string;
    assert.ok(format.includes('$context.requestId'));
    assert.ok(!/body|\$input/i.test(format), format);
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
  it('alarms for back-pressure, errors, throttles, failure queues, 5xx rate and SMS spend, all to the topic', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => r.Properties);
    const named = (m: string) => alarms.filter((a) => a.MetricName === m);
    assert.equal(named('IteratorAge').length, 3);
    assert.equal(named('Errors').length, 6);
    assert.equal(named('Throttles').length, 6);
    assert.equal(named('ApproximateNumberOfMessagesVisible').length, 5);
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
});
