import { Annotations, CfnElement, CfnOutput, CfnResource, Duration, Fn, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpUserPoolAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as backup from 'aws-cdk-lib/aws-backup';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisConsumerEventSource, KinesisEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as redshift from 'aws-cdk-lib/aws-redshiftserverless';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  DECLARATIONS,
  declarationOf,
  defaultOf,
  httpOf,
  HttpUsers,
  kinesisEventSourcePropsOf,
  kinesisOf,
  routesOf,
  scheduleSettingDefault,
  schedulePropsOf,
  SignedInUsers,
  snsOf,
  topicOf,
  variableSettingDefault,
} from './declarations';
import { ManagedPolicyRole, VigilFunction } from './function';

/** Deploy-time settings, from `-c vigil:<name>=<value>` (see docs/deploying.md). */
export interface VigilSettings {
  /** Kinesis shards (provisioned mode). */
  readonly shards: number;
  /** Reserved concurrency of ingest-api: caps what an upload flood can take from the alert path. */
  readonly ingestConcurrency: number;
  /**
   * Reserved concurrency of care-api: caregivers' reads can neither take the alert
   * path's concurrency nor be starved by an upload flood.
   */
  readonly careConcurrency: number;
  /** API Gateway steady-state requests per second and burst, for the whole stage. */
  readonly apiRateLimit: number;
  readonly apiBurstLimit: number;
  /** Where alarm notifications are e-mailed (optional). */
  readonly alarmEmail?: string;
  /** The month-to-date SMS spend (USD) that raises an alarm. */
  readonly smsSpendAlarmUsd: number;
  /**
   * Minutes between warehouse loads: overrides the rate warehouse-loader's
   * function.json declares (its default).
   */
  readonly loadEveryMinutes: number;
  /** Redshift Serverless base capacity (RPUs; 8 is the smallest). */
  readonly redshiftBaseRpu: number;
  /** Keep data stores (buckets, tables, keys, secret, user pool) when the stack is deleted. */
  readonly retainData: boolean;
  /**
   * The deliveries table's phone index (sms-reply). DynamoDB adds one GSI per table
   * update: a stack deployed before both deliveries indexes existed is upgraded with one
   * deploy with `false` (adds the due index), then one with the default.
   */
  readonly deliveriesPhoneIndex: boolean;
  /**
   * Where SMS links point (LINK_BASE_URL): a short custom domain of the HTTP API,
   * `https://vgl.example.org`. At most MAX_LINK_BASE_URL_CHARS characters keeps the link
   * within 75 characters and every alert SMS within 3 segments. Unset: the API's own
   * endpoint (`https://<id>.execute-api.<region>.amazonaws.com`, about 55 characters:
   * links work, but SMS get longer).
   */
  readonly linkBaseUrl?: string;
  /**
   * The End User Messaging SMS and Voice v2 origination identity escalation calls come
   * from (a phone number with the VOICE capability, its id or ARN, or a pool id or ARN):
   * offline-detector's VOICE_ORIGINATION_IDENTITY. Unset: no calls (they are refused and
   * counted) and no sms-voice grant. Given as an ARN, the grant is scoped to it.
   */
  readonly voiceOriginationIdentity?: string;
  /** A configuration set (name or ARN) for call events: VOICE_CONFIGURATION_SET. */
  readonly voiceConfigurationSet?: string;
  /**
   * Days raw/ objects (the audit trail and replay source, personal data) are kept
   * before an S3 lifecycle rule deletes them: as long as alerts (ALERTS_TTL_DAYS), so
   * the readings behind any stored alert can still be replayed. Over 90: they move
   * to Glacier Instant Retrieval after 90 days.
   */
  readonly rawRetentionDays: number;
  /**
   * Days curated/ Parquet files (pseudonymized) are kept; the warehouse keeps its rows.
   * Over 90: they move to Glacier Instant Retrieval after 90 days.
   */
  readonly curatedRetentionDays: number;
  /** Days a poison record is kept in the quarantine bucket. */
  readonly quarantineRetentionDays: number;
  /**
   * The tables every upload writes (vitals; wearer state and its check index) in
   * provisioned mode with auto scaling instead of on demand: 2.4 times cheaper at a steady
   * load, but a burst past the provisioned units is throttled (and retried) until auto
   * scaling catches up (docs/cost.md, "Deploying at the target").
   */
  readonly dynamodbProvisioned: boolean;
  /**
   * With dynamodbProvisioned: the read and write units each of those tables and the index
   * start with and never scale below (auto scaling keeps them at 70 % use, up to
   * MAX_PROVISIONED_UNITS). A floor above a table's load is paid for unused; a table
   * switched from on demand starts at it (docs/cost.md, "Deploying at the target").
   */
  readonly provisionedMinUnits: number;
  /**
   * Seconds between a phone's routine uploads (ingest-api's UPLOAD_ROUTINE_EVERY_SECS, told
   * to the app in every 202), from UPLOAD_URGENT_EVERY_SECS (60) to MAX_UPLOAD_EVERY_SECONDS.
   */
  readonly uploadEverySeconds: number;
  /** Days vitals items are kept (vitals-writer's VITALS_TTL_DAYS), at least MIN_VITALS_TTL_DAYS. */
  readonly vitalsTtlDays: number;
  /** Days of rows the warehouse keeps (warehouse-loader's WAREHOUSE_RETENTION_DAYS). */
  readonly warehouseRetentionDays: number;
}

/** Settings without a default: unset unless given (`-c vigil:<name>=<value>`). */
export const OPTIONAL_SETTINGS = ['alarmEmail', 'linkBaseUrl', 'voiceOriginationIdentity', 'voiceConfigurationSet'] as const;

export const DEFAULT_SETTINGS: VigilSettings = {
  shards: 2,
  ingestConcurrency: 50,
  careConcurrency: 50,
  apiRateLimit: 200,
  apiBurstLimit: 400,
  smsSpendAlarmUsd: 50,
  // The loader's declared schedule (functions/warehouse-loader/function.json): one place for the value.
  loadEveryMinutes: scheduleSettingDefault('loadEveryMinutes'),
  redshiftBaseRpu: 8,
  retainData: true,
  deliveriesPhoneIndex: true,
  rawRetentionDays: 400,
  curatedRetentionDays: 730,
  quarantineRetentionDays: 90,
  dynamodbProvisioned: false,
  provisionedMinUnits: 25,
  // The declared defaults (functions/*/function.json): one place for each value.
  uploadEverySeconds: variableSettingDefault('UPLOAD_ROUTINE_EVERY_SECS'),
  vitalsTtlDays: variableSettingDefault('VITALS_TTL_DAYS'),
  warehouseRetentionDays: variableSettingDefault('WAREHOUSE_RETENTION_DAYS'),
};

/**
 * Which stack setting gives each of these declared `default` variables its value (on
 * every function that declares it); the setting's default is the declared one.
 */
export const DEFAULT_VARIABLE_SETTINGS: Readonly<Record<string, keyof VigilSettings>> = {
  UPLOAD_ROUTINE_EVERY_SECS: 'uploadEverySeconds',
  VITALS_TTL_DAYS: 'vitalsTtlDays',
  WAREHOUSE_RETENTION_DAYS: 'warehouseRetentionDays',
};

/**
 * The longest routine upload interval: a band's uploads stay within the default 15-minute
 * no-data threshold with 5 minutes to spare, so one late upload does not raise "gone silent".
 */
export const MAX_UPLOAD_EVERY_SECONDS = 600;
/**
 * The shortest vitals retention: daily-summary recomputes a day up to 8 days back, with
 * readings up to 7 days late (functions/daily-summary, LATE_DAYS); 10 days keeps every
 * reading of a day it may recompute, in any time zone.
 */
export const MIN_VITALS_TTL_DAYS = 10;
/** Auto scaling's ceiling for a provisioned table or index: DynamoDB's default per-table quota. */
export const MAX_PROVISIONED_UNITS = 40_000;
/** The use auto scaling keeps a provisioned table at (what docs/cost.md prices). */
export const PROVISIONED_TARGET_PCT = 70;

export interface VigilStackProps extends StackProps {
  readonly settings?: Partial<VigilSettings>;
}

/** Prefixes in the data bucket (the layout is in crates/vigil-domain and docs/storage.md). */
const RAW_PREFIX = 'raw/';
const CURATED_PREFIX = 'curated/';
/** Where the loader writes COPY manifests: its declared MANIFEST_PREFIX (grants and lifecycle follow it). */
const MANIFEST_PREFIX = defaultOf(declarationOf('warehouse-loader'), 'MANIFEST_PREFIX');
const REDSHIFT_DATABASE = 'vigil';

/**
 * The GSI the warehouse loader queries: pending files in creation order. Name,
 * keys and projection as vigil_aws::warehouse::PENDING_INDEX declares them
 * (and vigil_local::provision creates them locally).
 */
export const CURATED_BY_STATUS_INDEX = 'status-created_at-index';
const CURATED_INDEX_ATTRIBUTES = ['event_date', 'rows', 'bytes', 'kind'];

/**
 * The GSI care-api queries: a wearer's alerts, newest or oldest first
 * (`wearer_id` + `raised_at`, every attribute projected).
 */
export const ALERTS_BY_WEARER_INDEX = 'wearer_id-raised_at-index';

/**
 * The deliveries table's sparse GSI of what is due (deferred deliveries and escalation
 * steps: `due_shard` + `not_before`, ALL), which offline-detector queries every minute
 * instead of scanning (vigil_aws::deliveries::DUE_INDEX).
 */
export const DELIVERIES_DUE_INDEX = 'due_shard-not_before-index';
/**
 * The wearer-state table's sparse GSI of the wearers offline-detector must check
 * (`check_shard` + `check_at`, KEYS_ONLY): every minute it Queries each shard for
 * `check_at <= now` instead of scanning the table (vigil_aws::state::CHECK_INDEX).
 */
export const STATE_CHECK_INDEX = 'check_shard-check_at-index';
/**
 * The deliveries table's GSI of the SMS sent to a number (`phone` + `sent_at`, INCLUDE
 * `alert_id`, `caregiver_id`), which sms-reply queries to match a reply to its alert
 * (vigil_aws::deliveries::PHONE_INDEX).
 */
export const DELIVERIES_BY_PHONE_INDEX = 'phone-sent_at-index';
const DELIVERIES_BY_PHONE_ATTRIBUTES = ['alert_id', 'caregiver_id'];

/**
 * The longest LINK_BASE_URL that keeps every alert SMS within 3 segments: a link is
 * `<base>/a/<48-character token>` and must stay within 75 characters (75 - 51).
 */
