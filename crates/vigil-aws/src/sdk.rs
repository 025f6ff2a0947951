//! The one AWS config factory. Built once per cold start; every client is made
//! from its result.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use vigil_domain::config::{self as env, ConfigError, Source};

/// The operators' tools' SDK config: region and credentials from aws-config's default
/// chains (profiles, SSO, roles), standard retries, timeouts sized for a request path
/// measured in seconds, and `AWS_ENDPOINT_URL` (or per-service
/// `AWS_ENDPOINT_URL_<SERVICE>`) honoured by the SDK itself.
pub async fn load() -> SdkConfig {
    configure(aws_config::defaults(BehaviorVersion::latest())).load().await
}

/// The settings every Vigil client shares, applied to a loader (tests and the
/// local tools start from a loader with static credentials and an endpoint).
pub fn configure(loader: aws_config::ConfigLoader) -> aws_config::ConfigLoader {
    loader.http_client(https_client()).retry_config(retries()).timeout_config(timeouts())
}

fn retries() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(3)
}

fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(Duration::from_secs(5))
        .build()
}

/// A function's SDK config, from what Lambda puts in its environment: `AWS_REGION`,
/// the execution role's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), and the endpoints as [`load`] honours them; the same
/// retries, timeouts and HTTPS client. Nothing else is read: no profile files, no
/// instance metadata, no role to assume. Without aws-config's default chains (and
/// the STS client they carry) each function has about 0.9 MiB less code on x86_64
/// (docs/performance.md), and its init reads no AWS profile files.
///
/// # Errors
/// A variable missing: the region or a credential.
pub fn from_env<S>(src: &S) -> Result<SdkConfig, ConfigError>
where
    S: Source + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    let region = match src.get("AWS_REGION") {
        Some(region) => region,
        None => env::required(src, "AWS_DEFAULT_REGION", "the AWS region (Lambda sets AWS_REGION)")?,
    };
    let credentials = Credentials::new(
        env::required(src, "AWS_ACCESS_KEY_ID", "the execution role's credentials, which Lambda sets")?,
        env::required(src, "AWS_SECRET_ACCESS_KEY", "the execution role's credentials, which Lambda sets")?,
        src.get("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .service_config(Endpoints(src.clone()))
        .http_client(https_client())
        .retry_config(retries())
        .timeout_config(timeouts());
    config.set_endpoint_url(src.get(ENDPOINT_URL));
    Ok(config.build())
}

const ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";

/// Each client's endpoint as aws-config's loader finds it in the environment:
/// `AWS_ENDPOINT_URL_<SERVICE ID>` (`AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`), then
/// `AWS_ENDPOINT_URL`. The SDK asks for no other setting from here.
#[derive(Debug)]
struct Endpoints<S>(S);

impl<S: Source + std::fmt::Debug + Send + Sync> LoadServiceConfig for Endpoints<S> {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() != ENDPOINT_URL {
            return None;
        }
        let service = key.service_id().to_uppercase().replace(' ', "_");
        self.0.get(&format!("{ENDPOINT_URL}_{service}")).or_else(|| self.0.get(ENDPOINT_URL))
    }
}

/// The one HTTPS client: hyper 1 and rustls with ring, the machine's root
/// certificates. Chosen here rather than by the SDK crates' `default-https-client`
/// feature, whose aws-lc-rs adds about 2 MiB to every function (docs/performance.md).
pub fn https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
}

/// True when the config points at an emulator (LocalStack, moto) rather than AWS.
pub fn has_custom_endpoint(config: &SdkConfig) -> bool {
    config.endpoint_url().is_some()
}

#[cfg(feature = "kinesis")]
pub fn kinesis(config: &SdkConfig) -> aws_sdk_kinesis::Client {
    aws_sdk_kinesis::Client::new(config)
}

#[cfg(feature = "dynamodb")]
pub fn dynamodb(config: &SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

#[cfg(feature = "secretsmanager")]
pub fn secrets(config: &SdkConfig) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(config)
}

#[cfg(feature = "sns")]
pub fn sns(config: &SdkConfig) -> aws_sdk_sns::Client {
    aws_sdk_sns::Client::new(config)
}

#[cfg(feature = "voice")]
/// End User Messaging SMS and Voice v2 (voice calls). The endpoint override is the
/// SDK's own: `AWS_ENDPOINT_URL`, or `AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2` for this
/// service alone (the local stand-in, `vigil_local::voice`, as moto has no voice API).
pub fn voice(config: &SdkConfig) -> aws_sdk_pinpointsmsvoicev2::Client {
    aws_sdk_pinpointsmsvoicev2::Client::new(config)
}

#[cfg(feature = "s3")]
/// S3 with path-style addressing when an emulator is the endpoint: moto and
/// LocalStack serve `http://host/bucket/key`, and virtual-hosted names like
/// `bucket.127.0.0.1` do not resolve.
pub fn s3(config: &SdkConfig) -> aws_sdk_s3::Client {
    let s3_config = aws_sdk_s3::config::Builder::from(config).force_path_style(has_custom_endpoint(config)).build();
    aws_sdk_s3::Client::from_conf(s3_config)
}
