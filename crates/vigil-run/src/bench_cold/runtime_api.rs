//! A stand-in of the Lambda Runtime API on 127.0.0.1, enough to start a function's
//! binary as Lambda does and time it: `GET /2018-06-01/runtime/invocation/next` answers
//! the next queued invocation (waiting for one, as Lambda's long poll does) with the
//! event as its body and the headers `Lambda-Runtime-Aws-Request-Id`,
//! `Lambda-Runtime-Deadline-Ms`, `Lambda-Runtime-Invoked-Function-Arn` and
//! `Lambda-Runtime-Trace-Id`; `POST .../invocation/{id}/response`, `.../{id}/error` and
//! `/2018-06-01/runtime/init/error` are recorded. Everything the function does is
//! reported, with the instant it happened, through [`RuntimeApi::observed`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

/// The API's version prefix, as Lambda serves it.
pub const PREFIX: &str = "/2018-06-01/runtime";
/// Lambda's largest synchronous payload (6 MB); a bigger response is an error.
const MAX_PAYLOAD_BYTES: usize = 6 * 1024 * 1024;

/// One invocation, as Lambda hands it to the function.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// When the invocation times out (`Lambda-Runtime-Deadline-Ms`, epoch milliseconds).
    pub deadline: SystemTime,
    pub function_arn: String,
    pub trace_id: String,
    pub event: Bytes,
}

impl Invocation {
    /// An invocation of `function` with `event`, due within `timeout`, with a fresh
    /// request id and X-Ray trace id.
    pub fn new(function: &str, event: impl Into<Bytes>, timeout: Duration) -> Self {
        let now = SystemTime::now();
        let epoch_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Self {
            request_id: uuid_like(),
            deadline: now + timeout,
            function_arn: format!("arn:aws:lambda:eu-west-1:123456789012:function:{function}"),
            trace_id: format!("Root=1-{epoch_secs:08x}-{};Parent={};Sampled=0", random_hex(12), random_hex(8)),
            event: event.into(),
        }
    }

    fn deadline_ms(&self) -> u128 {
        self.deadline.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
    }
}

/// What the function did, and when.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// A `GET .../invocation/next` arrived: the first one ends the function's init.
    Next { at: Instant },
    /// An invocation was handed out in answer to a `GET .../next`.
    Handed { request_id: String, at: Instant },
    /// `POST .../invocation/{id}/response`.
    Response { request_id: String, body: Bytes, at: Instant },
    /// `POST .../invocation/{id}/error`, with its `Lambda-Runtime-Function-Error-Type`.
    Error { request_id: String, error_type: Option<String>, body: Bytes, at: Instant },
    /// `POST /2018-06-01/runtime/init/error`.
    InitError { error_type: Option<String>, body: Bytes, at: Instant },
}

/// The stand-in, serving until dropped.
#[derive(Debug)]
pub struct RuntimeApi {
    addr: SocketAddr,
    invocations: mpsc::UnboundedSender<Invocation>,
    observed: mpsc::UnboundedReceiver<Observed>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    /// One long poll takes the next invocation at a time.
    queue: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    observed: mpsc::UnboundedSender<Observed>,
}

impl RuntimeApi {
    /// Starts serving on a free port of 127.0.0.1.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (invocations, queue) = mpsc::unbounded_channel();
        let (observed_tx, observed) = mpsc::unbounded_channel();
        let state = Arc::new(State { queue: Mutex::new(queue), observed: observed_tx });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(route(request, &state).await) }
                    });
                    // A function killed mid-poll closes its connection: nothing to do.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self { addr, invocations, observed, task })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues `invocation` for the next `GET .../next`.
    pub fn invoke(&self, invocation: Invocation) {
        // The receiver lives in the server task, which ends only when `self` is dropped.
        let _ = self.invocations.send(invocation);
    }

    /// The next thing the function did, in order.
    pub async fn observed(&mut self) -> Option<Observed> {
        self.observed.recv().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn route(request: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    // Read the body first, whatever the answer, so the connection can be reused.
    let body = match Limited::new(body, MAX_PAYLOAD_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge"),
    };
    let error_type =
        parts.headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let Some(path) = parts.uri.path().strip_prefix(PREFIX) else {
        return plain(StatusCode::NOT_FOUND, "NotFound");
    };
    match (&parts.method, path) {
        (&Method::GET, "/invocation/next") => {
            let _ = state.observed.send(Observed::Next { at });
            let Some(invocation) = state.queue.lock().await.recv().await else {
                return plain(StatusCode::INTERNAL_SERVER_ERROR, "ShuttingDown");
            };
            let _ =
                state.observed.send(Observed::Handed { request_id: invocation.request_id.clone(), at: Instant::now() });
            next_response(&invocation)
        }
        (&Method::POST, "/init/error") => {
            let _ = state.observed.send(Observed::InitError { error_type, body, at });
            accepted()
        }
        (&Method::POST, path) => {
            let Some(rest) = path.strip_prefix("/invocation/") else {
                return plain(StatusCode::NOT_FOUND, "NotFound");
            };
            let observed = match rest.rsplit_once('/') {
                Some((id, "response")) if !id.is_empty() => Observed::Response { request_id: id.to_owned(), body, at },
                Some((id, "error")) if !id.is_empty() => {
                    Observed::Error { request_id: id.to_owned(), error_type, body, at }
                }
                _ => return plain(StatusCode::NOT_FOUND, "NotFound"),
            };
            let _ = state.observed.send(observed);
            accepted()
        }
        _ => plain(StatusCode::NOT_FOUND, "NotFound"),
    }
}

fn next_response(invocation: &Invocation) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header("lambda-runtime-deadline-ms", invocation.deadline_ms().to_string())
        .header("lambda-runtime-invoked-function-arn", &invocation.function_arn)
        .header("lambda-runtime-trace-id", &invocation.trace_id)
        .body(Full::new(invocation.event.clone()))
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "BadInvocation"))
}

fn accepted() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(br#"{"status":"OK"}"#)));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn plain(status: StatusCode, error_type: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!(r#"{{"errorType":"{error_type}"}}"#))));
    *response.status_mut() = status;
    response
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // Ids need only be distinct between invocations: fall back to the clock.
    if getrandom::fill(&mut buf).is_err() {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = (nanos >> ((i % 16) * 8)) as u8);
    }
    hex::encode(buf)
}

/// A request id shaped as Lambda's (a UUID).
fn uuid_like() -> String {
    let h = random_hex(16);
    format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
}