export const MAX_LINK_BASE_URL_CHARS = 24;

/**
 * Route throttling of the public (no sign-in) routes, below the stage's: a flood of
 * made-up links is answered 429 by API Gateway before it reaches ack-link (reserved
 * concurrency 10) or the API's 5xx alarm. Caregivers open a few links a minute.
 */
export const PUBLIC_ROUTE_THROTTLE = { rateLimit: 10, burstLimit: 20 };

/**
 * Which stack setting gives each `optional` variable its value when the deployer set it
 * (only on functions that declare the variable).
 */
export const OPTIONAL_VARIABLE_SETTINGS: Readonly<Record<string, keyof VigilSettings>> = {
  VOICE_ORIGINATION_IDENTITY: 'voiceOriginationIdentity',
  VOICE_CONFIGURATION_SET: 'voiceConfigurationSet',
};

/**
 * offline-detector's EMF metric (namespace Vigil, dimension Function) counting alerts
 * whose last escalation level went out with nobody acknowledging.
 */
export const LAST_LEVEL_METRIC = 'LastLevelReached';
/** The alert latency p99 (ms, event time to raised) that alarms: over the app's 5-minute batching. */
export const ALERT_LATENCY_P99_ALARM_MS = 360_000;
/**
 * daily-summary's `WearersFailed` or `WearersLeft` above 0 in this many runs running
 * alarms: one such run is redone by the next (a failed wearer also fails the run, which
 * its Errors and failure-queue alarms report at once).
 */
export const DAILY_SUMMARY_SUSTAINED_RUNS = 2;

/** `https://host[/path]` without a trailing slash, or an error naming the setting. */
export function checkedLinkBaseUrl(raw: string): string {
  const url = raw.trim().replace(/\/+$/, '');
  if (!/^https:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?(\/[A-Za-z0-9._~-]+)*$/.test(url)) {
    throw new Error(`-c vigil:linkBaseUrl=${raw}: expected https://<host>[/<path>] (the acknowledgement page is <linkBaseUrl>/a/<token>)`);
  }
  return url;
}

/** What an sms-voice ARN names: `phone-number`, `pool`, `configuration-set`..., or undefined if it is not one. */
function smsVoiceArn(value: string): { type: string; arn: string } | undefined {
  const m = /^arn:aws[a-z-]*:sms-voice:[a-z0-9-]+:[0-9]{12}:([a-z-]+)\/[A-Za-z0-9_.:+-]+$/.exec(value);
  return m ? { type: m[1], arn: value } : undefined;
}

