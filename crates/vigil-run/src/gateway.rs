//! API Gateway played on 127.0.0.1: an HTTP server that does what the deployed
//! HTTP API does before a function runs — matches the request to a declared route
//! (each HTTP function's `function.json`), checks the JWT with that route's
//! authorizer (app users' tokens for `/v1/uploads`, caregivers' for the care
//! routes: each its own audience, as each is its own Cognito app client),
//! refuses what API Gateway refuses, and hands the route's function the
//! payload-v2 event with the token's claims in `requestContext.authorizer.jwt`.
//! Public routes (the acknowledgement link's page) have no authorizer: any
//! request reaches the function, which checks its own credential, and the event
//! carries no `authorizer`.
//!
//! Tokens are signed with HS256 under a key generated for each run (deployed,
//! Cognito signs RS256 and the authorizer checks it against the pool's JWKS; the
//! function sees the same claims either way). [`LocalIssuer::token`] mints one
//! for an app user or a caregiver, as Cognito would after sign-in.

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
use vigil_local::declaration::{Declaration, DeclarationError, FUNCTIONS, Users};

/// API Gateway HTTP APIs take payloads up to 10 MB; larger ones never reach the function.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;
pub const ISSUER: &str = "vigil-local";

/// The audience (app client) of each kind of user's tokens; public routes take none.
pub fn audience(users: Users) -> Option<&'static str> {
    match users {
        Users::App => Some("vigil-app"),
        Users::Caregivers => Some("vigil-caregivers"),
        Users::Public => None,
    }
}

/// Signs and checks the tokens of a local run.
pub struct LocalIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
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
        Self { encoding: EncodingKey::from_secret(key), decoding: DecodingKey::from_secret(key) }
    }

    /// A token for `sub`, one of `users`, valid for a day of real time.
    pub fn token(&self, users: Users, sub: &str) -> String {
        self.token_until(users, sub, chrono::Utc::now() + chrono::Duration::days(1))
    }

    /// A token for `sub` that expires at `exp` (in the past for an expired one).
    /// Public routes take no token: one for [`Users::Public`] has no audience and
    /// verifies for no route.
    pub fn token_until(&self, users: Users, sub: &str, exp: chrono::DateTime<chrono::Utc>) -> String {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"sub": sub, "iss": ISSUER, "aud": audience(users), "iat": now, "exp": exp.timestamp(),
                            "token_use": "access"});
        // Encoding a JSON object with an HMAC key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).unwrap_or_default()
    }

    /// The claims of a token valid for `users`' routes, as the JWT authorizer
    /// passes them on (every value as a string); `None` for public routes, which
    /// have no authorizer.
    pub fn verify(&self, token: &str, users: Users) -> Option<Map<String, Value>> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience(users)?]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        // API Gateway's JWT authorizer refuses an expired token at once.
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.decoding, &validation).ok()?;
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

/// The functions behind the routes, as Lambda would invoke them.
pub trait Backend: Send + Sync + 'static {
    /// Invokes `function` (its crate name) with `request`.
    fn call(
        &self,
        function: &str,
        request: lambda_http::Request,
    ) -> impl Future<Output = lambda_http::Response<lambda_http::Body>> + Send;
}

/// One declared route: `GET /v1/wearers/{wearer_id}` of care-api, for caregivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub function: &'static str,
    pub method: String,
    /// Path segments; `{name}` matches any one segment.
    pub segments: Vec<String>,
    pub users: Users,
    /// As declared, API Gateway's `routeKey`.
    pub key: String,
}

impl Route {
    fn matches(&self, method: &str, path: &str) -> bool {
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        self.method == method
            && parts.len() == self.segments.len()
            && self.segments.iter().zip(&parts).all(|(s, p)| !p.is_empty() && (s.starts_with('{') || s == p))
    }

    /// `{"wearer_id": "…"}` of a matching path.
    fn parameters(&self, path: &str) -> Map<String, Value> {
        let parts = path.trim_matches('/').split('/');
        self.segments
            .iter()
            .zip(parts)
            .filter_map(|(s, p)| {
                let name = s.strip_prefix('{')?.strip_suffix('}')?;
                Some((name.to_owned(), Value::String(p.to_owned())))
            })
            .collect()
    }
}

/// Every HTTP route the functions declare.
pub fn routes() -> Result<Vec<Route>, DeclarationError> {
    let mut out = Vec::new();
    for (function, _) in FUNCTIONS {
        let declaration = Declaration::of(function)?;
        let Some(http) = declaration.http() else { continue };
        for key in &http.routes {
            let (method, path) = key.split_once(' ').unwrap_or(("", key));
            out.push(Route {
                function,
                method: method.to_owned(),
                segments: path.trim_matches('/').split('/').map(str::to_owned).collect(),
                users: http.users,
                key: key.clone(),
            });
        }
    }
    Ok(out)
}

