//! A local stand-in for AWS End User Messaging SMS and Voice v2's `SendVoiceMessage`
//! (moto does not implement that API): an HTTP server on 127.0.0.1 that speaks the
//! service's awsJson1_0 protocol, answers each call with a message id, and records
//! every call in memory for the caller to read ([`VoiceStandIn::calls`]).
//!
//! Point the SDK at it with `endpoint_url` (or `AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`
//! for this service alone); any credentials and region do, it checks no signature.
//!
//! It answers like the service:
//! - `POST /` with `X-Amz-Target: PinpointSMSVoiceV2.SendVoiceMessage` → 200
//!   `{"MessageId": "<uuid>"}`;
//! - a missing or malformed destination or origination, a body that is not JSON, or a
//!   destination in the unreachable set → 400 with a `ValidationException` body
//!   (`__type`, `Message`, `Reason`, `Fields`), which the SDK reads into its typed
//!   `SendVoiceMessageError::ValidationException`;
//! - any other target, method or path → 400 `UnknownOperationException`.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The operation this stand-in serves, as the SDK names it in `X-Amz-Target`.
pub const SEND_VOICE_MESSAGE_TARGET: &str = "PinpointSMSVoiceV2.SendVoiceMessage";
const CONTENT_TYPE: &str = "application/x-amz-json-1.0";
/// Larger request bodies are refused (the service's own limits are far lower).
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// One `SendVoiceMessage` request the stand-in received, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCall {
    pub destination: String,
    pub origination: String,
    /// As on the wire: `LUCIA`, `CAMILA`, `JOANNA`, ...
    pub voice_id: Option<String>,
    /// `SSML` or `TEXT`.
    pub body_text_type: Option<String>,
    pub body: Option<String>,
    pub configuration_set: Option<String>,
    /// The id answered; `None` when the call was refused (an unreachable or invalid number).
    pub message_id: Option<String>,
}

#[derive(Debug, Default)]
struct State {
    calls: Vec<RecordedCall>,
    unreachable: HashSet<String>,
}

/// The running stand-in. The server stops when this is dropped.
#[derive(Debug)]
pub struct VoiceStandIn {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl VoiceStandIn {
    /// Serves on `addr` (port 0 for any free port); numbers in `unreachable` are
    /// refused with a ValidationException.
    pub async fn start(
        addr: SocketAddr,
        unreachable: impl IntoIterator<Item = impl Into<String>>,
    ) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State {
            calls: Vec::new(),
            unreachable: unreachable.into_iter().map(Into::into).collect(),
        }));
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(request, &state).await) }
                    });
                    // A client that goes away mid-request is its own business.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, state, task })
    }

    /// Serves on a free port of 127.0.0.1 with no unreachable numbers.
    pub async fn start_local() -> std::io::Result<Self> {
        Self::start(SocketAddr::from(([127, 0, 0, 1], 0)), std::iter::empty::<String>()).await
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to give the SDK as its endpoint.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Refuses calls to `number` from now on.
    pub fn mark_unreachable(&self, number: impl Into<String>) {
        lock(&self.state).unreachable.insert(number.into());
    }

    /// Every SendVoiceMessage received so far, in order, refused ones included.
    pub fn calls(&self) -> Vec<RecordedCall> {
        lock(&self.state).calls.clone()
    }
}

impl Drop for VoiceStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The state stays consistent even if a holder panicked: every change is one push or insert.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

async fn handle(request: Request<Incoming>, state: &Mutex<State>) -> Response<Full<Bytes>> {
    let target = request.headers().get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if request.method() != hyper::Method::POST || request.uri().path() != "/" || target != SEND_VOICE_MESSAGE_TARGET {
        return error(
            "UnknownOperationException",
            json!({"message": format!("Operation '{target}' is not supported by this stand-in")}),
        );
    }
    let body = match Limited::new(request.into_body(), MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return validation("CANNOT_PARSE", None, "Request body could not be read"),
    };
    let Ok(input) = serde_json::from_slice::<Value>(&body) else {
        return validation("CANNOT_PARSE", None, "Request body is not valid JSON");
    };
    let field = |name: &str| input.get(name).and_then(Value::as_str).map(str::to_owned);
    let (Some(destination), Some(origination)) = (field("DestinationPhoneNumber"), field("OriginationIdentity")) else {
        let missing =
            if field("DestinationPhoneNumber").is_none() { "DestinationPhoneNumber" } else { "OriginationIdentity" };
        return validation("MISSING_PARAMETER", Some(missing), "Required parameter is missing");
    };
    let mut call = RecordedCall {
        destination,
        origination,
        voice_id: field("VoiceId"),
        body_text_type: field("MessageBodyTextType"),
        body: field("MessageBody"),
        configuration_set: field("ConfigurationSetName"),
        message_id: None,
    };
    let mut state = lock(state);
    let refused = !is_e164(&call.destination) || state.unreachable.contains(&call.destination);
    if refused {
        state.calls.push(call);
        return validation(
            "INVALID_PARAMETER",
            Some("DestinationPhoneNumber"),
            "The destination phone number is not valid or cannot be reached",
        );
    }
    let message_id = message_id();
    call.message_id = Some(message_id.clone());
    state.calls.push(call);
    respond(StatusCode::OK, &json!({"MessageId": message_id}))
}

