import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as events from 'aws-cdk-lib/aws-events';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { KinesisEventSourceProps } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { VigilSettings } from './vigil-stack';

/**
 * Each function's deployment facts, declared once in `functions/<name>/function.json`:
 * description, timeout, memory, reserved concurrency, environment and trigger. The
 * stack deploys from them (it still decides grants, failure queues and which resource
 * each `resource` key names); `vigil run` (crates/vigil-local/src/declaration.rs) and
 * docs/functions.md read the same files. The format is checked here as strictly as the
 * Rust side reads it (unknown fields are errors there too).
 */

/** The repository root: the Cargo workspace every function is built from. */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
/** Where each function's crate and its `function.json` live. */
export const FUNCTIONS_DIR = path.join(REPO_ROOT, 'functions');

/** Reserved concurrency: a stack setting, a multiple of the stream's shards, or fixed (with its reason). */
export type ConcurrencyDeclaration =
  | { readonly setting: string }
  | { readonly perShard: number }
  | { readonly fixed: number; readonly why: string };

/** One environment variable the function's configuration code reads. */
export type VariableDeclaration =
  /** The stack resource whose name or ARN the variable carries (a key of the stack's resources map). */
  | { readonly kind: 'resource'; readonly resource: string; readonly meaning: string }
  /** A setting: the stack sets it to this value explicitly. */
  | { readonly kind: 'default'; readonly default: string; readonly meaning: string }
  /** Given only in local runs; the stack never sets it. */
  | { readonly kind: 'local'; readonly meaning: string }
  /** Set by nobody by default; the stack never sets it. */
  | { readonly kind: 'optional'; readonly meaning: string };

/** A Kinesis event source mapping on the readings stream, in Lambda's terms. */
export interface KinesisTrigger {
  readonly batchSize: number;
  readonly maxBatchingWindowSecs: number;
  readonly retryAttempts: number;
  readonly maxRecordAgeHours: number;
  readonly bisectBatchOnError: boolean;
  readonly parallelizationFactor: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  /** Read through a dedicated enhanced fan-out consumer (pushed records) instead of polling. */
  readonly enhancedFanOut: boolean;
}

/** An EventBridge schedule. */
export interface ScheduleTrigger {
  readonly rateMinutes: number;
  /** EventBridge's retries of a failed delivery to the function. */
  readonly retryAttempts: number;
  readonly maxEventAgeMinutes: number;
  /** The stack setting that overrides `rateMinutes` (whose default is `rateMinutes`). */
  readonly setting?: string;
  readonly why?: string;
}

/** An HTTP API route: `METHOD /path`. */
export interface HttpRoute {
  readonly method: apigwv2.HttpMethod;
  readonly path: string;
  /** As written: `POST /v1/uploads` (the route key). */
  readonly key: string;
}

/**
 * Who calls an HTTP function, and so which of the user pool's app clients (and the
 * API's JWT authorizers) its routes accept: `app` the mobile app of wearers and their
 * households, `caregivers` the caregivers' app. `public`: nobody signs in, the route has
 * no authorizer at all; the function authenticates each request itself (ack-link: the
 * signed token in the path is the credential).
 */
export type HttpUsers = 'app' | 'caregivers' | 'public';
export const HTTP_USERS: readonly HttpUsers[] = ['app', 'caregivers', 'public'];
/** The HTTP users that sign in: each has its own app client and JWT authorizer. */
export type SignedInUsers = Exclude<HttpUsers, 'public'>;

/** An HTTP trigger: its users and its routes. */
export interface HttpTrigger {
  readonly users: HttpUsers;
  readonly routes: readonly HttpRoute[];
}

/**
 * An SNS topic of the stack the function is subscribed to (Lambda invokes it
 * asynchronously). The stack decides which topic the key names and the on-failure
 * destination.
 */
