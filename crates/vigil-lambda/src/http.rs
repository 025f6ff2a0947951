//! What the HTTP functions share: who is calling, and how long a request may take.

use std::time::{Duration, Instant};

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::Deadline;

/// The caller's identity (JWT `sub`) as API Gateway's authorizer passed it:
/// HTTP API (payload v2) `authorizer.jwt.claims.sub`, or REST API (payload v1)
/// with a Cognito user pool authorizer `authorizer.claims.sub`.
pub fn caller(request: &Request) -> Option<String> {
    let sub = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(ctx) => ctx.authorizer.as_ref()?.jwt.as_ref()?.claims.get("sub")?.clone(),
        RequestContext::ApiGatewayV1(ctx) => ctx.authorizer.fields.get("claims")?.get("sub")?.as_str()?.to_owned(),
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    (!sub.is_empty()).then_some(sub)
}

/// A request's deadline: the invocation's (the Lambda context's `deadline`) less
/// `margin` (kept back to write the response). `None` outside Lambda (tests); the
/// local runner invokes with a context, as Lambda does.
pub fn deadline(request: &Request, margin: Duration) -> Option<Deadline> {
    request.lambda_context_ref().map(|context| Deadline::of(context, margin))
}

/// A request's time budget: `configured`, cut short by the invocation deadline
/// less `margin` (kept back to write the response). Outside Lambda: `configured`.
pub fn budget(request: &Request, configured: Duration, margin: Duration) -> Duration {
    deadline(request, margin).map_or(configured, |d| d.within(configured).remaining())
}

/// Whether the body is declared JSON (`Content-Type: application/json`, any parameters).
pub fn is_json(request: &Request) -> bool {
    let Some(value) = request.headers().get(lambda_http::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// The metrics every HTTP function writes per request: `Requests`, its duration
/// as `latency` (ms since `started`), and `RequestsRefused` (4xx) or
/// `RequestsFailed` (5xx) by the answer's `status`.
pub fn count_request(
    metrics: &mut crate::metrics::Metrics,
    status: lambda_http::http::StatusCode,
    latency: &'static str,
    started: Instant,
) {
    metrics.count("Requests", 1).millis(latency, started.elapsed().as_secs_f64() * 1e3);
    if status.is_client_error() {
        metrics.count("RequestsRefused", 1);
    }
    if status.is_server_error() {
        metrics.count("RequestsFailed", 1);
    }
}