/** Acknowledge one cdk-nag finding on a construct, with its reason. */
function ack(scope: Construct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Skip one checkov check on this construct's CloudFormation resource, with the
 * reason in the template (checkov reads `Metadata.checkov.skip`). Checks
 * skipped for the whole template are in infra/.checkov.yaml.
 */
function checkovSkip(scope: Construct, id: string, comment: string): void {
  const cfn = (scope.node.defaultChild ?? scope) as CfnResource;
  const meta = (cfn.getMetadata('checkov') as { skip: Array<{ id: string; comment: string }> } | undefined) ?? { skip: [] };
  meta.skip.push({ id, comment });
  cfn.addMetadata('checkov', meta);
}

/** `ingest-api` -> `IngestApi`: a function's construct id (and logical id prefix). */
export function pascalCase(name: string): string {
  return name
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

/** A construct's CloudFormation logical id, as cdk-nag names it in findings. */
function lid(construct: Construct): string {
  const cfn = construct.node.defaultChild as CfnElement;
  return Stack.of(construct).resolve(cfn.logicalId) as string;
}

export class VigilStack extends Stack {
  public readonly settings: VigilSettings;

  constructor(scope: Construct, id: string, props: VigilStackProps = {}) {
    super(scope, id, props);
    const settings: VigilSettings = { ...DEFAULT_SETTINGS, ...props.settings };
    this.settings = settings;
    const removal = settings.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const logRetention = logs.RetentionDays.ONE_YEAR;

    // ---------------------------------------------------------------- keys
    // Personal health data (stream, buckets, tables, secret, warehouse) under one
    // customer key; operational data (logs, alarm topic) under another, so the
    // services that only need to write logs or alarms never get the data key.
    const dataKey = new kms.Key(this, 'DataKey', {
      description: 'Vigil personal data: stream, buckets, tables, pseudonym secret, warehouse',
      enableKeyRotation: true,
      removalPolicy: removal,
    });
    const opsKey = new kms.Key(this, 'OpsKey', {
      description: 'Vigil operations: log groups and the alarm topic',
      enableKeyRotation: true,
      removalPolicy: removal,
    });
    opsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsEncryptsVigilLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`)],
        actions: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${this.partition}:logs:${this.region}:${this.account}:log-group:*` },
        },
      }),
    );
    opsKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublishToTheEncryptedTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    // ------------------------------------------------------------- buckets
    const accessLogs = new s3.Bucket(this, 'AccessLogsBucket', {
      // S3 server access logging cannot deliver to an SSE-KMS bucket: SSE-S3 it is.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [
        { id: 'expire-access-logs', expiration: Duration.days(400), noncurrentVersionExpiration: Duration.days(30) },
      ],
      removalPolicy: removal,
    });
    checkovSkip(accessLogs, 'CKV_AWS_18', 'This is the server-access-log target bucket; logging it into itself would loop.');
    ack(accessLogs, 'AwsSolutions-S1', 'This is the server-access-log target; logging it into itself would loop.');
    ack(accessLogs, 'HIPAA.Security-S3BucketLoggingEnabled', 'This is the server-access-log target; logging it into itself would loop.');
    ack(accessLogs, 'HIPAA.Security-S3DefaultEncryptionKMS', 'S3 server access logs can only be delivered to SSE-S3 buckets; the logs hold no personal data.');
    ack(accessLogs, 'HIPAA.Security-S3BucketReplicationEnabled', 'Single-region deployment; access logs are versioned and kept 400 days.');

    const dataBucketProps: s3.BucketProps = {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: dataKey,
      bucketKeyEnabled: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      removalPolicy: removal,
    };
    // Retention settings (docs/storage.md, "Retention"): whole days, at least 1.
    const retentionDays = (key: 'rawRetentionDays' | 'curatedRetentionDays' | 'quarantineRetentionDays') => wholeSetting(settings, key, 'days', 1);
    // Raw (the audit trail and the replay source) and curated (loaded into the warehouse
    // within minutes; read again only by a reload) are rarely read after a few weeks.
    // Glacier Instant Retrieval keeps such a read a plain GET (no restore job) at an
    // archive class's storage price; its 90-day minimum makes it worth it only for
    // objects kept longer.
    const archiveAfter90Days = (days: number) => days > 90
      ? [{ storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(90) }]
      : undefined;
    const rawDays = retentionDays('rawRetentionDays');
    const curatedDays = retentionDays('curatedRetentionDays');
    const dataBucket = new s3.Bucket(this, 'DataBucket', {
      ...dataBucketProps,
      serverAccessLogsPrefix: 'data/',
      lifecycleRules: [
        {
          id: 'raw-to-archive-after-90-days-then-expire',
          prefix: RAW_PREFIX,
          transitions: archiveAfter90Days(rawDays),
          expiration: Duration.days(rawDays),
        },
        {
          id: 'curated-to-archive-after-90-days-then-expire',
          prefix: CURATED_PREFIX,
          transitions: archiveAfter90Days(curatedDays),
          expiration: Duration.days(curatedDays),
        },
        { id: 'manifests-expire', prefix: MANIFEST_PREFIX, expiration: Duration.days(30) },
        {
          id: 'old-versions-and-uploads',
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    const quarantineBucket = new s3.Bucket(this, 'QuarantineBucket', {
      ...dataBucketProps,
      serverAccessLogsPrefix: 'quarantine/',
      lifecycleRules: [
        // Poison records hold personal data: keep them long enough to diagnose and replay, no longer.
        { id: 'expire-quarantine', expiration: Duration.days(retentionDays('quarantineRetentionDays')), noncurrentVersionExpiration: Duration.days(30) },
      ],
    });
    for (const b of [dataBucket, quarantineBucket]) {
      ack(b, 'HIPAA.Security-S3BucketReplicationEnabled', 'Single-region deployment by design; objects are versioned and the bucket is retained on stack deletion. Cross-region replication is a disaster-recovery decision left to the operator (doubles storage cost).');
    }

    // -------------------------------------------------------------- stream
    const stream = new kinesis.Stream(this, 'Readings', {
      shardCount: settings.shards,
      streamMode: kinesis.StreamMode.PROVISIONED,
      encryption: kinesis.StreamEncryption.KMS,
      encryptionKey: dataKey,
      // A failure destination holds only pointers (shard, sequence range): the
      // records must still be on the stream to be replayed. A week covers it.
      retentionPeriod: Duration.days(7),
      removalPolicy: removal,
    });
    ack(stream, 'AwsSolutions-KDS3', 'A customer-managed key on purpose: one key policy and one audit trail for all personal data (stream, buckets, tables, warehouse), and the ability to revoke it.');

    // -------------------------------------------------------------- tables
    // On demand, but for the tables every upload writes when dynamodbProvisioned: those
    // are provisioned, and auto scaling keeps each (and its index) at 70 % use.
    const minUnits = settings.dynamodbProvisioned ? wholeSetting(settings, 'provisionedMinUnits', 'units', 1, MAX_PROVISIONED_UNITS) : 0;
    const autoScale = (read: dynamodb.IScalableTableAttribute, write: dynamodb.IScalableTableAttribute) => {
      for (const units of [read, write]) units.scaleOnUtilization({ targetUtilizationPercent: PROVISIONED_TARGET_PCT });
    };
    const scaling = { minCapacity: minUnits, maxCapacity: MAX_PROVISIONED_UNITS };
    const table = (id: string, partitionKey: string, sortKey?: string, ttl?: string, everyUpload = false) => {
      const provisioned = everyUpload && settings.dynamodbProvisioned;
      const t = new dynamodb.Table(this, id, {
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: sortKey ? { name: sortKey, type: dynamodb.AttributeType.STRING } : undefined,
        billingMode: provisioned ? dynamodb.BillingMode.PROVISIONED : dynamodb.BillingMode.PAY_PER_REQUEST,
        readCapacity: provisioned ? minUnits : undefined,
        writeCapacity: provisioned ? minUnits : undefined,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: dataKey,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: ttl,
        deletionProtection: settings.retainData,
        removalPolicy: removal,
      });
      if (provisioned) autoScale(t.autoScaleReadCapacity(scaling), t.autoScaleWriteCapacity(scaling));
      return t;
    };
    // Keys as crates/vigil-local/src/provision.rs creates them locally.
    const devices = table('DevicesTable', 'device_id');
    const wearers = table('WearersTable', 'wearer_id');
    // Caregivers as records of their own (contact details, account, quiet hours); a
    // wearer's item keeps only the links (id, level). Never expire. `vigil caregivers` writes it.
    const caregivers = table('CaregiversTable', 'caregiver_id');
    // Items that expire carry `expires_at` (vigil_domain::retention): rule state
    // (STATE_TTL_DAYS after the last reading), alerts (ALERTS_TTL_DAYS after raised),
    // deliveries and escalation steps (DELIVERIES_TTL_DAYS), as docs/storage.md lists.
    const wearerState = table('WearerStateTable', 'wearer_id', undefined, 'expires_at', true);
    wearerState.addGlobalSecondaryIndex({
      indexName: STATE_CHECK_INDEX,
      partitionKey: { name: 'check_shard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'check_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
      ...(settings.dynamodbProvisioned ? { readCapacity: minUnits, writeCapacity: minUnits } : {}),
    });
    if (settings.dynamodbProvisioned) {
      autoScale(
        wearerState.autoScaleGlobalSecondaryIndexReadCapacity(STATE_CHECK_INDEX, scaling),
        wearerState.autoScaleGlobalSecondaryIndexWriteCapacity(STATE_CHECK_INDEX, scaling),
      );
    }
    const alerts = table('AlertsTable', 'alert_id', undefined, 'expires_at');
    alerts.addGlobalSecondaryIndex({
      indexName: ALERTS_BY_WEARER_INDEX,
      partitionKey: { name: 'wearer_id', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'raised_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    const deliveries = table('DeliveriesTable', 'delivery_key', undefined, 'expires_at');
    // What is due (offline-detector's Query instead of a Scan; sparse: only items with a
    // due_shard) and the SMS sent to a number (sms-reply), as vigil_aws::deliveries
    // declares them and vigil_local::provision creates them.
    deliveries.addGlobalSecondaryIndex({
      indexName: DELIVERIES_DUE_INDEX,
      partitionKey: { name: 'due_shard', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'not_before', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // (One GSI per table update: see VigilSettings.deliveriesPhoneIndex for an upgrade.)
    if (settings.deliveriesPhoneIndex) {
      deliveries.addGlobalSecondaryIndex({
        indexName: DELIVERIES_BY_PHONE_INDEX,
        partitionKey: { name: 'phone', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'sent_at', type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: DELIVERIES_BY_PHONE_ATTRIBUTES,
      });
    }
    // A loaded file's item expires LOADED_FILES_TTL_DAYS after its load (pending ones never do).
    const curatedFiles = table('CuratedFilesTable', 'file_key', undefined, 'expires_at');
    curatedFiles.addGlobalSecondaryIndex({
      indexName: CURATED_BY_STATUS_INDEX,
      partitionKey: { name: 'status', type: dynamodb.AttributeType.STRING },
      sortKey: { name: 'created_at', type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: CURATED_INDEX_ATTRIBUTES,
    });
    // The newest vitals items are also each wearer's latest state (care-api's status):
    // a stack deployed before 2026-12-04 keeps its WearerShadowTable (retained), unused.
    const vitals = table('VitalsTable', 'wearer_id', 'sk', 'expires_at', true);
    // Each wearer's days (daily-summary: sleep, steps, resting heart rate... per local
    // date), computed from the vitals items: personal health data like them, under the
    // same key, PITR, deletion protection and backups. Expires DAYS_TTL_DAYS after its date.
    const wearerDays = table('DaysTable', 'wearer_id', 'date', 'expires_at');
    // A caregiver's account (Cognito sub) -> the wearers they care for: care-api lists
    // them with a Query instead of scanning the wearers. `vigil register-wearer` writes it.
    const caregiverLinks = table('CaregiverLinksTable', 'caregiver_sub', 'wearer_id');
    const tables = [devices, wearers, caregivers, wearerState, alerts, deliveries, curatedFiles, vitals, wearerDays, caregiverLinks];

    // Daily backups kept 35 days on top of PITR: a second, independent copy
    // (a table deleted by mistake takes its PITR window with it).
    const vault = new backup.BackupVault(this, 'BackupVault', { encryptionKey: dataKey, removalPolicy: removal });
    const plan = backup.BackupPlan.daily35DayRetention(this, 'BackupPlan', vault);
    const backupRole = new ManagedPolicyRole(this, 'BackupRole', {
      assumedBy: new iam.ServicePrincipal('backup.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSBackupServiceRolePolicyForBackup')],
    });
    ack(backupRole, 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      "AWS Backup's own service-role policy, maintained by AWS for the backup service principal only.");
    plan.addSelection('Tables', {
      resources: tables.map((t) => backup.BackupResource.fromDynamoDbTable(t)),
      role: backupRole,
      allowRestores: false,
    });

    // ------------------------------------------------------- pseudonym key
    // 64 letters and digits: valid base64 for 48 bytes (raw-archiver's parse_key
    // accepts hex or base64 of at least 32 bytes).
    const pseudonymKey = new secretsmanager.Secret(this, 'PseudonymKey', {
      description: 'HMAC key behind every pseudonym in the curated data and the warehouse. Rotate only with a warehouse rebuild.',
      encryptionKey: dataKey,
      generateSecretString: { passwordLength: 64, excludePunctuation: true, includeSpace: false },
      removalPolicy: removal,
    });
    const noRotation =
      'Rotating the pseudonym key changes every pseudonym in the curated data and Redshift; it is rotated only together with a warehouse rebuild (see raw-archiver config.rs), never on a timer.';
    ack(pseudonymKey, 'AwsSolutions-SMG4', noRotation);
    ack(pseudonymKey, 'HIPAA.Security-SecretsManagerRotationEnabled', noRotation);

    // ------------------------------------------------------------ link key
    // Signs the acknowledgement links alert SMS carry (HMAC-SHA256, vigil_domain::link):
    // 48 letters and digits, used as text (at least 32 bytes). Read at cold start by the
    // signers (alert-processor, offline-detector) and the verifier (ack-link).
    const linkKey = new secretsmanager.Secret(this, 'LinkKey', {
      description: 'HMAC key of the acknowledgement links in alert SMS. Rotating it invalidates links already sent (valid 24 h).',
      encryptionKey: dataKey,
      generateSecretString: { passwordLength: 48, excludePunctuation: true, includeSpace: false },
      removalPolicy: removal,
    });
    const linkKeyNoRotation =
      'The link key is read once per container at cold start by the functions that sign (alert-processor, offline-detector, daily-summary) and verify (ack-link) links: a timed rotation would leave warm containers on the old key and break links already sent (valid 24 h). It is rotated by hand: a new value, read by each new container (links already sent stop working).';
    ack(linkKey, 'AwsSolutions-SMG4', linkKeyNoRotation);
    ack(linkKey, 'HIPAA.Security-SecretsManagerRotationEnabled', linkKeyNoRotation);

    // ------------------------------------------------------------- queues
    // Failure destinations. Kinesis ESMs send only invocation metadata (shard,
    // sequence numbers), never record data; the scheduled functions' dead letters
    // are schedule events. SSE-SQS is enough and keeps KMS grants off the roles.
    // A queue given `key` holds personal data (sms-reply's failed events carry the SMS
    // reply itself: the caregiver's number and text) and is encrypted with it.
    const queue = (id: string, key?: kms.IKey) => {
      const q = new sqs.Queue(this, id, {
        ...(key ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key } : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
        enforceSSL: true,
        retentionPeriod: Duration.days(14),
      });
      ack(q, 'AwsSolutions-SQS3', 'This queue is itself a failure destination / dead-letter queue; an operator drains it after the alarm on its depth.');
      return q;
    };

    // ---------------------------------------------------------- warehouse
    const warehouse = new Warehouse(this, 'Warehouse', {
      dataKey,
      opsKey,
      dataBucket,
      accessLogs,
      baseRpu: settings.redshiftBaseRpu,
      removal,
      logRetention,
    });

    // ------------------------------------------------------- inbound SMS
    // Two-way SMS of AWS End User Messaging SMS and Voice v2 publishes each SMS sent to
    // the origination number here (enabled on the number by the deployer: docs/deploying.md);
    // sms-reply is subscribed. Replies are personal data (a caregiver's number and text):
    // the data key, whose policy lets the service use it for this account only.
    const inboundSmsTopic = new sns.Topic(this, 'InboundSmsTopic', {
      displayName: 'Vigil inbound SMS (replies to alert SMS)',
      masterKey: dataKey,
      enforceSSL: true,
    });
    const smsVoiceFromThisAccount = {
      StringEquals: { 'aws:SourceAccount': this.account },
      ArnLike: { 'aws:SourceArn': `arn:${this.partition}:sms-voice:${this.region}:${this.account}:*` },
    };
    inboundSmsTopic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EndUserMessagingPublishesInboundSms',
        principals: [new iam.ServicePrincipal('sms-voice.amazonaws.com')],
        actions: ['sns:Publish'],
        resources: [inboundSmsTopic.topicArn],
        conditions: smsVoiceFromThisAccount,
      }),
    );
    dataKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EndUserMessagingPublishesToTheEncryptedInboundSmsTopic',
        principals: [new iam.ServicePrincipal('sms-voice.amazonaws.com')],
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: ['*'],
        conditions: smsVoiceFromThisAccount,
      }),
    );
    /** The stack's topics a function's `sns` trigger may name. */
    const topics: Record<string, sns.ITopic> = { inboundSmsTopic };

    // The HTTP API (its routes are added with the functions below): LINK_BASE_URL defaults to its endpoint.
    const api = new apigwv2.HttpApi(this, 'Api', {
      apiName: `${this.stackName}-api`,
      description: 'Vigil uploads, the caregivers\' API and the acknowledgement links (docs/openapi.yaml)',
      createDefaultStage: false,
    });
    const linkBaseUrl = settings.linkBaseUrl !== undefined ? checkedLinkBaseUrl(settings.linkBaseUrl) : api.apiEndpoint;
    if (settings.linkBaseUrl === undefined) {
      Annotations.of(this).addInfo(
        `LINK_BASE_URL is the API endpoint (about 55 characters): SMS links work but exceed ${MAX_LINK_BASE_URL_CHARS + 51} characters, ` +
          'so alert SMS may need a 4th segment. Map a short custom domain to the API and pass -c vigil:linkBaseUrl=https://<domain>.',
      );
    } else if (linkBaseUrl.length > MAX_LINK_BASE_URL_CHARS) {
      Annotations.of(this).addWarningV2(
        'vigil:linkBaseUrlTooLong',
        `vigil:linkBaseUrl ${linkBaseUrl} has ${linkBaseUrl.length} characters: links exceed 75 characters and alert SMS may not fit 3 segments (at most ${MAX_LINK_BASE_URL_CHARS}).`,
      );
    }

    // Escalation calls (offline-detector): the origination identity and configuration set, if given.
    const voiceIdentity = settings.voiceOriginationIdentity;
    const voiceConfigurationSet = settings.voiceConfigurationSet;
    if (voiceIdentity !== undefined && voiceIdentity.startsWith('arn:')) {
      const arn = smsVoiceArn(voiceIdentity);
      if (!arn || !['phone-number', 'pool'].includes(arn.type)) {
        throw new Error(`-c vigil:voiceOriginationIdentity=${voiceIdentity}: expected a phone number, its id, a pool id, or the ARN of a phone-number or pool of sms-voice`);
      }
    }
    if (voiceConfigurationSet !== undefined) {
      const arn = voiceConfigurationSet.startsWith('arn:') ? smsVoiceArn(voiceConfigurationSet) : undefined;
      if (voiceConfigurationSet.startsWith('arn:') ? arn?.type !== 'configuration-set' : !/^[A-Za-z0-9_-]{1,64}$/.test(voiceConfigurationSet)) {
        throw new Error(`-c vigil:voiceConfigurationSet=${voiceConfigurationSet}: expected a configuration set name or its ARN`);
      }
      if (voiceIdentity === undefined) {
        Annotations.of(this).addWarningV2('vigil:voiceConfigurationSetWithoutIdentity', 'vigil:voiceConfigurationSet is set but vigil:voiceOriginationIdentity is not: no calls are placed.');
      }
    }
    wholeSetting(settings, 'uploadEverySeconds', 'seconds', 60, MAX_UPLOAD_EVERY_SECONDS);
    wholeSetting(settings, 'vitalsTtlDays', 'days', MIN_VITALS_TTL_DAYS);
    wholeSetting(settings, 'warehouseRetentionDays', 'days', 1);
    const fromSettings: Record<string, string | undefined> = Object.fromEntries(
      Object.entries({ ...OPTIONAL_VARIABLE_SETTINGS, ...DEFAULT_VARIABLE_SETTINGS }).map(([variable, setting]) => {
        const value = settings[setting];
        return [variable, value === undefined ? undefined : String(value)];
      }),
    );

    // ---------------------------------------------------------- functions
    // Each function's description, timeout, memory, reserved concurrency, environment
    // and trigger are declared in functions/<name>/function.json (lib/declarations.ts).
    // The stack decides what each declared `resource` is, the grants and the failure
    // queues. Reserved concurrency: the function can neither starve the others nor be
    // starved by them; stream functions reserve per shard (see reservedConcurrencyOf).
    const resources: Record<string, string> = {
      readingsStream: stream.streamName,
      devicesTable: devices.tableName,
      wearersTable: wearers.tableName,
      caregiversTable: caregivers.tableName,
      stateTable: wearerState.tableName,
      alertsTable: alerts.tableName,
      deliveriesTable: deliveries.tableName,
      quarantineBucket: quarantineBucket.bucketName,
      // Curated files for the warehouse (curated/readings/ from raw-archiver,
      // curated/alerts/ from both functions that raise alerts), each registered in
      // the curated files table for the loader.
      dataBucket: dataBucket.bucketName,
      curatedFilesTable: curatedFiles.tableName,
      // Read from Secrets Manager at cold start (vigil_aws::secrets); the key
      // itself never appears in a function's configuration.
      pseudonymKeySecret: pseudonymKey.secretArn,
      linkKeySecret: linkKey.secretArn,
      // Where SMS links point: -c vigil:linkBaseUrl (a short custom domain), else the API's endpoint.
      linkBaseUrl,
      vitalsTable: vitals.tableName,
      daysTable: wearerDays.tableName,
      caregiverLinksTable: caregiverLinks.tableName,
      redshiftWorkgroup: warehouse.workgroupName,
      redshiftDatabase: REDSHIFT_DATABASE,
      copyRole: warehouse.copyRole.roleArn,
    };
    const fnDefaults = {
      resources,
      fromSettings,
      settings,
      environmentKey: dataKey,
      logKey: opsKey,
      logRetention,
      removalPolicy: removal,
    };
    /** The declared function `name`, with the construct id IngestApi for ingest-api. */
    const vigilFunction = (name: string, extra: { deadLetterQueue?: sqs.IQueue; retryAttempts?: number; onFailure?: lambda.IDestination } = {}) =>
      new VigilFunction(this, pascalCase(name), { ...fnDefaults, declaration: declarationOf(name), ...extra });
    // Scheduled functions are invoked asynchronously: a failed run goes to the
    // dead-letter queue and Lambda does not retry it, because the next scheduled run
    // redoes the work (the detector rescans; the loader finds the files still pending).
    const scheduled = (name: string, dlq: sqs.IQueue) => vigilFunction(name, { deadLetterQueue: dlq, retryAttempts: 0 });

    const ingest = vigilFunction('ingest-api');
    const care = vigilFunction('care-api');

    const alertDlq = queue('AlertProcessorFailures');
    const alertProcessor = vigilFunction('alert-processor');

    const detectorDlq = queue('OfflineDetectorFailures');
    const detector = scheduled('offline-detector', detectorDlq);

    const archiverDlq = queue('RawArchiverFailures');
    // raw-archiver has the most memory: Parquet and gzip are CPU-bound, and Lambda's CPU grows with memory.
    const archiver = vigilFunction('raw-archiver');

    const vitalsDlq = queue('VitalsWriterFailures');
    const vitalsWriterFn = vigilFunction('vitals-writer');
    const vitalsWriter = vitalsWriterFn.fn;

    const loaderDlq = queue('WarehouseLoaderFailures');
    const loader = scheduled('warehouse-loader', loaderDlq);

    // Every hour: each wearer's local day that has ended (docs/daily.md). A failed run
    // is not retried: the next one redoes what is left (a day not stored is still to do).
    const dailyDlq = queue('DailySummaryFailures');
    const daily = scheduled('daily-summary', dailyDlq);

    // The acknowledgement page behind the links SMS carry (a public route: the signed token is the credential).
    const ackLink = vigilFunction('ack-link');

    // Replies to alert SMS, from the inbound SMS topic (asynchronous invocations): Lambda
    // retries a failed one as declared, then keeps the event (the reply itself, personal
    // data: under the data key) on the on-failure destination.
    const smsReplyDlq = queue('SmsReplyFailures', dataKey);
    const smsReplyDecl = declarationOf('sms-reply');
    const smsReply = vigilFunction('sms-reply', {
      retryAttempts: snsOf(smsReplyDecl).retryAttempts,
      onFailure: { bind: () => ({ destination: smsReplyDlq.queueArn }) },
    });

    const deployed = [ingest, care, alertProcessor, detector, archiver, vitalsWriterFn, loader, daily, ackLink, smsReply];
    const undeployed = DECLARATIONS.filter((d) => !deployed.some((f) => f.declaration.name === d.name));
    if (undeployed.length) {
      throw new Error(
        `${undeployed.map((d) => d.file).join(', ')}: declared but not deployed; ` +
          'add the function to lib/vigil-stack.ts (its grants and failure queue are decided there)',
      );
    }

    // Functions stay out of a VPC: they only call AWS service APIs (Kinesis,
    // DynamoDB, S3, SNS, Secrets Manager, the Redshift Data API) over TLS with
    // IAM, and reach no private resource. In a VPC they would need eight
    // interface endpoints per AZ (or a NAT) for no data path that leaves AWS.
    for (const f of deployed) {
      ack(f.fn, 'HIPAA.Security-LambdaInsideVPC', 'The function calls only AWS service APIs over TLS with IAM auth and reaches no private resource (Redshift through the Data API); a VPC would add interface endpoints or a NAT without protecting any data path.');
    }
    // Lambda's dead-letter config applies to asynchronous invocations only.
    for (const f of [ingest, care, ackLink]) {
      checkovSkip(f.fn, 'CKV_AWS_116', 'Invoked synchronously by API Gateway: a dead-letter queue would never receive anything.');
      ack(f.fn, 'HIPAA.Security-LambdaDLQ', 'Invoked synchronously by API Gateway: a dead-letter queue never receives anything; failures are 5xx answers the app retries, alarmed on the 5xx rate.');
    }
    for (const f of [alertProcessor, archiver, vitalsWriterFn]) {
      checkovSkip(f.fn, 'CKV_AWS_116', 'Kinesis event source mapping: its on-failure destination (encrypted SQS) replaces the function dead-letter config, which applies to async invokes only.');
      ack(f.fn, 'HIPAA.Security-LambdaDLQ', 'Invoked by a Kinesis event source mapping, which ignores the function dead-letter config: its on-failure destination is an encrypted SQS queue (alarmed on depth).');
    }
    checkovSkip(smsReply.fn, 'CKV_AWS_116', 'Asynchronous invocations (SNS) keep failed events on an on-failure destination (KMS-encrypted SQS, alarmed on depth), which records the payload and the error; a dead-letter queue would duplicate it.');
    ack(smsReply.fn, 'HIPAA.Security-LambdaDLQ', 'Its asynchronous invocations (from the inbound SMS topic) have an on-failure destination instead: a KMS-encrypted SQS queue alarmed on depth, which keeps the event with the error (a dead-letter queue keeps the event only).');

    // ------------------------------------------------ least-privilege grants
    const allow = (role: iam.IGrantable, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ actions, resources, conditions }));
    const objects = (bucket: s3.IBucket, prefix: string) => `${bucket.bucketArn}/${prefix}*`;
    // S3 (SSE-KMS with a bucket key) and DynamoDB writes need GenerateDataKey; reads need Decrypt.
    const useDataKey = (role: iam.IGrantable) =>
      allow(role, ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'], [dataKey.keyArn]);

    allow(ingest.role, ['kinesis:PutRecords'], [stream.streamArn]);
    // The wearers table for the limits in each 202's upload policy (a projection of `thresholds`).
    allow(ingest.role, ['dynamodb:GetItem'], [devices.tableArn, wearers.tableArn]);
    useDataKey(ingest.role);

    // care-api reads what the caregiver's wearers are doing and changes only two things:
    // a wearer's snoozes (in the profile item) and an alert's lifecycle (acknowledge,
    // resolve), which it also writes as curated alert files for the warehouse (below,
    // with alert-processor and the detector). It deletes nothing, never writes vitals,
    // and never touches the stream. Caregiver links are written by
    // `vigil register-wearer`.
    allow(care.role, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [wearers.tableArn]);
    allow(care.role, ['dynamodb:BatchGetItem'], [caregivers.tableArn]);
    allow(care.role, ['dynamodb:GetItem', 'dynamodb:Query'], [caregiverLinks.tableArn]);
    allow(care.role, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [alerts.tableArn]);
    allow(care.role, ['dynamodb:Query'], [alerts.tableArn, `${alerts.tableArn}/index/${ALERTS_BY_WEARER_INDEX}`]);
    allow(care.role, ['dynamodb:Query'], [vitals.tableArn]);
    // GET .../days reads the stored days; the daily-message opt-in (PUT .../daily)
    // rewrites the caller's own caregiver record.
    allow(care.role, ['dynamodb:Query'], [wearerDays.tableArn]);
    allow(care.role, ['dynamodb:GetItem', 'dynamodb:PutItem'], [caregivers.tableArn]);
    useDataKey(care.role);

    for (const f of [alertProcessor, detector]) {
      allow(f.role, ['dynamodb:GetItem'], [wearers.tableArn]);
      allow(f.role, ['dynamodb:BatchGetItem'], [caregivers.tableArn]);
      allow(f.role, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [wearerState.tableArn, alerts.tableArn, deliveries.tableArn]);
      useDataKey(f.role);
    }
    // SMS: alerts and escalation steps (alert-processor, offline-detector), trend alerts
    // and daily messages (daily-summary) and reply confirmations (sms-reply) go to a phone number: Publish without a topic, which IAM
    // can only express on Resource "*".
    for (const f of [alertProcessor, detector, daily, smsReply]) {
      allow(f.role, ['sns:Publish'], ['*']);
      checkovSkip(f.role.policy!, 'CKV_AWS_111', 'sns:Publish to a phone number (SMS) has no resource ARN, so IAM needs Resource "*"; the statement allows sns:Publish only.');
      const calls = f === detector && voiceIdentity !== undefined && !smsVoiceArn(voiceIdentity);
      ack(
        f.role,
        'AwsSolutions-IAM5[Resource::*]',
        'sns:Publish to a phone number (SMS) has no resource ARN: IAM requires Resource "*" for it. The statement allows sns:Publish only.' +
          (calls
            ? ' sms-voice:SendVoiceMessage (escalation calls, this function only) is on Resource "*" too: its resources are the origination phone number, pool and configuration set ARNs, and vigil:voiceOriginationIdentity was given as a number or id, not an ARN, so the stack cannot name it (give the ARN to scope the grant).'
            : ''),
      );
    }
    // The detector scans nothing: the wearers due for a check and what is due to send
    // (deliveries after quiet hours, escalation steps) are Queries on sparse indexes.
    allow(detector.role, ['dynamodb:Query'], [`${wearerState.tableArn}/index/${STATE_CHECK_INDEX}`]);
    allow(detector.role, ['dynamodb:Query'], [`${deliveries.tableArn}/index/${DELIVERIES_DUE_INDEX}`]);
    // Both sign the acknowledgement link each SMS carries.
    for (const f of [alertProcessor, detector]) linkKey.grantRead(f.role);
    allow(alertProcessor.role, ['s3:PutObject'], [objects(quarantineBucket, 'quarantine/alert-processor/')]);

    // Escalation calls: offline-detector only (it sends the escalation steps), and only
    // when an origination identity is configured (no calls, no grant). An ARN scopes the
    // grant to that phone number or pool (and the configuration set); otherwise IAM
    // cannot know which resource the identity names.
    if (voiceIdentity !== undefined) {
      const identityArn = smsVoiceArn(voiceIdentity)?.arn;
      if (identityArn) {
        const configurationSetArn =
          voiceConfigurationSet === undefined
            ? undefined
            : voiceConfigurationSet.startsWith('arn:')
              ? voiceConfigurationSet
              : `arn:${this.partition}:sms-voice:${this.region}:${this.account}:configuration-set/${voiceConfigurationSet}`;
        allow(detector.role, ['sms-voice:SendVoiceMessage'], [identityArn, ...(configurationSetArn ? [configurationSetArn] : [])]);
      } else {
        // Acknowledged with sns:Publish's Resource "*" above (one cdk-nag finding per policy).
        allow(detector.role, ['sms-voice:SendVoiceMessage'], ['*']);
      }
    }

    // ack-link: reads the alert its link names and acknowledges it (channel link), reads
    // the wearer's profile (the caregiver the link names), verifies links with the link
    // key; the acknowledgement becomes a curated alert file (below). Nothing else.
    allow(ackLink.role, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [alerts.tableArn]);
    allow(ackLink.role, ['dynamodb:GetItem'], [wearers.tableArn]);
    allow(ackLink.role, ['dynamodb:BatchGetItem'], [caregivers.tableArn]);
    linkKey.grantRead(ackLink.role);
    useDataKey(ackLink.role);

    // sms-reply: finds the SMS sent to the reply's number (the deliveries' phone index
    // only), acknowledges that alert (channel sms), reads the wearer's profile and
    // confirms by SMS; keeps failed events on its own queue (under the data key).
    allow(smsReply.role, ['dynamodb:Query'], [`${deliveries.tableArn}/index/${DELIVERIES_BY_PHONE_INDEX}`]);
    allow(smsReply.role, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], [alerts.tableArn]);
    allow(smsReply.role, ['dynamodb:GetItem'], [wearers.tableArn]);
    allow(smsReply.role, ['dynamodb:BatchGetItem'], [caregivers.tableArn]);
    allow(smsReply.role, ['sqs:SendMessage'], [smsReplyDlq.queueArn]);
    useDataKey(smsReply.role);

    for (const f of [alertProcessor, detector, daily, care, ackLink, smsReply]) {
      allow(f.role, ['s3:PutObject'], [objects(dataBucket, `${CURATED_PREFIX}alerts/`)]);
      allow(f.role, ['dynamodb:PutItem'], [curatedFiles.tableArn]);
      pseudonymKey.grantRead(f.role);
      ack(f.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/curated/alerts/*]`, 'Curated alert files are written under curated/alerts/ only: a prefix wildcard is the narrowest ARN.');
    }
    ack(alertProcessor.role, `AwsSolutions-IAM5[Resource::<${lid(quarantineBucket)}.Arn>/quarantine/alert-processor/*]`, 'Poison records are written under this function\'s own quarantine prefix, one object per record: a prefix wildcard is the narrowest ARN.');

    allow(archiver.role, ['s3:PutObject'], [objects(dataBucket, RAW_PREFIX), objects(dataBucket, `${CURATED_PREFIX}readings/`)]);
    allow(archiver.role, ['s3:PutObject'], [objects(quarantineBucket, 'quarantine/raw-archiver/')]);
    allow(archiver.role, ['dynamodb:PutItem'], [curatedFiles.tableArn]);
    pseudonymKey.grantRead(archiver.role);
    useDataKey(archiver.role);
    ack(archiver.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/raw/*]`, 'Raw archives are written under raw/ with dated keys: a prefix wildcard is the narrowest ARN.');
    ack(archiver.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/curated/readings/*]`, 'Curated Parquet is written under curated/readings/ with dated keys: a prefix wildcard is the narrowest ARN.');
    ack(archiver.role, `AwsSolutions-IAM5[Resource::<${lid(quarantineBucket)}.Arn>/quarantine/raw-archiver/*]`, 'Poison records are written under this function\'s own quarantine prefix: a prefix wildcard is the narrowest ARN.');

    allow(vitalsWriterFn.role, ['dynamodb:BatchWriteItem'], [vitals.tableArn]);
    allow(vitalsWriterFn.role, ['s3:PutObject'], [objects(quarantineBucket, 'quarantine/vitals-writer/')]);
    useDataKey(vitalsWriterFn.role);
    ack(vitalsWriterFn.role, `AwsSolutions-IAM5[Resource::<${lid(quarantineBucket)}.Arn>/quarantine/vitals-writer/*]`, 'Poison records are written under this function\'s own quarantine prefix: a prefix wildcard is the narrowest ARN.');

    // daily-summary: lists the wearers (its one Scan, with their caregivers), reads each
    // one's vitals items, alerts (the by-wearer index) and stored days, and stores the
    // days. Trend alerts and daily messages go through the alert path as offline-detector
    // sends them (vigil_alerting), but only the calls they make: an alert put if absent,
    // deliveries and escalation steps deferred (PutItem), claimed, sent or released
    // (UpdateItem, GetItem on a lost claim); it keeps no rule state and queries no
    // deliveries index. SMS and push, the link key and curated alert files: above. It
    // never writes vitals.
    allow(daily.role, ['dynamodb:Scan'], [wearers.tableArn]);
    allow(daily.role, ['dynamodb:BatchGetItem'], [caregivers.tableArn]);
    allow(daily.role, ['dynamodb:Query'], [vitals.tableArn]);
    allow(daily.role, ['dynamodb:Query'], [`${alerts.tableArn}/index/${ALERTS_BY_WEARER_INDEX}`]);
    allow(daily.role, ['dynamodb:PutItem'], [alerts.tableArn]);
    allow(daily.role, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [deliveries.tableArn]);
    // Get/Put/DeleteItem also keep the pass's position between runs (one item: docs/daily.md).
    allow(daily.role, ['dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:DeleteItem'], [wearerDays.tableArn]);
    allow(daily.role, ['s3:PutObject'], [objects(dataBucket, `${CURATED_PREFIX}days/`)]);
    linkKey.grantRead(daily.role);
    useDataKey(daily.role);
    ack(daily.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/curated/days/*]`, 'Curated days are written under curated/days/ with dated keys, one file per local date and digest: a prefix wildcard is the narrowest ARN.');

    allow(loader.role, ['dynamodb:Query'], [`${curatedFiles.tableArn}/index/${CURATED_BY_STATUS_INDEX}`]);
    allow(loader.role, ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'], [curatedFiles.tableArn]);
    allow(loader.role, ['s3:PutObject'], [objects(dataBucket, MANIFEST_PREFIX)]);
    allow(loader.role, ['s3:GetObject'], [objects(dataBucket, CURATED_PREFIX), objects(dataBucket, MANIFEST_PREFIX)]);
    allow(loader.role, ['redshift-data:BatchExecuteStatement', 'redshift-data:ExecuteStatement'], [warehouse.workgroupArn]);
    // Statement ids are not ARNs: IAM scopes these to statements this role ran.
    allow(loader.role, ['redshift-data:DescribeStatement', 'redshift-data:GetStatementResult', 'redshift-data:CancelStatement'], ['*'], {
      StringEquals: { 'redshift-data:statement-owner-iam-userid': '${aws:userid}' },
    });
    allow(loader.role, ['redshift-serverless:GetCredentials'], [warehouse.workgroupArn]);
    useDataKey(loader.role);
    ack(loader.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/manifests/*]`, 'COPY manifests are written (and read back) under manifests/ only: a prefix wildcard is the narrowest ARN.');
    ack(loader.role, `AwsSolutions-IAM5[Resource::<${lid(dataBucket)}.Arn>/curated/*]`, 'The loader reads curated files it is about to load (curated/ only; raw/ stays unreadable): a prefix wildcard is the narrowest ARN.');
    ack(loader.role, 'AwsSolutions-IAM5[Resource::*]', 'redshift-data:DescribeStatement/GetStatementResult/CancelStatement (the loader cancels a load that outlives its budget) take statement ids, not ARNs; the statement is limited by redshift-data:statement-owner-iam-userid to statements this role ran.');

    // ----------------------------------------- event source mappings (one per function)
    // As declared: alerts use a short batching window (alerts within seconds), the
    // sinks batch longer for fewer, larger writes. Handlers quarantine poison records
    // themselves, so retries are for transient failures (throttling, a service error):
    // many but bounded, and the record age is the real limit.
    const streamFunctions: Array<[VigilFunction, sqs.IQueue]> = [
      [alertProcessor, alertDlq],
      [archiver, archiverDlq],
      [vitalsWriterFn, vitalsDlq],
    ];
    // The alert path reads through its own enhanced fan-out consumer: records are pushed
    // about 70 ms after the put instead of polled about once a second, and the sinks'
    // reads never delay it (docs/performance.md, "Alert latency in AWS").
    for (const [f, dlq] of streamFunctions) {
      const props = { ...kinesisEventSourcePropsOf(f.declaration), onFailure: new SqsDlq(dlq) };
      if (kinesisOf(f.declaration).enhancedFanOut) {
        const consumer = new kinesis.StreamConsumer(this, `${pascalCase(f.declaration.name)}Consumer`, {
          stream,
          streamConsumerName: `${this.stackName}-${f.declaration.name}`,
        });
        f.fn.addEventSource(new KinesisConsumerEventSource(consumer, props));
      } else {
        f.fn.addEventSource(new KinesisEventSource(stream, props));
      }
    }

    // ------------------------------------------------------------ schedules
    // As declared (retries are EventBridge's, of a failed delivery); a declared
    // `setting` (loadEveryMinutes) overrides the rate.
    const schedules: Array<[VigilFunction, sqs.IQueue]> = [
      [detector, detectorDlq],
      [loader, loaderDlq],
      [daily, dailyDlq],
    ];
    for (const [f, dlq] of schedules) {
      const s = schedulePropsOf(f.declaration, settings);
      new events.Rule(this, `${f.node.id}Schedule`, {
        description: `${f.declaration.name} ${s.every}`,
        schedule: s.schedule,
        targets: [new targets.LambdaFunction(f.fn, { retryAttempts: s.retryAttempts, maxEventAge: s.maxEventAge, deadLetterQueue: dlq })],
      });
    }

    // ------------------------------------------------------------ the API
    const userPool = new cognito.UserPool(this, 'AppUsers', {
      userPoolName: `${this.stackName}-app-users`,
      // App users are created by the operator (docs/deploying.md), not by sign-up.
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      signInCaseSensitive: false,
      passwordPolicy: { minLength: 12, requireDigits: true, requireLowercase: true, requireUppercase: true, requireSymbols: true },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      deletionProtection: settings.retainData,
      removalPolicy: removal,
    });
    ack(userPool, 'AwsSolutions-COG2', 'MFA is offered (TOTP) but not required: app users are elderly wearers and their households on the phone paired with the band; required MFA locks them out of uploads that carry SOS and fall alerts. Uploads are further limited to devices registered to the user.');
    ack(userPool, 'AwsSolutions-COG8', 'The Plus feature plan (threat protection, per-MAU price) is not used: no self sign-up, operator-created users, uploads authorized per registered device, caregivers\' requests per linked wearer (caregiver links). Revisit with the threat model.');
    ack(userPool, 'AwsSolutions-COG3', 'Threat protection (Cognito Plus, per-MAU price) is not enabled; the pool has no self sign-up, uploads are authorized per registered device and caregivers\' requests per linked wearer. Enable featurePlan PLUS if the threat model changes.');
    // Public mobile clients: no secret; SRP for the app, admin password auth for operators' tests.
    const mobileClient: cognito.UserPoolClientOptions = {
      generateSecret: false,
      authFlows: { userSrp: true, adminUserPassword: true },
      preventUserExistenceErrors: true,
      accessTokenValidity: Duration.hours(1),
      idTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
    };
    // The wearers' (and households') app: uploads.
    const appClient = userPool.addClient('MobileApp', mobileClient);
    // The caregivers' app: the caregivers' API. Its own client, so each API accepts
    // only tokens issued to its own app (each authorizer's audience is one client).
    const caregiverClient = userPool.addClient('CaregiverApp', mobileClient);

    // Infrequent Access: half the ingestion price of Standard, and Logs Insights still
    // queries it. It cannot feed metric filters, subscriptions, EMF or Live Tail, which
    // the access log needs none of (the API's own metrics are AWS/ApiGateway's). The
    // functions' log groups stay Standard: their EMF lines are their metrics.
    const accessLogGroup = new logs.LogGroup(this, 'ApiAccessLogs', {
      encryptionKey: opsKey,
      retention: logRetention,
      removalPolicy: removal,
      logGroupClass: logs.LogGroupClass.INFREQUENT_ACCESS,
    });
    // One JWT authorizer per kind of user who signs in, each accepting only its own app
    // client's tokens: a route is behind the authorizer of the users its function declares.
    const authorizers: Record<SignedInUsers, HttpUserPoolAuthorizer> = {
      app: new HttpUserPoolAuthorizer('AppUserJwt', userPool, { userPoolClients: [appClient] }),
      caregivers: new HttpUserPoolAuthorizer('CaregiverJwt', userPool, { userPoolClients: [caregiverClient] }),
    };
    const authorizerOf = (users: HttpUsers): apigwv2.IHttpRouteAuthorizer =>
      users === 'public' ? new apigwv2.HttpNoneAuthorizer() : authorizers[users];
    // Each HTTP function's declared routes, behind its users' authorizer (none: `public`).
    const httpFunctions: Array<[VigilFunction, string]> = [
      [ingest, 'IngestIntegration'],
      [care, 'CareIntegration'],
      [ackLink, 'AckLinkIntegration'],
    ];
    const publicRoutes: Array<[string, apigwv2.HttpRoute]> = [];
    const routeOwner = new Map<string, string>();
    for (const [f, integrationId] of httpFunctions) {
      const { users, routes } = httpOf(f.declaration);
      const integration = new HttpLambdaIntegration(integrationId, f.fn, {
        payloadFormatVersion: apigwv2.PayloadFormatVersion.VERSION_2_0,
        // A few seconds past the function's own timeout (HTTP APIs allow at most 30 s).
        timeout: Duration.seconds(Math.min(30, f.declaration.timeoutSecs + 3)),
      });
      for (const route of routes) {
        const owner = routeOwner.get(route.key);
        if (owner) throw new Error(`${f.declaration.file}: the route "${route.key}" is already ${owner}'s`);
        routeOwner.set(route.key, f.declaration.name);
        const added = api.addRoutes({ path: route.path, methods: [route.method], integration, authorizer: authorizerOf(users) });
        if (users === 'public') {
          for (const r of added) {
            publicRoutes.push([route.key, r]);
            ack(r, 'AwsSolutions-APIG4',
              `${route.key} is ${f.declaration.name}'s public route (function.json users "public"): the caregiver opening the link in an alert SMS has no sign-in. ` +
                'The credential is the token in the path, an HMAC-SHA256 tag (112 bits) over the alert, the caregiver and a 24-hour expiry under the link key, checked by the function before any read. ' +
                `Throttled per route (${PUBLIC_ROUTE_THROTTLE.rateLimit}/s, burst ${PUBLIC_ROUTE_THROTTLE.burstLimit}) and capped by the function's reserved concurrency; every other route keeps its JWT authorizer.`);
          }
        }
      }
    }
    const ingestRoutes = routesOf(ingest.declaration);
    const stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: api,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: settings.apiRateLimit, burstLimit: settings.apiBurstLimit },
      detailedMetricsEnabled: true,
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(accessLogGroup),
        // Request metadata only: HTTP APIs cannot log bodies, and none of these
        // variables carries one. The caller is the Cognito `sub` (an opaque id; empty
        // on public routes). The route key is the template (`GET /a/{token}`), never
        // the path: link tokens are not logged.
        format: apigw.AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            protocol: '$context.protocol',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationStatus: '$context.integrationStatus',
            integrationLatencyMs: '$context.integrationLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
            sub: '$context.authorizer.claims.sub',
          }),
        ),
      },
    });
    // The public routes' own, lower throttling. A stage's route settings name routes
    // that must exist first: the stage waits for them.
    if (publicRoutes.length) {
      (stage.node.defaultChild as apigwv2.CfnStage).routeSettings = Object.fromEntries(
        publicRoutes.map(([key]) => [
          key,
          { ThrottlingRateLimit: PUBLIC_ROUTE_THROTTLE.rateLimit, ThrottlingBurstLimit: PUBLIC_ROUTE_THROTTLE.burstLimit, DetailedMetricsEnabled: true },
        ]),
      );
      for (const [, r] of publicRoutes) stage.node.addDependency(r);
    }

    // ------------------------------------------------------ SNS subscriptions
    // sms-reply on the inbound SMS topic its declaration names.
    topicOf(smsReplyDecl, topics).addSubscription(new subs.LambdaSubscription(smsReply.fn));

    // ----------------------------------------------------- alarms, dashboard
    const alarmTopic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'Vigil alarms',
      masterKey: opsKey,
      enforceSSL: true,
    });
    if (settings.alarmEmail) alarmTopic.addSubscription(new subs.EmailSubscription(settings.alarmEmail));
    const action = new cwActions.SnsAction(alarmTopic);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string, periods = 1) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      return a;
    };

    const streamFns: Array<[string, lambda.IFunction, Duration]> = [
      ['AlertProcessor', alertProcessor.fn, Duration.seconds(30)],
      ['RawArchiver', archiver.fn, Duration.minutes(5)],
      ['VitalsWriter', vitalsWriter, Duration.minutes(5)],
    ];
    for (const [id, fn, behind] of streamFns) {
      alarm(`${id}IteratorAge`, fn.metric('IteratorAge', { statistic: 'Maximum', period: Duration.minutes(1) }), behind.toMilliseconds(),
        `${id} is falling behind the stream by more than ${behind.toHumanString()} (back-pressure)`, 3);
    }
    const allFns: Array<[string, lambda.IFunction]> = [
      ['IngestApi', ingest.fn],
      ['CareApi', care.fn],
      ['AlertProcessor', alertProcessor.fn],
      ['OfflineDetector', detector.fn],
      ['RawArchiver', archiver.fn],
      ['VitalsWriter', vitalsWriter],
      ['WarehouseLoader', loader.fn],
      ['DailySummary', daily.fn],
      ['AckLink', ackLink.fn],
      ['SmsReply', smsReply.fn],
    ];
    for (const [id, fn] of allFns) {
      alarm(`${id}Errors`, fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }), 0, `${id} invocations failed`);
      alarm(`${id}Throttles`, fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' }), 0, `${id} was throttled (reserved concurrency reached)`);
    }
    const dlqs: Array<[string, sqs.Queue]> = [
      ['AlertProcessorFailures', alertDlq],
      ['RawArchiverFailures', archiverDlq],
      ['VitalsWriterFailures', vitalsDlq],
      ['OfflineDetectorFailures', detectorDlq],
      ['WarehouseLoaderFailures', loaderDlq],
      ['DailySummaryFailures', dailyDlq],
      ['SmsReplyFailures', smsReplyDlq],
    ];
    for (const [id, q] of dlqs) {
      alarm(`${id}Depth`, q.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }), 0,
        `${id} holds records that were given up on: replay them from the stream (7 days) or raw/`);
    }
    const apiMetric = (name: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/ApiGateway', metricName: name, dimensionsMap: { ApiId: api.apiId, Stage: '$default' }, statistic: 'Sum', period: Duration.minutes(5) });
    const fiveXxRate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { errors: apiMetric('5xx'), requests: apiMetric('Count') },
      label: 'API 5xx %',
      period: Duration.minutes(5),
    });
    alarm('Api5xxRate', fiveXxRate, 1, 'More than 1% of API requests (uploads and the caregivers\' API) answered 5xx', 2);
    const smsSpend = new cloudwatch.Metric({ namespace: 'AWS/SNS', metricName: 'SMSMonthToDateSpentUSD', statistic: 'Maximum', period: Duration.hours(1) });
    alarm('SmsSpend', smsSpend, settings.smsSpendAlarmUsd, `SMS spend this month is over ${settings.smsSpendAlarmUsd} USD (set the account's SNS MonthlySpendLimit above it)`);
    alarm('StreamWriteThrottled', stream.metricPutRecordsThrottledRecords({ period: Duration.minutes(5), statistic: 'Sum' }), 0,
      'Kinesis refused records for throughput: add shards (-c vigil:shards=N)');
    // Provisioned tables (dynamodbProvisioned): a burst past their units is throttled, and
    // retried, until auto scaling catches up; the alert path waits meanwhile.
    if (settings.dynamodbProvisioned) {
      for (const [id, t] of [['Vitals', vitals], ['WearerState', wearerState]] as const) {
        const throttled = (name: string) => t.metric(name, { period: Duration.minutes(5), statistic: 'Sum' });
        alarm(`${id}TableThrottled`, new cloudwatch.MathExpression({
          expression: 'reads + writes',
          usingMetrics: { reads: throttled('ReadThrottleEvents'), writes: throttled('WriteThrottleEvents') },
          label: `${id} throttle events`,
          period: Duration.minutes(5),
        }), 0, `The provisioned ${id} table throttled requests: raise -c vigil:provisionedMinUnits, or go back to on demand (dynamodbProvisioned=false)`);
      }
    }

    const streamDecoders = ['alert-processor', 'raw-archiver', 'vitals-writer'];
    // The functions' EMF metrics (vigil_lambda::metrics): namespace Vigil, dimension Function.
    const emf = (metricName: string, fn: string, statistic = 'Sum', period = Duration.minutes(5)) =>
      new cloudwatch.Metric({ namespace: 'Vigil', metricName, dimensionsMap: { Function: fn }, statistic, period });
    // Nobody acknowledged an alert through its whole escalation (SMS, push, calls): the
    // on-call acts at once. One minute, the detector's schedule; any such alert alarms.
    const lastLevel = new cloudwatch.Alarm(this, 'AlertLastLevelReached', {
      metric: emf(LAST_LEVEL_METRIC, detector.declaration.name, 'Sum', Duration.minutes(1)),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      alarmDescription:
        'An alert reached its last escalation level unacknowledged (offline-detector LastLevelReached): nobody answered the SMS, push or calls. Check on the wearer now.',
    });
    lastLevel.addAlarmAction(action);
    lastLevel.addOkAction(action);

    // What would otherwise be a log line nobody reads (docs/operating.md, "Alarms").
    const watched: cloudwatch.Alarm[] = [lastLevel];
    for (const fn of streamDecoders) {
      watched.push(alarm(`${pascalCase(fn)}PoisonRecords`, emf('PoisonRecords', fn), 0,
        `${fn} quarantined poison records (not envelopes): find them in the quarantine bucket; a sender or a deploy writes what the stream functions cannot read`));
    }
    for (const fn of [alertProcessor.declaration.name, detector.declaration.name, daily.declaration.name]) {
      watched.push(alarm(`${pascalCase(fn)}NotificationsRefused`, emf('NotificationsRefused', fn), 0,
        `${fn}: the provider refused a notification for good (invalid or opted-out number, disabled push endpoint): a caregiver can never be reached until their profile is fixed`));
    }
    watched.push(alarm('WearersWithoutProfile', emf('WearersWithoutProfile', alertProcessor.declaration.name), 0,
      'alert-processor evaluated readings of a wearer with no profile: their alerts are stored but nobody is told. Register the wearer (vigil wearers put).'));
    // The loader runs every loadEveryMinutes: a backlog four runs old is a loader that
    // runs but never catches up (a failing or stopped one has its own alarms).
    const backlogS = 4 * settings.loadEveryMinutes * 60;
    watched.push(alarm('WarehouseBacklogAge', emf('OldestPendingFileAgeS', loader.declaration.name, 'Maximum', Duration.minutes(settings.loadEveryMinutes)), backlogS,
      `The oldest curated file waiting for the warehouse is over ${backlogS / 60} minutes old (warehouse-loader OldestPendingFileAgeS): the warehouse is falling behind`));
    // Event time to raised: routine readings reach the stream up to 5 minutes late (the
    // app's batching), so above 6 minutes for 15 minutes is the pipeline, not the phones.
    watched.push(alarm('AlertLatencyP99', emf('AlertLatencyMs', alertProcessor.declaration.name, 'p99'), ALERT_LATENCY_P99_ALARM_MS,
      `The p99 of alert latency (reading to alert raised) is over ${ALERT_LATENCY_P99_ALARM_MS / 60_000} minutes for 15 minutes: alerts reach caregivers late`, 3));
    // daily-summary runs once per period of its declared rate (hourly). One run with a
    // failed or left-over wearer is its Errors alarm and the next run redoes it; the same
    // in DAILY_SUMMARY_SUSTAINED_RUNS runs running is a wearer whose day never gets done.
    const dailyEvery = Duration.minutes(schedulePropsOf(daily.declaration, settings).rateMinutes);
    const dailyRuns = `${DAILY_SUMMARY_SUSTAINED_RUNS} runs running (${dailyEvery.toHumanString()} apart)`;
    watched.push(alarm('DailySummaryWearersFailed', emf('WearersFailed', daily.declaration.name, 'Sum', dailyEvery), 0,
      `daily-summary failed wearers in ${dailyRuns} (WearersFailed): their days are not stored and their daily messages wait; its WARN lines give each error (docs/operating.md)`,
      DAILY_SUMMARY_SUSTAINED_RUNS));
    watched.push(alarm('DailySummaryWearersLeft', emf('WearersLeft', daily.declaration.name, 'Sum', dailyEvery), 0,
      `daily-summary ran out of time before every wearer in ${dailyRuns} (WearersLeft): runs do not catch up; see RunMs and the store throttles`,
      DAILY_SUMMARY_SUSTAINED_RUNS));
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `${this.stackName}-overview` });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'API requests and 5xx', left: [apiMetric('Count'), apiMetric('4xx'), apiMetric('5xx')], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Uploads (ingest-api)', left: [emf('Uploads', 'ingest-api'), emf('ReadingsAccepted', 'ingest-api'), emf('ReadingsRejected', 'ingest-api'), emf('UploadsFailed', 'ingest-api')], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Iterator age (ms)', left: streamFns.map(([, fn]) => fn.metric('IteratorAge', { statistic: 'Maximum' })), width: 8 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Alerts', left: [emf('AlertsRaised', 'alert-processor'), emf('NotificationsSent', 'alert-processor'), emf('NotificationsRefused', 'alert-processor'), emf('AlertsRaised', 'offline-detector')], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Alert latency p99 (ms, event time to raised)', left: [emf('AlertLatencyMs', 'alert-processor', 'p99')], width: 8 }),
      new cloudwatch.GraphWidget({ title: 'Errors and throttles', left: allFns.map(([, fn]) => fn.metricErrors()), right: allFns.map(([, fn]) => fn.metricThrottles()), width: 8 }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Failure destinations (messages)', left: dlqs.map(([, q]) => q.metricApproximateNumberOfMessagesVisible()), width: 8 }),
      new cloudwatch.GraphWidget({ title: 'SMS spend this month (USD)', left: [smsSpend], width: 8 }),
      // Right axis: envelopes the decoder's fast path declined — none unless ingest
      // and the stream functions disagree on the envelope's layout (a partial deploy).
      new cloudwatch.GraphWidget({
        title: 'Poison records quarantined / records decoded slowly',
        left: streamDecoders.map((fn) => emf('PoisonRecords', fn)),
        right: streamDecoders.map((fn) => emf('RecordsDecodedSlowly', fn)),
        width: 8,
      }),
    );

    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Escalations and calls (offline-detector)',
        left: ['EscalationSteps', 'Calls', 'EscalationsCancelled', 'NotificationsRefused'].map((m) => emf(m, detector.declaration.name)),
        right: [emf(LAST_LEVEL_METRIC, detector.declaration.name)],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Acknowledgements by link and by SMS reply',
        left: [emf('Acknowledged', ackLink.declaration.name), emf('RepliesAcknowledged', smsReply.declaration.name), emf('ConfirmationsSent', smsReply.declaration.name)],
        right: [emf('LinksRefused', ackLink.declaration.name), emf('LinksExpired', ackLink.declaration.name), emf('RepliesUnmatched', smsReply.declaration.name), emf('RepliesFailed', smsReply.declaration.name)],
        width: 8,
      }),
      // Route-level metrics (detailed metrics): ApiId, Stage, Method, Resource. 4xx includes the routes' 429s.
      new cloudwatch.GraphWidget({
        title: 'Link routes /a/{token}: requests and 4xx (429: throttled)',
        left: publicRoutes.flatMap(([key]) => {
          const [method, resource] = key.split(' ');
          return ['Count', '4xx'].map(
            (m) =>
              new cloudwatch.Metric({
                namespace: 'AWS/ApiGateway',
                metricName: m,
                dimensionsMap: { ApiId: api.apiId, Stage: '$default', Method: method, Resource: resource },
                statistic: 'Sum',
                period: Duration.minutes(5),
                label: `${key} ${m}`,
              }),
          );
        }),
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms that need a person', alarms: watched, width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Daily summaries (daily-summary, per run)',
        left: ['DaysComputed', 'TrendsRaised', 'DailyMessagesSent'].map((m) => emf(m, daily.declaration.name, 'Sum', dailyEvery)),
        right: ['WearersFailed', 'WearersLeft'].map((m) => emf(m, daily.declaration.name, 'Sum', dailyEvery)),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Warehouse backlog age (s) / wearers without a profile',
        left: [emf('OldestPendingFileAgeS', loader.declaration.name, 'Maximum', Duration.minutes(settings.loadEveryMinutes))],
        leftAnnotations: [{ value: backlogS, label: 'alarm' }],
        right: [emf('WearersWithoutProfile', alertProcessor.declaration.name)],
        width: 8,
      }),
    );

    // --------------------------------------------------------------- outputs
    const out = (id: string, value: string, description: string) => new CfnOutput(this, `${id}Output`, { key: id, value, description });
    out('ApiUrl', `${api.apiEndpoint}${ingestRoutes[0].path}`, `${ingestRoutes[0].method} uploads here with an app user's token`);
    out('ApiEndpoint', api.apiEndpoint, 'The HTTP API: ingest-api\'s routes take a mobile-app token, care-api\'s a caregiver-app token');
    out('UserPoolId', userPool.userPoolId, 'Cognito user pool of app users and caregivers');
    out('AppClientId', appClient.userPoolClientId, 'Cognito app client of the mobile app');
    out('CaregiverAppClientId', caregiverClient.userPoolClientId, 'Cognito app client of the caregivers\' app');
    out('StreamName', stream.streamName, 'STREAM_NAME');
    out('DevicesTable', devices.tableName, 'DEVICES_TABLE (vigil register-device)');
    out('WearersTable', wearers.tableName, 'WEARERS_TABLE (vigil register-wearer)');
    out('CaregiversTable', caregivers.tableName, 'CAREGIVERS_TABLE (vigil caregivers)');
    out('CaregiverLinksTable', caregiverLinks.tableName, 'CAREGIVER_LINKS_TABLE (vigil register-wearer)');
    out('AlertsTable', alerts.tableName, 'ALERTS_TABLE');
    out('DaysTable', wearerDays.tableName, 'DAYS_TABLE (daily-summary, care-api)');
    out('DataBucket', dataBucket.bucketName, 'DATA_BUCKET');
    out('QuarantineBucket', quarantineBucket.bucketName, 'QUARANTINE_BUCKET');
    out('AlarmTopicArn', alarmTopic.topicArn, 'Subscribe the on-call here');
    out('InboundSmsTopicArn', inboundSmsTopic.topicArn, 'Two-way SMS destination of the origination phone number (docs/deploying.md): replies reach sms-reply');
    out('LinkBaseUrl', linkBaseUrl, 'LINK_BASE_URL: where the acknowledgement links in SMS point (-c vigil:linkBaseUrl for a short custom domain)');
    out('ApiId', api.apiId, 'The HTTP API id (map a custom domain to its $default stage)');
    out('RedshiftWorkgroup', warehouse.workgroupName, 'REDSHIFT_WORKGROUP');
    out('DashboardName', dashboard.dashboardName, 'CloudWatch dashboard');
    void stage;
  }

  /**
   * Three AZs even for an environment-agnostic stack (CDK otherwise assumes two):
   * Redshift Serverless wants subnets in three AZs.
   */
  public get availabilityZones(): string[] {
    return [0, 1, 2].map((i) => Fn.select(i, Fn.getAzs()));
  }
}

interface WarehouseProps {
  readonly dataKey: kms.IKey;
  readonly opsKey: kms.IKey;
  readonly dataBucket: s3.IBucket;
  readonly accessLogs: s3.IBucket;
  readonly baseRpu: number;
  readonly removal: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
}

/**
 * Redshift Serverless in a VPC of private isolated subnets (no internet route),
 * encrypted with the data key, not publicly accessible, with audit logs
 * exported to CloudWatch, and the COPY role associated with the namespace.
 */
class Warehouse extends Construct {
  public readonly copyRole: iam.Role;
  public readonly workgroupName: string;
  public readonly workgroupArn: string;

  constructor(scope: Construct, id: string, props: WarehouseProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),
      maxAzs: 3,
      natGateways: 0,
      subnetConfiguration: [{ name: 'warehouse', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
      // Closing the default security group needs a custom-resource Lambda;
      // nothing in this VPC uses the default group (the workgroup has its own).
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        rejected: { destination: ec2.FlowLogDestination.toS3(props.accessLogs, 'vpc-flow-logs/'), trafficType: ec2.FlowLogTrafficType.ALL },
      },
    });
    ack(vpc, 'HIPAA.Security-VPCDefaultSecurityGroupClosed', 'Nothing is placed in the default security group (the workgroup has its own, with no inbound rule); closing it needs a custom-resource Lambda that the packs would flag in turn.');
    // Enhanced VPC routing sends COPY's S3 reads through the VPC: the gateway
    // endpoint is their only way out, and only to the data bucket.
    const s3Endpoint = vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
    s3Endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:GetObject', 's3:ListBucket', 's3:GetBucketLocation'],
        resources: [props.dataBucket.bucketArn, `${props.dataBucket.bucketArn}/*`],
      }),
    );
    const sg = new ec2.SecurityGroup(this, 'WorkgroupSg', {
      vpc,
      description: 'Redshift Serverless workgroup: no inbound (the Data API needs none); out to S3 only',
      allowAllOutbound: false,
    });
    // The subnets have no internet route: HTTPS can only leave through the S3
    // gateway endpoint above, whose policy admits the data bucket alone.
    sg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'COPY reads curated Parquet from S3 (gateway endpoint only)');

    this.copyRole = new ManagedPolicyRole(this, 'CopyRole', {
      assumedBy: new iam.CompositePrincipal(
        new iam.ServicePrincipal('redshift.amazonaws.com'),
        new iam.ServicePrincipal('redshift-serverless.amazonaws.com'),
      ),
      description: 'Redshift COPY: reads curated/ and manifests/ in the data bucket, nothing else',
    });
    this.copyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [`${props.dataBucket.bucketArn}/${CURATED_PREFIX}*`, `${props.dataBucket.bucketArn}/${MANIFEST_PREFIX}*`],
      }),
    );
    this.copyRole.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt'],
        resources: [props.dataKey.keyArn],
        conditions: { StringEquals: { 'kms:ViaService': `s3.${stack.region}.amazonaws.com` } },
      }),
    );
    ack(this.copyRole, `AwsSolutions-IAM5[Resource::<${lid(props.dataBucket)}.Arn>/curated/*]`, 'COPY reads the curated Parquet files named in a manifest: object ARNs under curated/ need a prefix wildcard; raw/ stays unreadable.');
    ack(this.copyRole, `AwsSolutions-IAM5[Resource::<${lid(props.dataBucket)}.Arn>/manifests/*]`, 'COPY reads the manifest the loader wrote under manifests/: a prefix wildcard is the narrowest ARN.');

    const namespaceName = `${stack.stackName.toLowerCase()}-warehouse`.replace(/[^a-z0-9-]/g, '-');
    const namespace = new redshift.CfnNamespace(this, 'Namespace', {
      namespaceName,
      dbName: REDSHIFT_DATABASE,
      adminUsername: 'vigiladmin',
      manageAdminPassword: true,
      adminPasswordSecretKmsKeyId: props.dataKey.keyArn,
      kmsKeyId: props.dataKey.keyArn,
      iamRoles: [this.copyRole.roleArn],
      defaultIamRoleArn: this.copyRole.roleArn,
      logExports: ['userlog', 'connectionlog', 'useractivitylog'],
    });
    namespace.applyRemovalPolicy(props.removal);
    this.workgroupName = namespaceName;
    const workgroup = new redshift.CfnWorkgroup(this, 'Workgroup', {
      workgroupName: this.workgroupName,
      namespaceName: namespace.namespaceName,
      baseCapacity: props.baseRpu,
      publiclyAccessible: false,
      enhancedVpcRouting: true,
      subnetIds: vpc.isolatedSubnets.map((s) => s.subnetId),
      securityGroupIds: [sg.securityGroupId],
      configParameters: [
        { parameterKey: 'require_ssl', parameterValue: 'true' },
        { parameterKey: 'enable_user_activity_logging', parameterValue: 'true' },
      ],
    });
    workgroup.addResourceDependency(namespace);
    workgroup.applyRemovalPolicy(props.removal);
    this.workgroupArn = workgroup.attrWorkgroupWorkgroupArn;
  }
}

/** A numeric setting that must be a whole number in [min, max]; its value. */
function wholeSetting(settings: VigilSettings, key: keyof VigilSettings, unit: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const value = settings[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`vigil:${key}=${value}: expected a whole number of ${unit}, ${range}`);
  }
  return value;
}
