//! The voice adapter against exact SDK responses injected with aws-smithy-mocks: the
//! request it sends (number, origination, voice per language, SSML said twice and
//! escaped) and what each failure means to the caller (retry or not).

use crate::chain;
use aws_sdk_pinpointsmsvoicev2::Client;
use aws_sdk_pinpointsmsvoicev2::config::retry::RetryConfig;
use aws_sdk_pinpointsmsvoicev2::error::ErrorMetadata;
use aws_sdk_pinpointsmsvoicev2::operation::send_voice_message::{SendVoiceMessageError, SendVoiceMessageOutput};
use aws_sdk_pinpointsmsvoicev2::types::error::{ResourceNotFoundException, ThrottlingException, ValidationException};
use aws_sdk_pinpointsmsvoicev2::types::{
    ResourceType, ValidationExceptionField, ValidationExceptionReason, VoiceId, VoiceMessageBodyTextType,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use vigil_aws::voice::VoiceCaller;
use vigil_domain::alerts::Language;
use vigil_domain::ports::NotifyError;

const PHONE: &str = "+34600111222";
const ORIGIN: &str = "+15550009999";

fn caller(rules: &[&Rule], configuration_set: Option<&str>) -> VoiceCaller {
    let client = mock_client!(aws_sdk_pinpointsmsvoicev2, RuleMode::MatchAny, rules, |c| c
        .retry_config(RetryConfig::disabled()));
    VoiceCaller::new(client, ORIGIN, configuration_set.map(str::to_owned))
}

#[tokio::test]
async fn the_call_goes_to_the_number_from_the_origination_in_ssml_said_twice_and_escaped() {
    let expected = "<speak>Vigil: Ana &amp; Luis &lt;SOS&gt; &quot;now&quot;<break time=\"1s\"/>\
                    Vigil: Ana &amp; Luis &lt;SOS&gt; &quot;now&quot;</speak>";
    let rule = mock!(Client::send_voice_message)
        .match_requests(move |r| {
            r.destination_phone_number() == Some(PHONE)
                && r.origination_identity() == Some(ORIGIN)
                && r.message_body() == Some(expected)
                && r.message_body_text_type() == Some(&VoiceMessageBodyTextType::Ssml)
                && r.voice_id() == Some(&VoiceId::Lucia)
                && r.configuration_set_name() == Some("vigil-voice")
        })
        .then_output(|| SendVoiceMessageOutput::builder().message_id("m-1").build());
    let id = caller(&[&rule], Some("vigil-voice"))
        .call(PHONE, r#"Vigil: Ana & Luis <SOS> "now""#, Language::Es)
        .await
        .unwrap();
    assert_eq!(id, "m-1");
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn each_language_is_spoken_by_its_voice() {
    let rules: Vec<Rule> = [(VoiceId::Lucia, "es"), (VoiceId::Camila, "pt-BR"), (VoiceId::Joanna, "en")]
        .into_iter()
        .map(|(voice, id)| {
            mock!(Client::send_voice_message)
                .match_requests(move |r| r.voice_id() == Some(&voice) && r.configuration_set_name().is_none())
                .then_output(move || SendVoiceMessageOutput::builder().message_id(id).build())
        })
        .collect();
    let refs: Vec<&Rule> = rules.iter().collect();
    let caller = caller(&refs, None);
    for (language, id) in [(Language::Es, "es"), (Language::PtBr, "pt-BR"), (Language::En, "en")] {
        assert_eq!(caller.call(PHONE, "Vigil", language).await.unwrap(), id, "{language:?}");
    }
}

#[tokio::test]
async fn throttling_is_transient() {
    let rule = mock!(Client::send_voice_message).then_error(|| {
        SendVoiceMessageError::ThrottlingException(
            ThrottlingException::builder()
                .message("Rate exceeded")
                .meta(ErrorMetadata::builder().code("ThrottlingException").build())
                .build(),
        )
    });
    let err = caller(&[&rule], None).call(PHONE, "Vigil", Language::En).await.unwrap_err();
    assert!(matches!(err, NotifyError::Transient(_)), "{err:?}");
    assert!(chain(&err).contains("ThrottlingException"), "{}", chain(&err));
}

#[tokio::test]
async fn an_invalid_number_is_rejected_without_the_number_or_text_in_the_error() {
    let rule = mock!(Client::send_voice_message).then_error(|| {
        SendVoiceMessageError::ValidationException(
            ValidationException::builder()
                .message(format!("Invalid destination phone number {PHONE}"))
                .reason(ValidationExceptionReason::InvalidParameter)
                .fields(
                    ValidationExceptionField::builder()
                        .name("DestinationPhoneNumber")
                        .message(format!("{PHONE} is not valid"))
                        .build()
                        .unwrap(),
                )
                .meta(ErrorMetadata::builder().code("ValidationException").build())
                .build(),
        )
    });
    let err = caller(&[&rule], None).call(PHONE, "Ana fell at home", Language::Es).await.unwrap_err();
    assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
    let text = chain(&err);
    assert!(text.contains("ValidationException"), "{text}");
    assert!(!text.contains("600111222") && !text.contains("Ana fell"), "personal data in the error: {text}");
}

#[tokio::test]
async fn a_missing_origination_identity_is_rejected() {
    let rule = mock!(Client::send_voice_message).then_error(|| {
        SendVoiceMessageError::ResourceNotFoundException(
            ResourceNotFoundException::builder()
                .resource_type(ResourceType::PhoneNumber)
                .message("Phone number not found")
                .meta(ErrorMetadata::builder().code("ResourceNotFoundException").build())
                .build(),
        )
    });
    let err = caller(&[&rule], None).call(PHONE, "Vigil", Language::PtBr).await.unwrap_err();
    assert!(matches!(err, NotifyError::Rejected(_)), "{err:?}");
}

#[tokio::test]
async fn a_service_error_is_transient() {
    let rule = mock!(Client::send_voice_message).then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(500).unwrap(),
            SdkBody::from(r#"{"__type":"InternalServerException","Message":"Internal failure"}"#),
        )
    });
    let err = caller(&[&rule], None).call(PHONE, "Vigil", Language::En).await.unwrap_err();
    assert!(matches!(err, NotifyError::Transient(_)), "{err:?}");
    assert!(chain(&err).contains("HTTP 500"), "{}", chain(&err));
}
