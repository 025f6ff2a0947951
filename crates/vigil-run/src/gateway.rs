//! API Gateway played on 127.0.0.1: an HTTP server that does what the deployed
//! HTTP API does before ingest-api runs — checks the app's JWT (the JWT
//! authorizer), refuses what API Gateway refuses, and hands the function the
//! payload-v2 event with the token's claims in `requestContext.authorizer.jwt`.
//!
//! Tokens are signed with HS256 under a key generated for each run (deployed,
//! Cognito signs RS256 and the authorizer checks it against the pool's JWKS; the
//! function sees the same claims either way). [`LocalIssuer::token`] mints one
//! for an app user, as Cognito would after sign-in.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

/// API Gateway HTTP APIs take payloads up to 10 MB; larger ones never reach the function.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
pub const ISSUER: &str = "vigil-local";
pub const AUDIENCE: &str = "vigil-app";

/// Signs and checks the app's tokens for a local run.
pub struct LocalIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalIssuer { .. }")
    }
}

impl LocalIssuer {
    /// A fresh random signing key.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(Self::with_key(&key))
    }

    pub fn with_key(key: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key), validation }
    }

    /// A token for app user `sub`, valid for a day of real time.
    pub fn token(&self, sub: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"sub": sub, "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 86_400,
                            "token_use": "access", "scope": "vigil/uploads"});
        // Encoding a JSON object with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The claims of a valid token, as the JWT authorizer passes them on
    /// (every value as a string).
    pub fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &self.validation).ok()?;
        let claims = data
            .claims
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => Value::String(s),
                    other => Value::String(other.to_string()),
                };
                (k, v)
            })
            .collect();
        Some(claims)
    }
}

/// The function behind the route, as Lambda would invoke it.
pub trait Backend: Send + Sync + 'static {
    fn call(
        &self,
        request: lambda_http::Request,
    ) -> impl Future<Output = lambda_http::Response<lambda_http::Body>> + Send;
}

/// Serves `backend` on `addr` until the task is dropped; returns the bound address
/// (use port 0 for any free port).
pub async fn serve<B: Backend>(
    addr: SocketAddr,
    issuer: Arc<LocalIssuer>,
    backend: Arc<B>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let issuer = issuer.clone();
            let backend = backend.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let issuer = issuer.clone();
                    let backend = backend.clone();
                    async move { Ok::<_, Infallible>(route(request, peer, &issuer, &*backend).await) }
                });
                // A client that goes away mid-request is its own business.
                let _ =
                    hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok((bound, task))
}

async fn route<B: Backend>(
    request: Request<Incoming>,
    peer: SocketAddr,
    issuer: &LocalIssuer,
    backend: &B,
) -> Response<Full<Bytes>> {
    let claims = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|token| issuer.verify(token.trim()));
    let Some(claims) = claims else {
        // What the HTTP API's JWT authorizer answers, without calling the function.
        return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let event = v2_event(&parts, &body, claims, peer);
    let Ok(lambda_request) = lambda_http::request::from_str(&event.to_string()) else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    to_hyper(backend.call(lambda_request).await)
}

/// The payload-v2 event API Gateway sends for this request.
fn v2_event(parts: &hyper::http::request::Parts, body: &[u8], claims: Map<String, Value>, peer: SocketAddr) -> Value {
    let mut headers = Map::new();
    for (name, value) in &parts.headers {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_owned(), Value::String(v.to_owned()));
        }
    }
    let (body, is_base64) = match std::str::from_utf8(body) {
        Ok(text) => (text.to_owned(), false),
        Err(_) => (base64::engine::general_purpose::STANDARD.encode(body), true),
    };
    let path = parts.uri.path();
    let now = chrono::Utc::now();
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
            "http": {"method": parts.method.as_str(), "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": peer.ip().to_string(), "userAgent": headers_user_agent(parts)},
            "authorizer": {"jwt": {"claims": claims, "scopes": null}},
            "requestId": format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": "$default", "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(), "timeEpoch": now.timestamp_millis()
        },
        "body": body,
        "isBase64Encoded": is_base64
    })
}

fn headers_user_agent(parts: &hyper::http::request::Parts) -> String {
    parts.headers.get(hyper::header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

fn to_hyper(response: lambda_http::Response<lambda_http::Body>) -> Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        lambda_http::Body::Empty => Bytes::new(),
        lambda_http::Body::Text(text) => Bytes::from(text),
        lambda_http::Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    Response::from_parts(parts, Full::new(bytes))
}

fn gateway_error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(json!({"message": message}).to_string())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    #[test]
    fn tokens_verify_only_under_their_key() {
        let issuer = LocalIssuer::generate().unwrap();
        let token = issuer.token("app-user-0001");
        let claims = issuer.verify(&token).unwrap();
        assert_eq!(claims["sub"], "app-user-0001");
        assert!(claims["exp"].is_string(), "claims reach the function as strings");
        let other = LocalIssuer::generate().unwrap();
        assert!(other.verify(&token).is_none());
        assert!(issuer.verify("not-a-token").is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(issuer.verify(&tampered).is_none());
    }
}
