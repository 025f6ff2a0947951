//! The alert path's adapters against exact SDK responses injected with
//! aws-smithy-mocks: what each failure means to the caller (retry or not), the
//! conditional writes, and the requests' shape.

use crate::chain;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use chrono::{DateTime, TimeZone, Utc};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::deliveries::DynamoDeliveryLog;
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::sns::SnsNotifier;
use vigil_aws::state::DynamoStateStore;
use vigil_domain::alerts::{Alert, AlertId, Message, RuleKind, WearerState};
use vigil_domain::care::{Channel, Delivery};
use vigil_domain::ports::{
    AlertStore, Claim, DeliveryLog, Notifier, NotifyError, PoisonRecord, Quarantine, StateStore, StoreError,
};

const PHONE: &str = "+15550001111";

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 15, 0).unwrap()
}

fn message() -> Message {
    Message {
        alert_id: "a1".into(),
        sms: "Vigil: Ana pressed SOS".into(),
        push_title: "SOS".into(),
        push_body: "Ana pressed SOS".into(),
        ..Message::default()
    }
}

fn alert() -> Alert {
    Alert {
        id: AlertId::new("w-1", RuleKind::Sos, t0()),
        wearer_id: "w-1".into(),
        rule: RuleKind::Sos,
        severity: RuleKind::Sos.severity(),
        episode_start: t0(),
        raised_at: t0(),
        readings: vec!["r1".into()],
        location: None,
        value: None,
    }
}

fn delivery() -> Delivery {
    Delivery {
        alert_id: alert().id.to_string(),
        caregiver_id: "cg-1".into(),
        channel: Channel::Sms,
        address: PHONE.into(),
        message: message(),
        not_before: None,
        step: None,
        notice: None,
    }
}

// ---------------------------------------------------------------- SNS

mod sns {
    use super::*;
    use aws_sdk_sns::Client;
    use aws_sdk_sns::error::ErrorMetadata;
    use aws_sdk_sns::operation::publish::{PublishError, PublishOutput};
    use aws_sdk_sns::types::error::InvalidParameterException;

    #[tokio::test]
    async fn throttling_is_transient() {
        // Publish models no throttling error: SNS answers with the generic code "Throttling".
        let rule = mock!(Client::publish).then_error(|| {
            PublishError::generic(ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build())
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()));
        let err = SnsNotifier::new(client).send(Channel::Sms, PHONE, &message()).await.unwrap_err();
        assert!(matches!(err, NotifyError::Transient(_)), "{err:?}");
    }