/// Serves `backend` on `addr` until the task is dropped; returns the bound address
/// (use port 0 for any free port).
pub async fn serve<B: Backend>(
    addr: SocketAddr,
    issuer: Arc<LocalIssuer>,
    backend: Arc<B>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let table = Arc::new(routes().map_err(std::io::Error::other)?);
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else { continue };
            let issuer = issuer.clone();
            let backend = backend.clone();
            let table = table.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let issuer = issuer.clone();
                    let backend = backend.clone();
                    let table = table.clone();
                    async move { Ok::<_, Infallible>(route(request, peer, &table, &issuer, &*backend).await) }
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
    table: &[Route],
    issuer: &LocalIssuer,
    backend: &B,
) -> Response<Full<Bytes>> {
    // The body is read first, whatever the answer: a response sent over an unread body
    // makes hyper close the connection under a client that would reuse it.
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return gateway_error(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let Some(route) = table.iter().find(|r| r.matches(parts.method.as_str(), parts.uri.path())) else {
        // An HTTP API answers an undeclared route (or method) itself.
        return gateway_error(StatusCode::NOT_FOUND, "Not Found");
    };
    let claims = match route.users {
        // No authorizer: the function checks its own credential (a signed link).
        Users::Public => None,
        users => {
            let claims = parts
                .headers
                .get(hyper::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .and_then(|token| issuer.verify(token.trim(), users));
            let Some(claims) = claims else {
                // What the HTTP API's JWT authorizer answers, without calling the function.
                return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
            };
            Some(claims)
        }
    };
    let event = v2_event(&parts, &body, claims, peer, route);
    let Ok(lambda_request) = lambda_http::request::from_str(&event.to_string()) else {
        return gateway_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
    };
    to_hyper(backend.call(route.function, lambda_request).await)
}

/// The payload-v2 event API Gateway sends for this request (a public route's
/// without `authorizer`).
fn v2_event(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    claims: Option<Map<String, Value>>,
    peer: SocketAddr,
    route: &Route,
) -> Value {
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
    let query = parts.uri.query().unwrap_or("");
    let parameters = query_parameters(query);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": path,
        "rawQueryString": query,
        "queryStringParameters": if parameters.is_empty() { Value::Null } else { Value::Object(parameters) },
        "pathParameters": route.parameters(path),
        "headers": headers,
        "requestContext": {
            "accountId": "000000000000", "apiId": "local", "domainName": "127.0.0.1", "domainPrefix": "local",
            "http": {"method": parts.method.as_str(), "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": peer.ip().to_string(), "userAgent": headers_user_agent(parts)},
            "requestId": format!("local-{}", now.timestamp_nanos_opt().unwrap_or_default()),
            "routeKey": route.key, "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(), "timeEpoch": now.timestamp_millis()
        },
        "body": body,
        "isBase64Encoded": is_base64
    });
    if let Some(claims) = claims {
        event["requestContext"]["authorizer"] = json!({"jwt": {"claims": claims, "scopes": null}});
    }
    event
}

/// `queryStringParameters` as API Gateway builds them: decoded, repeated names joined with commas.
fn query_parameters(query: &str) -> Map<String, Value> {
    let mut parameters = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let joined = match parameters.get(k.as_ref()).and_then(Value::as_str) {
            Some(before) => format!("{before},{v}"),
            None => v.into_owned(),
        };
        parameters.insert(k.into_owned(), Value::String(joined));
    }
    parameters
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
        let token = issuer.token(Users::App, "app-user-0001");
        let claims = issuer.verify(&token, Users::App).unwrap();
        assert_eq!(claims["sub"], "app-user-0001");
        assert!(claims["exp"].is_string(), "claims reach the function as strings");
        assert!(issuer.verify(&token, Users::Caregivers).is_none(), "an app token is not a caregiver's");
        let other = LocalIssuer::generate().unwrap();
        assert!(other.verify(&token, Users::App).is_none());
        assert!(issuer.verify("not-a-token", Users::App).is_none());
        let mut tampered = token.clone();
        tampered.pop();
        assert!(issuer.verify(&tampered, Users::App).is_none());
        let expired = issuer.token_until(Users::Caregivers, "cg", chrono::Utc::now() - chrono::Duration::hours(1));
        assert!(issuer.verify(&expired, Users::Caregivers).is_none());
        let public = issuer.token(Users::Public, "anyone");
        for users in [Users::Public, Users::App, Users::Caregivers] {
            assert!(issuer.verify(&public, users).is_none(), "{users:?}");
        }
    }

    #[test]
    fn routes_come_from_the_declarations_and_match_like_api_gateway() {
        let table = routes().unwrap();
        let find = |m: &str, p: &str| table.iter().find(|r| r.matches(m, p)).map(|r| (r.function, r.users));
        assert_eq!(find("POST", "/v1/uploads"), Some(("ingest-api", Users::App)));
        assert_eq!(find("GET", "/v1/wearers/w-1"), Some(("care-api", Users::Caregivers)));
        assert_eq!(find("POST", "/v1/alerts/a/acknowledge"), Some(("care-api", Users::Caregivers)));
        assert_eq!(find("GET", "/v1/uploads"), None);
        assert_eq!(find("GET", "/a/some-token"), Some(("ack-link", Users::Public)));
        assert_eq!(find("POST", "/a/some-token"), Some(("ack-link", Users::Public)));
        assert_eq!(find("PUT", "/a/some-token"), None);
        assert_eq!(find("GET", "/a/x/y"), None);
        assert_eq!(find("GET", "/v1/wearers//alerts"), None);
        let route = table.iter().find(|r| r.key == "GET /v1/wearers/{wearer_id}/alerts").unwrap();
        assert_eq!(route.parameters("/v1/wearers/w-9/alerts")["wearer_id"], "w-9");
        let q = query_parameters("from=2026-11-22T10%3A00%3A00%2B01%3A00&x=a+b%zz&s=open&s=resolved");
        assert_eq!(q["from"], "2026-11-22T10:00:00+01:00");
        assert_eq!(q["x"], "a b%zz");
        assert_eq!(q["s"], "open,resolved");
    }
}
