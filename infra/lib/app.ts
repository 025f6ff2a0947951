import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks } from 'cdk-nag';
import { DEFAULT_SETTINGS, OPTIONAL_SETTINGS, VigilSettings, VigilStack } from './vigil-stack';

/** The stack name (and prefix of its named resources). */
export const STACK_NAME = 'Vigil';

/**
 * CDK feature flags the app depends on, set here rather than only in cdk.json
 * so that tests building the app in-process get the same template.
 */
export const FEATURE_FLAGS: Record<string, unknown> = {
  // Server access logs delivered under a bucket policy, not the legacy ACL.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': true,
};

/** Settings from `-c vigil:<name>=<value>`, over DEFAULT_SETTINGS. */
export function settingsFromContext(app: App): Partial<VigilSettings> {
  const out: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(DEFAULT_SETTINGS)) {
    const raw = app.node.tryGetContext(`vigil:${key}`);
    if (raw === undefined) continue;
    out[key] = typeof fallback === 'number' ? Number(raw) : typeof fallback === 'boolean' ? String(raw) === 'true' : String(raw);
    if (typeof fallback === 'number' && !Number.isFinite(out[key] as number)) {
      throw new Error(`-c vigil:${key}=${raw}: expected a number`);
    }
  }
  // Settings without a default (alarmEmail, linkBaseUrl, voiceOriginationIdentity,
  // voiceConfigurationSet): unset unless given, and an empty value is unset.
  for (const key of OPTIONAL_SETTINGS) {
    const raw = app.node.tryGetContext(`vigil:${key}`);
    if (raw !== undefined && String(raw).trim() !== '') out[key] = String(raw).trim();
  }
  return out as Partial<VigilSettings>;
}

/**
 * The whole app: the stack, checked by cdk-nag's AwsSolutions and HIPAA
 * Security packs. Unacknowledged findings fail the synth (CDK policy
 * validation) and are listed in cdk.out/policy-validation-report.json.
 */
export function buildApp(app: App): App {
  for (const [flag, value] of Object.entries(FEATURE_FLAGS)) app.node.setContext(flag, value);
  new VigilStack(app, STACK_NAME, {
    description: 'Vigil: wristband readings to caregiver alerts, data lake and warehouse (infra/)',
    settings: settingsFromContext(app),
  });
  // The acknowledgements are also written into each resource's Metadata
  // (cdk_nag.rules_to_suppress): an audit trail in the template itself.
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }),
    new HIPAASecurityChecks(app, { writeSuppressionsToCloudFormation: true }),
  );
  return app;
}