    #[tokio::test]
    async fn a_5xx_is_transient() {
        let rule = mock!(Client::publish)
            .then_http_response(|| HttpResponse::new(StatusCode::try_from(503).unwrap(), SdkBody::from("")));
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()));
        let err = SnsNotifier::new(client).send(Channel::Push, "arn:aws:sns:x", &message()).await.unwrap_err();
        assert!(matches!(err, NotifyError::Transient(_)), "{err:?}");
    }

    #[tokio::test]
    async fn an_invalid_number_is_rejected_without_the_number_in_the_error() {
        let rule = mock!(Client::publish).then_error(|| {
            PublishError::InvalidParameterException(
                InvalidParameterException::builder()
                    .message(format!("Invalid parameter: PhoneNumber Reason: {PHONE} is not valid"))
                    .meta(ErrorMetadata::builder().code("InvalidParameter").build())
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()));
        let err = SnsNotifier::new(client).send(Channel::Sms, PHONE, &message()).await.unwrap_err();
        assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
        let text = chain(&err);
        assert!(text.contains("InvalidParameter"), "{text}");
        assert!(!text.contains("5550001111"), "personal data in the error: {text}");
    }

    #[tokio::test]
    async fn a_disabled_endpoint_is_rejected() {
        let rule = mock!(Client::publish).then_error(|| {
            PublishError::generic(
                ErrorMetadata::builder().code("EndpointDisabled").message("Endpoint is disabled").build(),
            )
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&rule], |c| c
            .retry_config(aws_sdk_sns::config::retry::RetryConfig::disabled()));
        let err = SnsNotifier::new(client).send(Channel::Push, "arn:aws:sns:x", &message()).await.unwrap_err();
        assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
    }

    #[tokio::test]
    async fn sms_is_transactional_to_the_number_and_push_is_structured_json() {
        let sms = mock!(Client::publish)
            .match_requests(|r| {
                r.phone_number() == Some(PHONE)
                    && r.message() == Some("Vigil: Ana pressed SOS")
                    && r.message_attributes().and_then(|a| a.get("AWS.SNS.SMS.SMSType")).and_then(|v| v.string_value())
                        == Some("Transactional")
            })
            .then_output(|| PublishOutput::builder().message_id("m-sms").build());
        let push = mock!(Client::publish)
            .match_requests(|r| {
                let body: serde_json::Value = serde_json::from_str(r.message().unwrap_or("")).unwrap_or_default();
                r.target_arn() == Some("arn:aws:sns:us-east-1:1:endpoint/GCM/app/x")
                    && r.message_structure() == Some("json")
                    && body["default"] == "Ana pressed SOS"
            })
            .then_output(|| PublishOutput::builder().message_id("m-push").build());
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&sms, &push]);
        let notifier = SnsNotifier::new(client);
        assert_eq!(notifier.send(Channel::Sms, PHONE, &message()).await.unwrap(), "m-sms");
        let arn = "arn:aws:sns:us-east-1:1:endpoint/GCM/app/x";
        assert_eq!(notifier.send(Channel::Push, arn, &message()).await.unwrap(), "m-push");
        assert_eq!((sms.num_calls(), push.num_calls()), (1, 1));
    }
}

// ---------------------------------------------------------------- DynamoDB

mod dynamodb {
    use super::*;
    use aws_sdk_dynamodb::Client;
    use aws_sdk_dynamodb::error::ErrorMetadata;
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
    use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
    use aws_sdk_dynamodb::types::error::{ConditionalCheckFailedException, ProvisionedThroughputExceededException};

    /// The SDK's own retries would only replay the same mocked error, after a backoff.
    fn no_retries(c: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::config::Builder {
        c.retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
    }

    fn meta(code: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message("mocked").build()
    }

    fn throttled() -> ProvisionedThroughputExceededException {
        ProvisionedThroughputExceededException::builder()
            .message("mocked")
            .meta(meta("ProvisionedThroughputExceededException"))
            .build()
    }

    fn ccf() -> ConditionalCheckFailedException {
        ConditionalCheckFailedException::builder()
            .message("The conditional request failed")
            .meta(meta("ConditionalCheckFailedException"))
            .build()
    }

    fn assert_retryable(err: StoreError, retryable: bool) {
        assert_eq!(err.retryable, retryable, "{err:?}");
    }

    #[tokio::test]
    async fn throttling_on_save_put_alert_and_claim_is_retryable() {
        let put =
            mock!(Client::put_item).then_error(|| PutItemError::ProvisionedThroughputExceededException(throttled()));
        let update = mock!(Client::update_item)
            .then_error(|| UpdateItemError::ProvisionedThroughputExceededException(throttled()));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put, &update], no_retries);

