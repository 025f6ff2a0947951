//! Caregiver notifications through SNS: [`Notifier`] with Publish.
//!
//! SMS go to the phone number directly, marked Transactional (alerts are urgent:
//! SNS routes them for reliability, not cost). Push goes to the caregiver's
//! mobile platform endpoint with one payload per platform (FCM v1, APNs).
//!
//! SNS error messages can echo the phone number or endpoint, so failures carry
//! only the error code and HTTP status ([`SnsFailure`]), never the message.

use aws_sdk_sns::error::SdkError;
use aws_sdk_sns::operation::publish::PublishError;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde_json::json;
use vigil_domain::alerts::Message;
use vigil_domain::care::Channel;
use vigil_domain::ports::{Notifier, NotifyError};

/// Codes that say "later": throttling and SNS's own transient faults.
const TRANSIENT_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "KMSThrottling",
    "InternalError",
    "InternalFailure",
    "ServiceUnavailable",
];

#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
}

/// Why a Publish failed, stripped of the provider's message.
#[derive(Debug, thiserror::Error)]
#[error("SNS Publish failed: {code} (HTTP {status})")]
pub struct SnsFailure {
    /// The SNS error code (`InvalidParameter`, `Throttling`, ...) or the kind of
    /// failure when there was no response (`timeout`, `dispatch failure`).
    pub code: String,
    /// 0 when there was no response.
    pub status: u16,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client) -> Self {
        Self { client }
    }
}

impl Notifier for SnsNotifier {
    async fn send(&self, channel: Channel, address: &str, message: &Message) -> Result<String, NotifyError> {
        let publish = match channel {
            Channel::Sms => self.client.publish().phone_number(address).message(&message.sms).message_attributes(
                "AWS.SNS.SMS.SMSType",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("Transactional")
                    .build()
                    .map_err(|e| NotifyError::Rejected(e.into()))?,
            ),
            Channel::Push => {
                self.client.publish().target_arn(address).message_structure("json").message(push_payload(message))
            }
            // Calls go through End User Messaging SMS and Voice (`crate::voice`).
            Channel::Voice => return Err(NotifyError::Rejected("SNS places no calls".into())),
        };
        let out = publish.send().await.map_err(classify)?;
        // A success without an id is still a success: resending would double the message.
        Ok(out.message_id.unwrap_or_default())
    }
}

/// The Publish body for `MessageStructure=json`: a `default` text for platforms
/// without their own entry, and FCM v1 and APNs payloads (each a JSON string,
/// as SNS requires) carrying the title and body, at high priority, and the
/// alert's id with the app's deep link to it (`vigil://alerts/<id>`).
pub fn push_payload(message: &Message) -> String {
    let (title, body) = (&message.push_title, &message.push_body);
    let link = format!("vigil://alerts/{}", message.alert_id);
    let fcm = json!({"fcmV1Message": {"message": {
        "notification": {"title": title, "body": body},
        "data": {"alert_id": message.alert_id, "link": link},
        "android": {"priority": "high"},
    }}});
    let apns = json!({"aps": {"alert": {"title": title, "body": body}, "sound": "default"},
                      "alert_id": message.alert_id, "link": link});
    json!({
        "default": body,
        "GCM": fcm.to_string(),
        "APNS": apns.to_string(),
        "APNS_SANDBOX": apns.to_string(),
    })
    .to_string()
}

fn classify(err: SdkError<PublishError>) -> NotifyError {
    let (code, status, transient) = match &err {
        SdkError::TimeoutError(_) => ("timeout".to_owned(), 0, true),
        SdkError::DispatchFailure(_) => ("dispatch failure".to_owned(), 0, true),
        SdkError::ResponseError(r) => ("unreadable response".to_owned(), r.raw().status().as_u16(), true),
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("unknown").to_owned();
            let status = service.raw().status();
            let transient =
                status.is_server_error() || status.as_u16() == 429 || TRANSIENT_CODES.contains(&code.as_str());
            (code, status.as_u16(), transient)
        }
        // Building the request failed: a bug or bad input, not worth a retry.
        _ => ("request construction".to_owned(), 0, false),
    };
    let failure = Box::new(SnsFailure { code, status });
    if transient { NotifyError::Transient(failure) } else { NotifyError::Rejected(failure) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_payload_has_a_default_and_platform_payloads_as_strings() {
        let m = Message {
            alert_id: "a1".into(),
            sms: "s".into(),
            push_title: "Fall".into(),
            push_body: "Ana fell \"here\"".into(),
            ..Message::default()
        };
        let v: serde_json::Value = serde_json::from_str(&push_payload(&m)).unwrap();
        assert_eq!(v["default"], "Ana fell \"here\"");
        let fcm: serde_json::Value = serde_json::from_str(v["GCM"].as_str().unwrap()).unwrap();
        assert_eq!(fcm["fcmV1Message"]["message"]["notification"]["title"], "Fall");
        let apns: serde_json::Value = serde_json::from_str(v["APNS"].as_str().unwrap()).unwrap();
        assert_eq!(apns["aps"]["alert"]["body"], "Ana fell \"here\"");
        assert_eq!((apns["alert_id"].as_str(), apns["link"].as_str()), (Some("a1"), Some("vigil://alerts/a1")));
        assert_eq!(fcm["fcmV1Message"]["message"]["data"]["link"], "vigil://alerts/a1");
    }
}
