//! Voice calls to caregivers through AWS End User Messaging SMS and Voice v2
//! (`SendVoiceMessage`): [`VoiceCaller`], for escalating a critical alert that nobody
//! acknowledged.
//!
//! The message is spoken twice, as SSML (`<speak>text<break time="1s"/>text</speak>`,
//! XML-escaped), by one voice per caregiver language ([`voice_for`]): Spanish →
//! Lucia (es-ES), Brazilian Portuguese → Camila (pt-BR), English → Joanna (en-US).
//!
//! Failures are classified by the shared policy ([`crate::retry::is_retryable`]):
//! throttling, 5xx and network failures are [`NotifyError::Transient`]; anything
//! else (a ValidationException for an invalid or unreachable number, a missing
//! origination identity or configuration set, denied access) is
//! [`NotifyError::Rejected`]. Error messages can echo the number, so failures carry
//! only the error code and HTTP status ([`VoiceFailure`]); the number and the text
//! are never logged.

use aws_sdk_pinpointsmsvoicev2::error::SdkError;
use aws_sdk_pinpointsmsvoicev2::operation::send_voice_message::SendVoiceMessageError;
use aws_sdk_pinpointsmsvoicev2::types::{VoiceId, VoiceMessageBodyTextType};
use vigil_domain::alerts::Language;
use vigil_domain::ports::NotifyError;

use crate::retry::{error_code, is_retryable};

/// Places voice calls from one origination identity (a phone number, its ARN, or a
/// pool), optionally through a configuration set (event destinations for call
/// outcomes).
#[derive(Debug, Clone)]
pub struct VoiceCaller {
    pub client: aws_sdk_pinpointsmsvoicev2::Client,
    pub origination_identity: String,
    pub configuration_set: Option<String>,
}

/// Why a SendVoiceMessage failed, stripped of the provider's message.
#[derive(Debug, thiserror::Error)]
#[error("SendVoiceMessage failed: {code} (HTTP {status})")]
pub struct VoiceFailure {
    /// The error code (`ValidationException`, `ThrottlingException`, ...) or the kind
    /// of failure when there was no response (`timeout`, `dispatch failure`).
    pub code: String,
    /// 0 when there was no response.
    pub status: u16,
}

/// The voice that speaks a caregiver's language: Lucia (es-ES), Camila (pt-BR),
/// Joanna (en-US; any other language gets English, as messages do).
pub fn voice_for(language: Language) -> VoiceId {
    match language {
        Language::Es => VoiceId::Lucia,
        Language::PtBr => VoiceId::Camila,
        Language::En => VoiceId::Joanna,
    }
}

/// The SSML body: the text said twice, one second apart, XML-escaped.
pub fn ssml(text: &str) -> String {
    let text = xml_escape(text);
    format!(r#"<speak>{text}<break time="1s"/>{text}</speak>"#)
}

fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Control characters other than whitespace are not allowed in XML 1.0.
            c if c.is_control() && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl VoiceCaller {
    pub fn new(
        client: aws_sdk_pinpointsmsvoicev2::Client,
        origination_identity: impl Into<String>,
        configuration_set: Option<String>,
    ) -> Self {
        Self { client, origination_identity: origination_identity.into(), configuration_set }
    }

    /// Calls `to` (E.164) and speaks `text` twice in `language`'s voice; returns the
    /// provider's message id.
    pub async fn call(&self, to: &str, text: &str, language: Language) -> Result<String, NotifyError> {
        let out = self
            .client
            .send_voice_message()
            .destination_phone_number(to)
            .origination_identity(&self.origination_identity)
            .message_body(ssml(text))
            .message_body_text_type(VoiceMessageBodyTextType::Ssml)
            .voice_id(voice_for(language))
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        // A success without an id is still a success: calling again would ring twice.
        Ok(out.message_id.unwrap_or_default())
    }
}

fn classify(err: SdkError<SendVoiceMessageError>) -> NotifyError {
    let transient = is_retryable(&err)
        || err.as_service_error().is_some_and(|e| {
            matches!(
                e,
                SendVoiceMessageError::ThrottlingException(_) | SendVoiceMessageError::InternalServerException(_)
            )
        });
    let status = match &err {
        SdkError::ServiceError(service) => service.raw().status().as_u16(),
        SdkError::ResponseError(response) => response.raw().status().as_u16(),
        _ => 0,
    };
    let failure = Box::new(VoiceFailure { code: error_code(&err), status });
    tracing::warn!(code = %failure.code, status, transient, "voice call failed");
    if transient { NotifyError::Transient(failure) } else { NotifyError::Rejected(failure) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_said_twice_and_escaped() {
        assert_eq!(
            ssml(r#"Ana <fell> & "called" 'help'"#),
            "<speak>Ana &lt;fell&gt; &amp; &quot;called&quot; &apos;help&apos;<break time=\"1s\"/>\
             Ana &lt;fell&gt; &amp; &quot;called&quot; &apos;help&apos;</speak>"
        );
        assert_eq!(ssml("a\u{7}b"), r#"<speak>a b<break time="1s"/>a b</speak>"#);
    }

    #[test]
    fn each_language_has_its_voice() {
        assert_eq!(voice_for(Language::Es), VoiceId::Lucia);
        assert_eq!(voice_for(Language::PtBr), VoiceId::Camila);
        assert_eq!(voice_for(Language::En), VoiceId::Joanna);
    }
}
