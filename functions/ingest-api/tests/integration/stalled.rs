//! The request's time budget against an endpoint that accepts connections and never
//! answers: a stalled registry or stream is answered 503 + `Retry-After` before the
//! invocation's deadline, although one SDK attempt alone may take 5 s (three of them
//! would outlast the function's timeout).

use std::time::{Duration, Instant};

use crate::common::*;
use lambda_http::RequestExt;
use lambda_http::http::StatusCode;
use vigil_aws::kinesis::KinesisPublisher;
use vigil_aws::registry::DynamoDeviceDirectory;
use vigil_domain::cache::CachedDirectory;
use vigil_local::provision::{Resources, provision};
use vigil_testkit::stalled::Stalled;

/// The invocation's time in these tests: shorter than one SDK attempt (5 s).
const TIMEOUT: Duration = Duration::from_secs(3);

async fn assert_unavailable_in_time(ingest: &ingest_api::AwsIngest) {
    let started = Instant::now();
    let request = request(V2_UPLOAD).with_lambda_context(vigil_lambda::deadline::context(TIMEOUT));
    let response = ingest.handle_at(request, event_time()).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(body_json(&response)["error"], "unavailable");
    assert!(took < TIMEOUT, "answered after {took:?}, past the invocation's {TIMEOUT:?}");
}

#[tokio::test]
async fn a_stalled_registry_is_503_before_the_deadline() {
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let env = [("STREAM_NAME", "readings"), ("DEVICES_TABLE", "devices"), ("WEARERS_TABLE", "wearers")];
    let ingest = ingest_api::build(&env, &sdk).await.unwrap();
    assert_unavailable_in_time(&ingest).await;
}

#[tokio::test]
async fn a_stalled_stream_is_503_before_the_deadline() {
    // The registry answers (moto); only the stream stalls.
    let moto = vigil_local::endpoint::require().await;
    let resources = Resources::unique("ingest-stalled");
    provision(&moto, &resources).await.unwrap();
    let registry = DynamoDeviceDirectory::new(aws_sdk_dynamodb::Client::new(&moto), &resources.devices_table);
    registry.put(&band_0001()).await.unwrap();
    let stalled = Stalled::start().await;
    let sdk = vigil_local::endpoint::sdk_config(&stalled.url()).await;
    let ingest = ingest_api::Ingest {
        publisher: KinesisPublisher::new(vigil_aws::sdk::kinesis(&sdk), &resources.stream),
        directory: CachedDirectory::new(registry, Duration::from_secs(60), Duration::from_secs(10)),
        limits: vigil_aws::wearers::DynamoWearerLimits::new(
            aws_sdk_dynamodb::Client::new(&moto),
            &resources.wearers_table,
        ),
        upload: Default::default(),
        publish_budget: Duration::from_secs(8),
    };
    assert_unavailable_in_time(&ingest).await;
}