/// `+` and 2 to 15 digits, the first not 0.
fn is_e164(number: &str) -> bool {
    number.strip_prefix('+').is_some_and(|digits| {
        (2..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0')
    })
}

/// A random id shaped like the service's (a UUID).
fn message_id() -> String {
    let digits: String = (0..32).map(|_| char::from_digit(fastrand::u32(0..16), 16).unwrap_or('0')).collect();
    format!("{}-{}-{}-{}-{}", &digits[..8], &digits[8..12], &digits[12..16], &digits[16..20], &digits[20..])
}

/// A ValidationException as the service shapes it: 400, its `__type`, a reason and
/// the offending field.
fn validation(reason: &str, field: Option<&str>, message: &str) -> Response<Full<Bytes>> {
    let mut body = json!({"Message": message, "Reason": reason});
    if let Some(name) = field {
        body["Fields"] = json!([{"Name": name, "Message": message}]);
    }
    error("ValidationException", body)
}

fn error(kind: &str, mut body: Value) -> Response<Full<Bytes>> {
    body["__type"] = Value::String(format!("com.amazonaws.pinpointsmsvoicev2#{kind}"));
    respond(StatusCode::BAD_REQUEST, &body)
}

fn respond(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = hyper::header::HeaderValue::from_str(&message_id()) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_must_be_e164() {
        assert!(is_e164("+34600111222"));
        assert!(!is_e164("34600111222"));
        assert!(!is_e164("+0123"));
        assert!(!is_e164("+1"));
        assert!(!is_e164("+1234567890123456"));
        assert!(!is_e164("+1555-0001"));
    }

    #[test]
    fn message_ids_look_like_uuids() {
        let id = message_id();
        let lengths: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()), "{id}");
        assert_ne!(id, message_id());
    }
}

/// The stand-in driven by the real SDK client, as the voice adapter uses it.
#[cfg(test)]
mod sdk_tests {
    use aws_sdk_pinpointsmsvoicev2::config::{BehaviorVersion, Credentials, Region};
    use aws_sdk_pinpointsmsvoicev2::operation::send_voice_message::SendVoiceMessageError;
    use aws_sdk_pinpointsmsvoicev2::types::{ValidationExceptionReason, VoiceId, VoiceMessageBodyTextType};

    use super::*;

    fn client(stand_in: &VoiceStandIn) -> aws_sdk_pinpointsmsvoicev2::Client {
        let config = aws_sdk_pinpointsmsvoicev2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "vigil-local"))
            .endpoint_url(stand_in.endpoint_url())
            .http_client(vigil_aws::sdk::https_client())
            .build();
        aws_sdk_pinpointsmsvoicev2::Client::from_conf(config)
    }

    #[tokio::test]
    async fn a_call_is_recorded_with_its_fields_and_answered_with_an_id() {
        let stand_in = VoiceStandIn::start_local().await.unwrap();
        let out = client(&stand_in)
            .send_voice_message()
            .destination_phone_number("+34600111222")
            .origination_identity("+15550009999")
            .message_body("<speak>Hola</speak>")
            .message_body_text_type(VoiceMessageBodyTextType::Ssml)
            .voice_id(VoiceId::Lucia)
            .send()
            .await
            .unwrap();
        let id = out.message_id().unwrap().to_owned();
        assert_eq!(
            stand_in.calls(),
            [RecordedCall {
                destination: "+34600111222".into(),
                origination: "+15550009999".into(),
                voice_id: Some("LUCIA".into()),
                body_text_type: Some("SSML".into()),
                body: Some("<speak>Hola</speak>".into()),
                configuration_set: None,
                message_id: Some(id),
            }]
        );
    }

    #[tokio::test]
    async fn an_unreachable_or_malformed_number_is_the_sdks_validation_exception() {
        let stand_in = VoiceStandIn::start(SocketAddr::from(([127, 0, 0, 1], 0)), ["+34600999999"]).await.unwrap();
        for number in ["+34600999999", "600999999"] {
            let err = client(&stand_in)
                .send_voice_message()
                .destination_phone_number(number)
                .origination_identity("+15550009999")
                .message_body("Hola")
                .send()
                .await
                .unwrap_err();
            let Some(SendVoiceMessageError::ValidationException(e)) = err.as_service_error() else {
                panic!("not a ValidationException: {err:?}");
            };
            assert_eq!(e.reason(), Some(&ValidationExceptionReason::InvalidParameter));
            assert_eq!(e.fields()[0].name(), "DestinationPhoneNumber");
            assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
        }
        assert!(stand_in.calls().iter().all(|c| c.message_id.is_none()));
    }

    #[tokio::test]
    async fn another_operation_is_unknown() {
        let stand_in = VoiceStandIn::start_local().await.unwrap();
        let err = client(&stand_in).describe_phone_numbers().send().await.unwrap_err();
        assert_eq!(
            aws_sdk_pinpointsmsvoicev2::error::ProvideErrorMetadata::code(&err),
            Some("UnknownOperationException")
        );
        assert!(stand_in.calls().is_empty());
    }
}