export interface SnsTrigger {
  /** A key of the stack's topics map (`inboundSmsTopic`). */
  readonly topic: string;
  /** Lambda's own retries of an invocation that failed (asynchronous invocation: 0 to 2). */
  readonly retryAttempts: number;
  readonly why?: string;
}

export type TriggerDeclaration =
  | ({ readonly kind: 'http' } & HttpTrigger)
  | { readonly kind: 'kinesis'; readonly kinesis: KinesisTrigger }
  | { readonly kind: 'schedule'; readonly schedule: ScheduleTrigger }
  | { readonly kind: 'sns'; readonly sns: SnsTrigger };

export interface FunctionDeclaration {
  /** The crate and binary name under functions/ (kebab-case, the same everywhere). */
  readonly name: string;
  /** `functions/<name>/function.json`, for error messages. */
  readonly file: string;
  readonly description: string;
  readonly timeoutSecs: number;
  readonly memoryMb: number;
  readonly reservedConcurrency: ConcurrencyDeclaration;
  /** In the file's order. */
  readonly environment: Readonly<Record<string, VariableDeclaration>>;
  readonly trigger: TriggerDeclaration;
}

// ------------------------------------------------------------------ parsing

class Reader {
  constructor(private readonly where: string) {}

  fail(at: string, message: string): never {
    throw new Error(`${this.where}: ${at ? `${at}: ` : ''}${message}`);
  }

  object(value: unknown, at: string, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(at, 'expected an object');
    const obj = value as Record<string, unknown>;
    const known = new Set([...required, ...optional]);
    const unknown = Object.keys(obj).filter((k) => !known.has(k));
    if (unknown.length) this.fail(at, `unknown field(s) ${unknown.join(', ')} (expected ${[...known].join(', ')})`);
    const missing = required.filter((k) => obj[k] === undefined);
    if (missing.length) this.fail(at, `missing field(s) ${missing.join(', ')}`);
    return obj;
  }

  string(value: unknown, at: string): string {
    if (typeof value !== 'string' || value.trim() === '') this.fail(at, `expected a non-empty string, got ${JSON.stringify(value)}`);
    return value;
  }

