//! The request handler: decode → validate → authorize → publish → respond.
//!
//! Status codes (see docs/openapi.yaml):
//! - 202: at least one reading is on the stream; rejected readings are listed.
//! - 400: the upload is unusable, or no reading in it is valid (every error listed).
//! - 401: no user identity from the authorizer. 403: unknown device, or a device
//!   linked to someone else — one body for both, so devices cannot be probed.
//! - 404/405: another route or method. 413: body over 1 MiB. 415: not JSON.
//! - 503 + Retry-After: the registry or the stream did not answer in time; nothing
//!   was acknowledged, and resending the same upload is safe (reading ids dedupe).
//! - 500: a misconfiguration an operator must fix; the body never carries its text.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use serde_json::json;
use vigil_domain::envelope::encode_envelopes;
use vigil_domain::ports::{DeviceDirectory, PublishError, RecordPublisher, StreamRecord, WearerLimits};
use vigil_domain::registry::{Denied, authorize};
use vigil_domain::upload::policy::{Intervals, UploadPolicy};
use vigil_domain::upload::{FieldError, MAX_BODY_BYTES, RejectedReading, parse_upload};
use vigil_lambda::Expired;
use vigil_lambda::deadline::within;
use vigil_lambda::http::{caller, is_json};
use vigil_lambda::metrics::{Metrics, Pool};

pub const ROUTE: &str = "/v1/uploads";

/// What every accepted upload records: pooled across the uploads of a process,
/// so that only an upload that records anything else (refused, rejected
/// readings, a timeout, a failure) writes its line at once.
pub const ROUTINE_METRICS: &[&str] = &["Uploads", "ReadingsAccepted", "PublishCalls", "IngestMs"];

static METRICS: Pool = Pool::new(ROUTINE_METRICS);

/// Seconds a client should wait before resending after a 503.
pub const RETRY_AFTER_SECS: u32 = 2;
/// Time kept back from the invocation deadline to write the response.
const DEADLINE_MARGIN: Duration = Duration::from_millis(500);
/// Longest wait for the wearer's limits, read beside the stream put: past it the
/// upload is answered without a policy rather than later.
const LIMITS_WAIT: Duration = Duration::from_millis(500);

/// The ingest handler with its ports. Built once per container.
#[derive(Debug)]
pub struct Ingest<P, D, L> {
    pub publisher: P,
    pub directory: D,
    /// The wearers' limits, for the upload policy in each 202.
    pub limits: L,
    /// The upload policy's intervals.
    pub upload: Intervals,
    /// Longest time spent getting records on the stream.
    pub publish_budget: Duration,
}

/// The 202 body.
#[derive(Debug, Serialize)]
struct Accepted<'a> {
    batch_id: &'a str,
    accepted: usize,
    rejected: &'a [RejectedReading],
    /// Left out when the wearer's limits could not be read in time: the app keeps
    /// the policy it has.
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_policy: Option<UploadPolicy>,
}

