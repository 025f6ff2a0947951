//! raw-archiver with the real S3 and DynamoDB adapters on exact SDK responses
//! (aws-smithy-mocks): what an S3 500 or DynamoDB throttling does to the
//! batch's answer.

use crate::common::*;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::types::error::ProvisionedThroughputExceededException;
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use raw_archiver::Archiver;
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_testkit::MemoryQuarantine;

fn batch() -> aws_lambda_events::event::kinesis::KinesisEvent {
    event(vec![
        record(1, envelope(vec![reading("2026-11-22T10:59:50+01:00", 1)])),
        record(2, b"poison".to_vec()),
        record(3, envelope(vec![reading("2026-11-22T10:59:55+01:00", 2)])),
    ])
}

fn put_ok(prefix: &'static str) -> Rule {
    mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| r.key().is_some_and(|k| k.starts_with(prefix)))
        .then_output(|| PutObjectOutput::builder().build())
}

fn put_500(prefix: &'static str) -> Rule {
    mock!(aws_sdk_s3::Client::put_object)
        .match_requests(move |r| r.key().is_some_and(|k| k.starts_with(prefix)))
        .then_http_response(|| HttpResponse::new(StatusCode::try_from(500).unwrap(), SdkBody::from("")))
}

fn s3(rules: &[&Rule]) -> aws_sdk_s3::Client {
    mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()))
}

fn register_ok() -> Rule {
    mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build())
}

fn dynamodb(rules: &[&Rule]) -> aws_sdk_dynamodb::Client {
    mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()))
}

async fn failures(s3: aws_sdk_s3::Client, dynamodb: aws_sdk_dynamodb::Client) -> Vec<String> {
    let archiver = Archiver {
        objects: S3ObjectStore::new(s3, "data"),
        registry: DynamoCuratedFiles::new(dynamodb, "curated-files"),
        quarantine: MemoryQuarantine::default(),
        pseudonymizer: pseudonymizer(),
    };
    let (response, _) = archiver.process(batch(), at("2026-11-22T10:00:02Z")).await;
    response.batch_item_failures.into_iter().map(|f| f.item_identifier.unwrap()).collect()
}

#[tokio::test]
async fn an_s3_500_on_the_raw_object_reports_the_first_record_only() {
    let raw = put_500("raw/");
    let curated = put_ok("curated/");
    let register = register_ok();
    assert_eq!(failures(s3(&[&raw, &curated]), dynamodb(&[&register])).await, vec![seq(1)]);
    assert_eq!((raw.num_calls(), curated.num_calls(), register.num_calls()), (1, 0, 0), "stops at the first failure");
}

#[tokio::test]
async fn an_s3_500_on_a_curated_file_reports_the_first_record_and_registers_nothing() {
    let raw = put_ok("raw/");
    let curated = put_500("curated/");
    let register = register_ok();
    assert_eq!(failures(s3(&[&raw, &curated]), dynamodb(&[&register])).await, vec![seq(1)]);
    assert_eq!((raw.num_calls(), curated.num_calls(), register.num_calls()), (1, 1, 0));
}

#[tokio::test]
async fn dynamodb_throttling_on_registration_reports_the_first_record() {
    let raw = put_ok("raw/");
    let curated = put_ok("curated/");
    let throttled = mock!(aws_sdk_dynamodb::Client::put_item).then_error(|| {
        PutItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder()
                .meta(
                    aws_sdk_dynamodb::error::ErrorMetadata::builder()
                        .code("ProvisionedThroughputExceededException")
                        .build(),
                )
                .build(),
        )
    });
    assert_eq!(failures(s3(&[&raw, &curated]), dynamodb(&[&throttled])).await, vec![seq(1)]);
}

#[tokio::test]
async fn when_every_write_succeeds_nothing_is_reported() {
    let raw = put_ok("raw/");
    let curated = put_ok("curated/");
    let register = register_ok();
    assert!(failures(s3(&[&raw, &curated]), dynamodb(&[&register])).await.is_empty());
    assert_eq!((raw.num_calls(), curated.num_calls(), register.num_calls()), (1, 1, 1));
}