  bool(value: unknown, at: string): boolean {
    if (typeof value !== 'boolean') this.fail(at, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }

  int(value: unknown, at: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(at, `expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    return value;
  }

  /** Exactly one of `keys` is present: which one. */
  oneOf(obj: Record<string, unknown>, at: string, keys: readonly string[]): string {
    const present = keys.filter((k) => obj[k] !== undefined);
    if (present.length !== 1) this.fail(at, `expected exactly one of ${keys.join(', ')}, got ${present.length ? present.join(', ') : 'none'}`);
    return present[0];
  }
}

const HTTP_METHODS = new Set<string>(Object.values(apigwv2.HttpMethod));

/** Parse and check one `function.json` (already JSON-decoded). */
export function parseDeclaration(name: string, json: unknown, file = `functions/${name}/function.json`): FunctionDeclaration {
  const r: Reader = new Reader(file);
  const top = r.object(json, '', ['description', 'timeoutSecs', 'memoryMb', 'reservedConcurrency', 'environment', 'trigger']);

  const c = r.object(top.reservedConcurrency, 'reservedConcurrency', [], ['setting', 'perShard', 'fixed', 'why']);
  let reservedConcurrency: ConcurrencyDeclaration;
  switch (r.oneOf(c, 'reservedConcurrency', ['setting', 'perShard', 'fixed'])) {
    case 'setting':
      reservedConcurrency = { setting: r.string(c.setting, 'reservedConcurrency.setting') };
      break;
    case 'perShard':
      reservedConcurrency = { perShard: r.int(c.perShard, 'reservedConcurrency.perShard', 1, 100) };
      break;
    default:
      // A fixed number is a design decision: the file says why (the stack used to, in a comment).
      reservedConcurrency = {
        fixed: r.int(c.fixed, 'reservedConcurrency.fixed', 1, 1000),
        why: r.string(c.why, 'reservedConcurrency.why (a fixed reserved concurrency says why)'),
      };
  }

  const env = r.object(top.environment, 'environment', [], Object.keys(top.environment ?? {}));
  const environment: Record<string, VariableDeclaration> = {};
  for (const [varName, raw] of Object.entries(env)) {
    const at = `environment.${varName}`;
    if (!/^[A-Z][A-Z0-9_]*$/.test(varName)) r.fail(at, 'expected an UPPER_SNAKE_CASE variable name');
    const v = r.object(raw, at, ['meaning'], ['resource', 'default', 'local', 'optional']);
    const meaning = r.string(v.meaning, `${at}.meaning`);
    const kind = r.oneOf(v, at, ['resource', 'default', 'local', 'optional']);
    switch (kind) {
      case 'resource':
        environment[varName] = { kind, resource: r.string(v.resource, `${at}.resource`), meaning };
        break;
      case 'default':
        if (typeof v.default !== 'string') r.fail(`${at}.default`, `expected a string (environment values are strings), got ${JSON.stringify(v.default)}`);
        environment[varName] = { kind, default: v.default, meaning };
        break;
      default:
        if (v[kind] !== true) r.fail(`${at}.${kind}`, 'expected true');
        environment[varName] = { kind: kind as 'local' | 'optional', meaning };
    }
  }

  const t = r.object(top.trigger, 'trigger', [], ['http', 'kinesis', 'schedule', 'sns']);
  let trigger: TriggerDeclaration;
  switch (r.oneOf(t, 'trigger', ['http', 'kinesis', 'schedule', 'sns'])) {
    case 'http': {
      const h = r.object(t.http, 'trigger.http', ['users', 'routes']);
      const users = r.string(h.users, 'trigger.http.users');
      if (!(HTTP_USERS as readonly string[]).includes(users)) {
        const quoted = HTTP_USERS.map((u) => JSON.stringify(u));
        r.fail('trigger.http.users', `expected ${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}, got ${JSON.stringify(users)}`);
      }
      if (!Array.isArray(h.routes) || h.routes.length === 0) r.fail('trigger.http.routes', 'expected a non-empty list of "METHOD /path"');
      const routes = (h.routes as unknown[]).map((raw, i) => {
        const key = r.string(raw, `trigger.http.routes[${i}]`);
        const m = /^([A-Z]+) (\/\S*)$/.exec(key);
        if (!m || !HTTP_METHODS.has(m[1])) r.fail(`trigger.http.routes[${i}]`, `expected "METHOD /path", got ${JSON.stringify(key)}`);
        return { method: m[1] as apigwv2.HttpMethod, path: m[2], key };
      });
      trigger = { kind: 'http', users: users as HttpUsers, routes };
      break;
    }
    case 'kinesis': {
      const at = 'trigger.kinesis';
      const k = r.object(t.kinesis, at, ['batchSize', 'maxBatchingWindowSecs', 'retryAttempts', 'maxRecordAgeHours', 'bisectBatchOnError', 'parallelizationFactor', 'startingPosition'], ['enhancedFanOut']);
      const startingPosition = r.string(k.startingPosition, `${at}.startingPosition`);
      if (startingPosition !== 'TRIM_HORIZON' && startingPosition !== 'LATEST') r.fail(`${at}.startingPosition`, `expected TRIM_HORIZON or LATEST, got ${startingPosition}`);
      // Ranges as Lambda accepts them for a Kinesis mapping.
      trigger = {
        kind: 'kinesis',
        kinesis: {
          batchSize: r.int(k.batchSize, `${at}.batchSize`, 1, 10000),
          maxBatchingWindowSecs: r.int(k.maxBatchingWindowSecs, `${at}.maxBatchingWindowSecs`, 0, 300),
          retryAttempts: r.int(k.retryAttempts, `${at}.retryAttempts`, 0, 10000),
          maxRecordAgeHours: r.int(k.maxRecordAgeHours, `${at}.maxRecordAgeHours`, 1, 168),
          bisectBatchOnError: r.bool(k.bisectBatchOnError, `${at}.bisectBatchOnError`),
          parallelizationFactor: r.int(k.parallelizationFactor, `${at}.parallelizationFactor`, 1, 10),
          startingPosition,
          enhancedFanOut: k.enhancedFanOut === undefined ? false : r.bool(k.enhancedFanOut, `${at}.enhancedFanOut`),
        },
      };
      break;
    }
    case 'sns': {
      const at = 'trigger.sns';
      const n = r.object(t.sns, at, ['topic', 'retryAttempts'], ['why']);
      trigger = {
        kind: 'sns',
        sns: {
          topic: r.string(n.topic, `${at}.topic`),
          // As Lambda accepts them for an asynchronous invocation.
          retryAttempts: r.int(n.retryAttempts, `${at}.retryAttempts`, 0, 2),
          why: n.why === undefined ? undefined : r.string(n.why, `${at}.why`),
        },
      };
      break;
    }
    default: {
      const at = 'trigger.schedule';
      const s = r.object(t.schedule, at, ['rateMinutes', 'retryAttempts', 'maxEventAgeMinutes'], ['setting', 'why']);
      trigger = {
        kind: 'schedule',
        schedule: {
          rateMinutes: r.int(s.rateMinutes, `${at}.rateMinutes`, 1, 7 * 24 * 60),
          // Ranges as EventBridge accepts them for a target's retry policy.
          retryAttempts: r.int(s.retryAttempts, `${at}.retryAttempts`, 0, 185),
          maxEventAgeMinutes: r.int(s.maxEventAgeMinutes, `${at}.maxEventAgeMinutes`, 1, 24 * 60),
          setting: s.setting === undefined ? undefined : r.string(s.setting, `${at}.setting`),
          why: s.why === undefined ? undefined : r.string(s.why, `${at}.why`),
        },
      };
    }
  }

  return {
    name,
    file,
    description: r.string(top.description, 'description'),
    timeoutSecs: r.int(top.timeoutSecs, 'timeoutSecs', 1, 900),
    memoryMb: r.int(top.memoryMb, 'memoryMb', 128, 10240),
    reservedConcurrency,
    environment,
    trigger,
  };
}

/**
 * Every declaration under `functionsDir`, sorted by name. Each folder holding a crate
 * (a Cargo.toml) must declare itself in a function.json next to it.
 */
export function loadDeclarations(functionsDir: string = FUNCTIONS_DIR): FunctionDeclaration[] {
  const out: FunctionDeclaration[] = [];
  const dirs = fs.readdirSync(functionsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  for (const name of dirs) {
    const file = path.join(functionsDir, name, 'function.json');
    const shown = path.relative(REPO_ROOT, file) || file;
    if (!fs.existsSync(file)) {
      if (fs.existsSync(path.join(functionsDir, name, 'Cargo.toml'))) {
        throw new Error(
          `${shown} is missing: every function crate declares its description, timeout, memory, ` +
            'reserved concurrency, environment and trigger there (see infra/lib/declarations.ts).',
        );
      }
      continue;
    }
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${shown}: not valid JSON: ${(e as Error).message}`);
    }
    out.push(parseDeclaration(name, json, shown));
  }
  return out;
}