impl<P, D, L> Ingest<P, D, L>
where
    P: RecordPublisher + Sync,
    D: DeviceDirectory + Sync,
    L: WearerLimits + Sync,
{
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.handle_at(request, Utc::now()).await
    }

    /// Handles one request as of `now` (the server clock, injectable for tests)
    /// and writes its metrics (pooled: [`ROUTINE_METRICS`]).
    pub async fn handle_at(&self, request: Request, now: DateTime<Utc>) -> Response<Body> {
        let (response, metrics) = self.process(request, now).await;
        METRICS.emit(metrics);
        response
    }

    /// The response and the metrics of one request, without writing anything.
    pub async fn process(&self, request: Request, now: DateTime<Utc>) -> (Response<Body>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new("ingest-api");
        let response = self.answer(&request, now, &mut metrics).await;
        let status = response.status();
        metrics.count("Uploads", 1).millis("IngestMs", started.elapsed().as_secs_f64() * 1e3);
        if status.is_client_error() {
            metrics.count("UploadsRefused", 1);
        }
        if status.is_server_error() {
            metrics.count("UploadsFailed", 1);
        }
        (response, metrics)
    }

    async fn answer(&self, request: &Request, now: DateTime<Utc>, metrics: &mut Metrics) -> Response<Body> {
        if !request.uri().path().ends_with(ROUTE) {
            return error(StatusCode::NOT_FOUND, "not_found", "no such route; uploads go to POST /v1/uploads");
        }
        if request.method() != Method::POST {
            let mut response =
                error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "uploads are sent with POST");
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let Some(caller) = caller(request) else {
            return unauthorized();
        };
        if !is_json(request) {
            return error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the upload as Content-Type: application/json",
            );
        }
        let body: &[u8] = request.body().as_ref();
        if body.len() > MAX_BODY_BYTES {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("the body is larger than {MAX_BODY_BYTES} bytes; send fewer readings per upload"),
            );
        }

        let upload = match parse_upload(body, now) {
            Ok(upload) => upload,
            Err(rejected) => return invalid("the upload is not valid", &rejected.errors, rejected.errors.len()),
        };

        // The whole request runs under one deadline: the registry lookup may not
        // spend what the invocation has left (its SDK attempts could outlast it).
        let deadline = vigil_lambda::http::deadline(request, DEADLINE_MARGIN);
        let link = match within(deadline, self.directory.device(&upload.device_id)).await {
            Ok(Ok(link)) => link,
            Ok(Err(err)) => {
                tracing::warn!(upload = %upload.log_id(), error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "device registry unavailable");
                return unavailable();
            }
            Err(Expired) => {
                metrics.count("RegistryTimeouts", 1);
                tracing::warn!(upload = %upload.log_id(), "device registry did not answer in time");
                return unavailable();
            }
        };
        let link = match authorize(Some(&caller), link.as_ref()) {
            Ok(link) => link,
            Err(Denied::NoIdentity) => return unauthorized(),
            Err(Denied::NotYourDevice) => {
                tracing::info!(upload = %upload.log_id(), "upload for a device not linked to the caller");
                return error(StatusCode::FORBIDDEN, "forbidden", "this device is not linked to your account");
            }
        };

        metrics.count("ReadingsRejected", upload.rejected.len());
        if upload.readings.is_empty() {
            let total = upload.rejected.iter().map(|r| r.errors.len()).sum();
            let errors: Vec<&FieldError> =
                upload.rejected.iter().flat_map(|r| &r.errors).take(MAX_ERRORS_LISTED).collect();
            return invalid("no reading in the upload is valid", &errors, total);
        }

        let records: Vec<StreamRecord> = match encode_envelopes(&upload, &link.wearer_id, now) {
            Ok(encoded) => {
                encoded.into_iter().map(|data| StreamRecord { partition_key: link.wearer_id.clone(), data }).collect()
            }
            Err(err) => {
                tracing::error!(upload = %upload.log_id(), error = %err, "could not encode envelope");
                return internal();
            }
        };

        let budget = deadline.map_or(self.publish_budget, |d| d.within(self.publish_budget).remaining());
        // The limits are read while the records go to the stream, so they cost the
        // upload no time unless they take longer than the put, and never more than LIMITS_WAIT.
        let (published, limits) = tokio::join!(
            self.publisher.publish(records, budget),
            tokio::time::timeout(LIMITS_WAIT.min(budget), self.limits.limits(&link.wearer_id)),
        );
        let upload_policy = match limits {
            Ok(Ok(limits)) => Some(self.upload.policy(&limits.unwrap_or_default())),
            Ok(Err(err)) => {
                metrics.count("PolicyUnavailable", 1);
                tracing::warn!(upload = %upload.log_id(), error = %err, "wearer limits unavailable: answered without an upload policy");
                None
            }
            Err(_) => {
                metrics.count("PolicyUnavailable", 1);
                None
            }
        };
        match published {
            Ok(report) => {
                metrics
                    .count("ReadingsAccepted", upload.readings.len())
                    .count("PublishCalls", report.calls as usize)
                    .count("RecordsResent", report.resent);
                // DEBUG: an accepted upload is the common case, its counts are in the
                // EMF line, and a second line per upload would double the log bill.
                tracing::debug!(
                    upload = %upload.log_id(),
                    accepted = upload.readings.len(),
                    rejected = upload.rejected.len(),
                    calls = report.calls,
                    resent = report.resent,
                    "upload accepted"
                );
                json_response(
                    StatusCode::ACCEPTED,
                    &Accepted {
                        batch_id: &upload.batch_id,
                        accepted: upload.readings.len(),
                        rejected: &upload.rejected,
                        upload_policy,
                    },
                )
            }
            Err(err @ PublishError::Incomplete { .. }) => {
                metrics.count("PublishTimeouts", 1);
                tracing::warn!(upload = %upload.log_id(), error = %err, budget_ms = budget.as_millis() as u64, "stream did not take the upload in time");
                unavailable()
            }
            Err(err @ PublishError::Refused { .. }) => {
                tracing::error!(upload = %upload.log_id(), error = %err, source = ?std::error::Error::source(&err).map(ToString::to_string), "stream refused the upload");
                internal()
            }
        }
    }
}

fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // Serializing our own response types cannot fail; fall back to an empty object anyway.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "{}".to_owned());
    let mut response = Response::new(Body::Text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({"error": code, "message": message}))
}

/// At most this many field errors in one 400: the first ones tell the app's developer
/// what is wrong, and the answer stays small and fast however bad the upload (1,000
/// readings with every field wrong are 20,000 errors).
const MAX_ERRORS_LISTED: usize = 100;

/// A 400 listing the first [`MAX_ERRORS_LISTED`] of `total` errors, and how many it leaves out.
fn invalid<E: serde::Serialize>(message: &str, errors: &[E], total: usize) -> Response<Body> {
    let listed = &errors[..errors.len().min(MAX_ERRORS_LISTED)];
    let mut body = json!({"error": "invalid_upload", "message": message, "errors": listed});
    if total > listed.len() {
        body["errors_not_listed"] = json!(total - listed.len());
    }
    json_response(StatusCode::BAD_REQUEST, &body)
}

fn unauthorized() -> Response<Body> {
    let mut response =
        error(StatusCode::UNAUTHORIZED, "unauthorized", "the request carries no signed-in user; sign in again");
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

fn unavailable() -> Response<Body> {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        "the upload could not be stored right now; resend it unchanged (same batch_id)",
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response
}

fn internal() -> Response<Body> {
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the upload could not be stored; resend it unchanged later")
}