        let err = DynamoStateStore::new(client.clone(), "state").save(&WearerState::new("w-1")).await.unwrap_err();
        assert_eq!((err.operation, err.resource.as_str()), ("PutItem", "state"));
        assert_retryable(err, true);
        assert_retryable(
            DynamoAlertStore::new(client.clone(), "alerts").put_alert(&alert(), false).await.unwrap_err(),
            true,
        );
        let log = DynamoDeliveryLog::new(client, "deliveries");
        assert_retryable(log.claim(&delivery(), t0()).await.unwrap_err(), true);
    }

    #[tokio::test]
    async fn internal_server_errors_and_5xx_are_retryable() {
        let put = mock!(Client::put_item).then_error(|| PutItemError::generic(meta("InternalServerError")));
        let update = mock!(Client::update_item)
            .then_http_response(|| HttpResponse::new(StatusCode::try_from(503).unwrap(), SdkBody::from("{}")));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put, &update], no_retries);
        assert_retryable(
            DynamoAlertStore::new(client.clone(), "alerts").put_alert(&alert(), false).await.unwrap_err(),
            true,
        );
        let err = DynamoAlertStore::new(client, "alerts").resolve("a-1", t0()).await.unwrap_err();
        assert_retryable(err, true);
    }

    #[tokio::test]
    async fn access_denied_is_not_retryable() {
        let put = mock!(Client::put_item).then_error(|| PutItemError::generic(meta("AccessDeniedException")));
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]);
        assert_retryable(
            DynamoStateStore::new(client.clone(), "state").save(&WearerState::new("w")).await.unwrap_err(),
            false,
        );
        assert_retryable(DynamoAlertStore::new(client, "alerts").put_alert(&alert(), false).await.unwrap_err(), false);
    }

    #[tokio::test]
    async fn a_lost_conditional_write_is_an_answer_not_an_error() {
        let put = mock!(Client::put_item).then_error(|| PutItemError::ConditionalCheckFailedException(ccf()));
        let update = mock!(Client::update_item).then_error(|| UpdateItemError::ConditionalCheckFailedException(ccf()));
        // A lost transition reads what stands: here, nothing.
        let get = mock!(Client::get_item)
            .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put, &update, &get], no_retries);
        let state = WearerState { version: 3, ..WearerState::new("w-1") };
        assert!(!DynamoStateStore::new(client.clone(), "state").save(&state).await.unwrap());
        let alerts = DynamoAlertStore::new(client.clone(), "alerts");
        assert!(!alerts.put_alert(&alert(), false).await.unwrap());
        assert_eq!(alerts.resolve("a-1", t0()).await.unwrap(), None, "no such alert");
        assert_eq!(get.num_calls(), 1, "the lost condition was followed by one consistent read");
        let log = DynamoDeliveryLog::new(client, "deliveries");
        log.release(&delivery()).await.unwrap();
        log.defer(&delivery()).await.unwrap();
    }

    #[tokio::test]
    async fn a_transition_is_conditioned_on_the_statuses_it_may_start_from() {
        use vigil_domain::lifecycle::{Transition, Via};
        let ack = mock!(Client::update_item)
            .match_requests(|r| {
                let values = r.expression_attribute_values().unwrap();
                r.condition_expression() == Some("attribute_exists(alert_id) AND #s IN (:from0)")
                    && values.get(":from0") == Some(&AttributeValue::S("open".into()))
                    && values.get(":to") == Some(&AttributeValue::S("acknowledged".into()))
                    && r.update_expression().is_some_and(|u| u.contains("acknowledged = :step") && !u.contains("note"))
            })
            .then_error(|| UpdateItemError::ConditionalCheckFailedException(ccf()));
        let resolve = mock!(Client::update_item)
            .match_requests(|r| {
                let values = r.expression_attribute_values().unwrap();
                r.condition_expression() == Some("attribute_exists(alert_id) AND #s IN (:from0, :from1)")
                    && values.get(":from1") == Some(&AttributeValue::S("acknowledged".into()))
                    && values.get(":note") == Some(&AttributeValue::S("fine".into()))
            })
            .then_error(|| UpdateItemError::ConditionalCheckFailedException(ccf()));
        let get = mock!(Client::get_item)
            .then_output(|| aws_sdk_dynamodb::operation::get_item::GetItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&ack, &resolve, &get], no_retries);
        let alerts = DynamoAlertStore::new(client, "alerts");
        let step = Transition::acknowledge("cg-1", t0(), Via::Api);
        assert_eq!(alerts.transition("a-1", &step, Some("ignored")).await.unwrap(), None);
        let step = Transition::resolve("cg-1", t0(), Via::Api, vigil_domain::lifecycle::Outcome::Ok);
        assert_eq!(alerts.transition("a-1", &step, Some("fine")).await.unwrap(), None);
        assert_eq!((ack.num_calls(), resolve.num_calls(), get.num_calls()), (1, 1, 2));
    }

    #[tokio::test]
    async fn save_conditions_on_the_loaded_version_and_writes_the_next() {
        let first = mock!(Client::put_item)
            .match_requests(|r| {
                r.condition_expression() == Some("attribute_not_exists(wearer_id)")
                    && r.item().and_then(|i| i.get("version")) == Some(&AttributeValue::N("1".into()))
            })
            .then_output(|| PutItemOutput::builder().build());
        let later = mock!(Client::put_item)
            .match_requests(|r| {
                let value = r.expression_attribute_values().and_then(|v| v.get(":expected"));
                let item = r.item().unwrap();
                r.condition_expression() == Some("#v = :expected")
                    && value == Some(&AttributeValue::N("7".into()))
                    && item.get("version") == Some(&AttributeValue::N("8".into()))
                    && item.get("pending_falls") == Some(&AttributeValue::Bool(false))
                    && item.get("last_seen") == Some(&AttributeValue::S("2026-11-02T08:15:00.000Z".into()))
            })
            .then_output(|| PutItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&first, &later]);
        let store = DynamoStateStore::new(client, "state");
        assert!(store.save(&WearerState::new("w-1")).await.unwrap());
        let seen = WearerState { version: 7, last_seen: Some(t0()), ..WearerState::new("w-1") };
        assert!(store.save(&seen).await.unwrap());
        assert_eq!((first.num_calls(), later.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_refused_claim_reads_whether_it_was_sent() {
        for (status, expected) in [("sent", Claim::AlreadySent), ("sending", Claim::InFlight)] {
            let update =
                mock!(Client::update_item).then_error(|| UpdateItemError::ConditionalCheckFailedException(ccf()));
            let get = mock!(Client::get_item)
                .then_output(move || GetItemOutput::builder().item("status", AttributeValue::S(status.into())).build());
            let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&update, &get]);
            let claim = DynamoDeliveryLog::new(client, "deliveries").claim(&delivery(), t0()).await.unwrap();
            assert_eq!(claim, expected, "stored status {status}");
            assert_eq!(get.num_calls(), 1);
        }
    }

    #[tokio::test]
    async fn a_granted_claim_makes_one_call() {
        let update = mock!(Client::update_item)
            .match_requests(|r| {
                let v = r.expression_attribute_values().unwrap();
                // Default lease: 60 s before now.
                v.get(":stale") == Some(&AttributeValue::S("2026-11-02T08:14:00.000Z".into()))
                    && r.key().and_then(|k| k.get("delivery_key")) == Some(&AttributeValue::S(delivery().key()))
            })
            .then_output(|| UpdateItemOutput::builder().build());
        let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&update]);
        let claim = DynamoDeliveryLog::new(client, "deliveries").claim(&delivery(), t0()).await.unwrap();
        assert_eq!(claim, Claim::Granted);
        assert_eq!(update.num_calls(), 1);
    }
}

// ---------------------------------------------------------------- S3

mod s3 {
    use super::*;
    use aws_sdk_s3::Client;
    use aws_sdk_s3::operation::put_object::PutObjectError;

    #[tokio::test]
    async fn slow_down_is_retryable_and_access_denied_is_not() {
        for (code, retryable) in [("SlowDown", true), ("AccessDenied", false)] {
            let put = mock!(Client::put_object).then_error(move || {
                PutObjectError::generic(aws_sdk_s3::error::ErrorMetadata::builder().code(code).build())
            });
            let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, [&put], |c| c
                .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled()));
            let record = PoisonRecord {
                function: "alert-processor",
                shard_id: "shardId-000000000000",
                sequence_number: "4959",
                data: b"not json",
                reason: "undecodable envelope",
            };
            let err = S3Quarantine::new(client, "quarantine").quarantine(&record).await.unwrap_err();
            assert_eq!(err.retryable, retryable, "{code}: {err:?}");
            assert_eq!(err.resource, "quarantine");
        }
    }
}