/** Every function's declaration, read once. */
export const DECLARATIONS: readonly FunctionDeclaration[] = loadDeclarations();

/** The declaration of the function `name` (its crate name). */
export function declarationOf(name: string, declarations: readonly FunctionDeclaration[] = DECLARATIONS): FunctionDeclaration {
  const d = declarations.find((x) => x.name === name);
  if (!d) {
    throw new Error(`no functions/${name}/function.json: declared functions are ${declarations.map((x) => x.name).join(', ')}`);
  }
  return d;
}

// ------------------------------------------------------- what the stack uses

/** A variable's declared default (a setting the stack sets explicitly). */
export function defaultOf(decl: FunctionDeclaration, variable: string): string {
  const v = decl.environment[variable];
  if (v?.kind !== 'default') throw new Error(`${decl.file}: ${variable} has no default`);
  return v.default;
}

/**
 * The function's environment as deployed: `resource` variables get the value of that
 * key in the stack's `resources` map (a name, ARN, URL, workgroup or database); `default`
 * and `optional` variables the value `fromSettings` gives them (a stack setting:
 * VITALS_TTL_DAYS, VOICE_ORIGINATION_IDENTITY), else a `default` one its default and an
 * `optional` one nothing; `local` ones are never set by the stack.
 */
export function environmentOf(
  decl: FunctionDeclaration,
  resources: Readonly<Record<string, string>>,
  fromSettings: Readonly<Record<string, string | undefined>> = {},
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, v] of Object.entries(decl.environment)) {
    switch (v.kind) {
      case 'resource': {
        if (!Object.prototype.hasOwnProperty.call(resources, v.resource)) {
          throw new Error(
            `${decl.file}: ${name} names the resource "${v.resource}", which the stack does not have ` +
              `(known: ${Object.keys(resources).sort().join(', ')})`,
          );
        }
        env[name] = resources[v.resource];
        break;
      }
      case 'default':
        env[name] = fromSettings[name] ?? v.default;
        break;
      case 'optional': {
        const value = fromSettings[name];
        if (value !== undefined && value !== '') env[name] = value;
        break;
      }
      case 'local':
        break;
    }
  }
  return env;
}

/** A numeric stack setting named by a declaration. */
function numericSetting(decl: FunctionDeclaration, settings: VigilSettings, setting: string, at: string): number {
  const value = (settings as unknown as Record<string, unknown>)[setting];
  if (typeof value !== 'number') throw new Error(`${decl.file}: ${at} names "${setting}", which is not a numeric stack setting`);
  return value;
}

/** Reserved concurrency under these settings. */
export function reservedConcurrencyOf(decl: FunctionDeclaration, settings: VigilSettings): number {
  const c = decl.reservedConcurrency;
  if ('setting' in c) return numericSetting(decl, settings, c.setting, 'reservedConcurrency.setting');
  // Kinesis runs up to parallelizationFactor concurrent batches per shard: a stream
  // function reserves that many times its perShard (2: room for a reshard), so an upload
  // flood through ingest-api can never take the alert path's concurrency.
  if ('perShard' in c) return settings.shards * kinesisOf(decl).parallelizationFactor * c.perShard;
  return c.fixed;
}

/** The Kinesis trigger, or an error naming the function. */
export function kinesisOf(decl: FunctionDeclaration): KinesisTrigger {
  if (decl.trigger.kind !== 'kinesis') throw new Error(`${decl.file}: expected a kinesis trigger, not ${decl.trigger.kind}`);
  return decl.trigger.kinesis;
}

/** The schedule trigger, or an error naming the function. */
export function scheduleOf(decl: FunctionDeclaration): ScheduleTrigger {
  if (decl.trigger.kind !== 'schedule') throw new Error(`${decl.file}: expected a schedule trigger, not ${decl.trigger.kind}`);
  return decl.trigger.schedule;
}

/** The SNS trigger, or an error naming the function. */
export function snsOf(decl: FunctionDeclaration): SnsTrigger {
  if (decl.trigger.kind !== 'sns') throw new Error(`${decl.file}: expected an sns trigger, not ${decl.trigger.kind}`);
  return decl.trigger.sns;
}

/** The stack's topic the SNS trigger names (a key of `topics`), or an error naming the function. */
export function topicOf<T>(decl: FunctionDeclaration, topics: Readonly<Record<string, T>>): T {
  const { topic } = snsOf(decl);
  if (!Object.prototype.hasOwnProperty.call(topics, topic)) {
    throw new Error(`${decl.file}: trigger.sns.topic names "${topic}", which the stack does not have (known: ${Object.keys(topics).sort().join(', ')})`);
  }
  return topics[topic];
}

/** The HTTP trigger (users and routes), or an error naming the function. */
export function httpOf(decl: FunctionDeclaration): HttpTrigger {
  if (decl.trigger.kind !== 'http') throw new Error(`${decl.file}: expected an http trigger, not ${decl.trigger.kind}`);
  return { users: decl.trigger.users, routes: decl.trigger.routes };
}

/** The HTTP routes, or an error naming the function. */
export function routesOf(decl: FunctionDeclaration): readonly HttpRoute[] {
  return httpOf(decl).routes;
}

/**
 * The event source mapping's settings as declared. Batch item failures are always
 * reported: every stream handler returns them. The stack adds the failure destination.
 */
export function kinesisEventSourcePropsOf(decl: FunctionDeclaration): Omit<KinesisEventSourceProps, 'onFailure'> {
  const k = kinesisOf(decl);
  return {
    startingPosition: lambda.StartingPosition[k.startingPosition],
    batchSize: k.batchSize,
    maxBatchingWindow: Duration.seconds(k.maxBatchingWindowSecs),
    reportBatchItemFailures: true,
    bisectBatchOnError: k.bisectBatchOnError,
    retryAttempts: k.retryAttempts,
    maxRecordAge: Duration.hours(k.maxRecordAgeHours),
    parallelizationFactor: k.parallelizationFactor,
  };
}

export interface ScheduleProps {
  /** Minutes between runs: the declared rate, or its stack setting's value. */
  readonly rateMinutes: number;
  readonly schedule: events.Schedule;
  /** For the rule's description: `every minute`, `every 15 minutes`. */
  readonly every: string;
  readonly retryAttempts: number;
  readonly maxEventAge: Duration;
}

/** The schedule under these settings (a declared `setting` overrides `rateMinutes`). */
export function schedulePropsOf(decl: FunctionDeclaration, settings: VigilSettings): ScheduleProps {
  const s = scheduleOf(decl);
  const rateMinutes = s.setting ? numericSetting(decl, settings, s.setting, 'trigger.schedule.setting') : s.rateMinutes;
  if (!Number.isInteger(rateMinutes) || rateMinutes < 1) {
    throw new Error(`${decl.file}: the schedule's rate must be a whole number of minutes, at least 1 (got ${rateMinutes})`);
  }
  return {
    rateMinutes,
    schedule: events.Schedule.rate(Duration.minutes(rateMinutes)),
    every: rateMinutes === 1 ? 'every minute' : `every ${rateMinutes} minutes`,
    retryAttempts: s.retryAttempts,
    maxEventAge: Duration.minutes(s.maxEventAgeMinutes),
  };
}

/**
 * The default of a stack setting that overrides a declared schedule: that schedule's
 * `rateMinutes`, so the declaration stays the one place the value is written.
 */
export function scheduleSettingDefault(setting: string, declarations: readonly FunctionDeclaration[] = DECLARATIONS): number {
  const users = declarations.filter((d) => d.trigger.kind === 'schedule' && d.trigger.schedule.setting === setting);
  if (users.length !== 1) {
    throw new Error(`expected exactly one function.json whose schedule uses the setting "${setting}", found ${users.length}`);
  }
  return scheduleOf(users[0]).rateMinutes;
}

/**
 * The default of a stack setting that overrides a declared `default` variable: that
 * default, which every function declaring the variable must give alike, so the
 * declaration stays the one place the value is written.
 */
export function variableSettingDefault(variable: string, declarations: readonly FunctionDeclaration[] = DECLARATIONS): number {
  const defaults = new Set(
    declarations.flatMap((d) => {
      const v = d.environment[variable];
      return v?.kind === 'default' ? [v.default] : [];
    }),
  );
  const [only] = [...defaults];
  if (defaults.size !== 1 || !/^[0-9]+$/.test(only)) {
    throw new Error(`expected every function.json declaring ${variable} to give it one whole-number default, found ${[...defaults].join(', ') || 'none'}`);
  }
  return Number(only);
}
