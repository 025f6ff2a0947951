//! Chaos for `vigil run --chaos <rate>`: a fault-injecting HTTP proxy put between
//! each function and the AWS-compatible endpoint (one listener per function, so
//! every fault is attributed to the function that met it) and between the phones
//! and the local API Gateway, and invocations of the stream and scheduled functions
//! aborted at a random point, as a Lambda timeout or crash would.
//!
//! At `rate` per request, the proxy answers, instead of the endpoint, in the
//! service's own wire format:
//! - [`Fault::Throttled`]: Kinesis and DynamoDB `ProvisionedThroughputExceededException`
//!   (awsJson, 400), S3 `SlowDown` (restXml, 503), SNS `Throttling` (awsQuery, 400),
//!   End User Messaging `ThrottlingException`;
//! - [`Fault::InternalError`] (500) and [`Fault::Unavailable`] (503);
//! - [`Fault::Slow`]: an answer later than the caller's attempt timeout. For requests
//!   that are safe to repeat the request reaches the endpoint first (the work is
//!   done, the answer is lost); a message send (SNS `Publish`, `SendVoiceMessage`,
//!   neither of which takes an idempotency token) never reaches it, so the provider
//!   sends nothing the function does not know about;
//! - [`Fault::Reset`]: the connection closed with no answer, before forwarding;
//! - [`Fault::PartialBatch`] (PutRecords, BatchWriteItem only): a random subset is
//!   forwarded and the rest answered as failed, as the services do — PutRecords
//!   with `FailedRecordCount` and a per-record `ErrorCode` in request order,
//!   BatchWriteItem with the rest in `UnprocessedItems`. Nothing is written for them.
//!
//! Fault choice is drawn from one generator seeded by the run's seed (the order of
//! concurrent requests still varies between runs). Every fault, every SDK retry
//! (`amz-sdk-request: attempt=N`, N > 1) and every abort is counted, and every
//! write that confirms a message as sent (the deliveries table's `status = sent`)
//! is recorded with the fault it met, to explain a duplicate message (see
//! `docs/alerts.md`: a crash between send and confirm may send a message twice).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::esm::Handler;

/// Request bodies larger than this are refused (the proxy buffers each request).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// A fault the run injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    Throttled,
    InternalError,
    Unavailable,
    Slow,
    Reset,
    PartialBatch,
    /// An invocation dropped at a random point (a Lambda timeout or crash).
    Aborted,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::Throttled,
        Fault::InternalError,
        Fault::Unavailable,
        Fault::Slow,
        Fault::Reset,
        Fault::PartialBatch,
        Fault::Aborted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Throttled => "throttled",
            Fault::InternalError => "500",
            Fault::Unavailable => "503",
            Fault::Slow => "slow",
            Fault::Reset => "reset",
            Fault::PartialBatch => "partial batch",
            Fault::Aborted => "aborted",
        }
    }
}

/// What sits behind a proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// An AWS-compatible endpoint (moto, the voice stand-in): faults in each service's protocol.
    Aws,
    /// The local API Gateway: faults as API Gateway answers them (`{"message": …}`).
    Gateway,
}

/// A write that confirms a message as sent, as the proxy saw it.
#[derive(Debug, Clone)]
pub struct Confirm {
    /// The deliveries table's key: `alert#caregiver#channel` (or with `#L<level>#R<round>` for a step).
    pub delivery_key: String,
    pub at: Instant,
    /// The fault it met (`None`: forwarded and answered).
    pub fault: Option<Fault>,
}

/// An invocation dropped at a random point.
#[derive(Debug, Clone)]
pub struct Abort {
    pub function: String,
    pub started: Instant,
    pub at: Instant,
}

#[derive(Debug, Default)]
struct Log {
    faults: BTreeMap<(String, Fault), u64>,
    requests: BTreeMap<String, u64>,
    retries: BTreeMap<String, u64>,
    confirms: Vec<Confirm>,
    aborts: Vec<Abort>,
    /// Per function: how long its invocations usually take (a moving average).
    typical: BTreeMap<String, Duration>,
}

/// The run's chaos: the rate, the seeded generator, and what was injected.
#[derive(Debug)]
pub struct Chaos {
    rate: f64,
    rng: Mutex<fastrand::Rng>,
    log: Mutex<Log>,
}

/// What a run's chaos did (the summary's `chaos` section).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ChaosReport {
    pub rate: f64,
    /// Requests that went through a proxy, per function (retries included).
    pub requests: BTreeMap<String, u64>,
    /// Faults injected per kind.
    pub faults_by_kind: BTreeMap<Fault, u64>,
    /// Faults injected per function and kind ("phones" for the phones' link).
    pub faults_by_function: BTreeMap<String, BTreeMap<Fault, u64>>,
    /// SDK retries seen (requests with `amz-sdk-request: attempt=N`, N > 1), per function.
    pub sdk_retries: BTreeMap<String, u64>,
    /// Invocations dropped at a random point.
    pub invocations_aborted: u64,
}

impl ChaosReport {
    /// Fault kinds that never fired.
    pub fn kinds_missing(&self) -> Vec<Fault> {
        Fault::ALL.into_iter().filter(|k| self.faults_by_kind.get(k).copied().unwrap_or(0) == 0).collect()
    }

    pub fn faults(&self) -> u64 {
        self.faults_by_kind.values().sum()
    }
}

impl Chaos {
    /// Faults at `rate` (0 to 1) per request and per invocation, drawn from `seed`.
    pub fn new(rate: f64, seed: u64) -> Arc<Self> {
        Arc::new(Self {
            rate: rate.clamp(0.0, 1.0),
            rng: Mutex::new(fastrand::Rng::with_seed(seed ^ 0x6368_616f_735f_7631)),
            log: Mutex::default(),
        })
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut self.rng.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A fault for one request, or none; `batch`: a partial failure is possible.
    fn pick(&self, upstream: Upstream, batch: bool) -> Option<Fault> {
        let kinds: &[Fault] = match (upstream, batch) {
            (Upstream::Gateway, _) => &[Fault::InternalError, Fault::Unavailable, Fault::Slow, Fault::Reset],
            (Upstream::Aws, false) => {
                &[Fault::Throttled, Fault::InternalError, Fault::Unavailable, Fault::Slow, Fault::Reset]
            }
            (Upstream::Aws, true) => &[
                Fault::Throttled,
                Fault::InternalError,
                Fault::Unavailable,
                Fault::Slow,
                Fault::Reset,
                Fault::PartialBatch,
            ],
        };
        self.rng(|r| (r.f64() < self.rate).then(|| kinds[r.usize(..kinds.len())]))
    }

    fn count(&self, function: &str, fault: Fault) {
        *self.log().faults.entry((function.to_owned(), fault)).or_default() += 1;
    }

    /// Every confirm write the proxies saw.
    pub fn confirms(&self) -> Vec<Confirm> {
        self.log().confirms.clone()
    }

    /// Every invocation aborted.
    pub fn aborts(&self) -> Vec<Abort> {
        self.log().aborts.clone()
    }

    pub fn report(&self) -> ChaosReport {
        let log = self.log();
        let mut report = ChaosReport {
            rate: self.rate,
            requests: log.requests.clone(),
            sdk_retries: log.retries.clone(),
            invocations_aborted: log.aborts.len() as u64,
            ..ChaosReport::default()
        };
        for ((function, kind), n) in &log.faults {
            *report.faults_by_kind.entry(*kind).or_default() += n;
            *report.faults_by_function.entry(function.clone()).or_default().entry(*kind).or_default() += n;
        }
        report
    }

    /// Runs one invocation of `function` (box a large one: this future holds it);
    /// at the chaos rate it is dropped at a
    /// random point within the function's usual duration (`None`, counted as
    /// [`Fault::Aborted`]). One that finishes before that point is not aborted.
    pub async fn invoke<F: Future>(&self, function: &str, invocation: F) -> Option<F::Output> {
        let typical = self.log().typical.get(function).copied().unwrap_or(Duration::from_millis(50));
        let point = self.rng(|r| (r.f64() < self.rate).then(|| typical.mul_f64(r.f64())));
        let started = Instant::now();
        let output = match point {
            None => invocation.await,
            Some(point) => match tokio::time::timeout(point, invocation).await {
                Ok(output) => output,
                Err(_) => {
                    self.count(function, Fault::Aborted);
                    self.log().aborts.push(Abort { function: function.to_owned(), started, at: Instant::now() });
                    tracing::info!(function, "chaos: invocation aborted");
                    return None;
                }
            },
        };
        let took = started.elapsed();
        let mut log = self.log();
        let typical = log.typical.entry(function.to_owned()).or_insert(took);
        *typical = typical.mul_f64(0.8) + took.mul_f64(0.2);
        Some(output)
    }

    /// `handler` as a mapping's handler whose invocations [`Chaos::invoke`] may
    /// abort; an aborted one is a function error (the mapping retries or bisects).
    pub fn aborting<H: Handler>(self: &Arc<Self>, function: &'static str, handler: H) -> Aborting<H> {
        Aborting { chaos: self.clone(), function, handler }
    }

    /// Starts a proxy for `function` on 127.0.0.1 forwarding to `upstream`
    /// (`http://host:port`); `slow` is how late a [`Fault::Slow`] answer comes
    /// (beyond the caller's timeout). Stops when the [`Proxy`] is dropped.
    pub async fn proxy(
        self: &Arc<Self>,
        function: &str,
        upstream: &str,
        kind: Upstream,
        slow: Duration,
    ) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let route = Arc::new(Route {
            chaos: self.clone(),
            function: function.to_owned(),
            upstream: upstream.trim_end_matches('/').to_owned(),
            kind,
            slow,
            client,
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let route = route.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let route = route.clone();
                        async move { route.handle(request).await }
                    });
                    // A reset is the service's error: the connection closes with no answer.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Proxy { url: format!("http://{addr}"), task })
    }
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    url: String,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Where to point the function's SDK (or the phones).
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A mapping's handler whose invocations may be aborted ([`Chaos::aborting`]).
#[derive(Debug)]
pub struct Aborting<H> {
    chaos: Arc<Chaos>,
    function: &'static str,
    handler: H,
}

/// Why an invocation failed: the handler's error, or chaos.
#[derive(Debug)]
pub enum Invocation<E> {
    Aborted,
    Failed(E),
}

impl<E: std::fmt::Display> std::fmt::Display for Invocation<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Invocation::Aborted => f.write_str("invocation aborted (chaos: a timeout or crash)"),
            Invocation::Failed(e) => e.fmt(f),
        }
    }
}

impl<H: Handler> Handler for Aborting<H> {
    type Error = Invocation<H::Error>;
    async fn call(
        &self,
        event: aws_lambda_events::event::kinesis::KinesisEvent,
    ) -> Result<aws_lambda_events::event::streams::KinesisEventResponse, Self::Error> {
        // Boxed: a function's invocation is a large future, and nesting it inline
        // overflows a thread's stack in debug builds.
        match self.chaos.invoke(self.function, Box::pin(self.handler.call(event))).await {
            None => Err(Invocation::Aborted),
            Some(result) => result.map_err(Invocation::Failed),
        }
    }
}

/// The service and operation of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Service {
    Kinesis,
    DynamoDb,
    Voice,
    /// Any other awsJson service (Secrets Manager).
    Json,
    Sns,
    S3,
    Gateway,
}

#[derive(Debug)]
struct Op {
    service: Service,
    name: String,
}

impl Op {
    fn of(parts: &hyper::http::request::Parts, body: &[u8], kind: Upstream) -> Self {
        if kind == Upstream::Gateway {
            return Op { service: Service::Gateway, name: parts.uri.path().to_owned() };
        }
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        if let Some((prefix, name)) = header("x-amz-target").split_once('.') {
            let service = match prefix {
                p if p.starts_with("Kinesis_") => Service::Kinesis,
                p if p.starts_with("DynamoDB_") => Service::DynamoDb,
                "PinpointSMSVoiceV2" => Service::Voice,
                _ => Service::Json,
            };
            return Op { service, name: name.to_owned() };
        }
        if header("content-type").starts_with("application/x-www-form-urlencoded") {
            let action = form_value(body, "Action").unwrap_or_default();
            return Op { service: Service::Sns, name: action };
        }
        Op { service: Service::S3, name: parts.method.as_str().to_owned() }
    }

    fn is_batch(&self) -> bool {
        matches!(
            (&self.service, self.name.as_str()),
            (Service::Kinesis, "PutRecords") | (Service::DynamoDb, "BatchWriteItem")
        )
    }

    /// Sends a message nobody can take back: never forwarded when its answer is to be lost.
    fn sends_a_message(&self) -> bool {
        matches!((&self.service, self.name.as_str()), (Service::Sns, "Publish") | (Service::Voice, "SendVoiceMessage"))
    }
}

fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The deliveries-table key a DynamoDB UpdateItem confirms as sent, if it is one.
fn confirmed_delivery(op: &Op, body: &[u8]) -> Option<String> {
    if op.service != Service::DynamoDb || op.name != "UpdateItem" {
        return None;
    }
    let v: Value = serde_json::from_slice(body).ok()?;
    (v["ExpressionAttributeValues"][":sent"]["S"] == "sent")
        .then(|| v["Key"]["delivery_key"]["S"].as_str().map(str::to_owned))
        .flatten()
}

struct Route {
    chaos: Arc<Chaos>,
    function: String,
    upstream: String,
    kind: Upstream,
    slow: Duration,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// The answer to a request: a response, or a closed connection.
type Answer = Result<Response<Full<Bytes>>, ChaosReset>;

#[derive(Debug)]
struct ChaosReset;

impl std::fmt::Display for ChaosReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset by chaos")
    }
}

impl std::error::Error for ChaosReset {}

impl Route {
    async fn handle(&self, request: Request<Incoming>) -> Answer {
        let (parts, body) = request.into_parts();
        let Ok(body) = Limited::new(body, MAX_BODY_BYTES).collect().await.map(|b| b.to_bytes()) else {
            return Err(ChaosReset);
        };
        let op = Op::of(&parts, &body, self.kind);
        {
            let mut log = self.chaos.log();
            *log.requests.entry(self.function.clone()).or_default() += 1;
            let attempt = parts
                .headers
                .get("amz-sdk-request")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').find_map(|p| p.trim().strip_prefix("attempt=")?.parse::<u32>().ok()));
            if attempt.is_some_and(|a| a > 1) {
                *log.retries.entry(self.function.clone()).or_default() += 1;
            }
        }
        let fault = self.chaos.pick(self.kind, op.is_batch());
        if let Some(fault) = fault {
            self.chaos.count(&self.function, fault);
            tracing::debug!(function = %self.function, operation = %op.name, fault = fault.as_str(), "chaos: fault injected");
        }
        if let Some(delivery_key) = confirmed_delivery(&op, &body) {
            self.chaos.log().confirms.push(Confirm { delivery_key, at: Instant::now(), fault });
        }
        match fault {
            None => self.forward(&parts, body).await,
            Some(Fault::Reset) => Err(ChaosReset),
            Some(Fault::Slow) => {
                let answer = if op.sends_a_message() { Err(ChaosReset) } else { self.forward(&parts, body).await };
                tokio::time::sleep(self.slow).await;
                answer
            }
            Some(Fault::PartialBatch) => self.partial(&op, &parts, &body).await,
            Some(fault) => Ok(error_response(&op, fault)),
        }
    }

    async fn forward(&self, parts: &hyper::http::request::Parts, body: Bytes) -> Answer {
        let (parts, body) = self.forward_raw(parts, body).await?;
        Ok(Response::from_parts(parts, Full::new(body)))
    }

    /// The upstream's answer to the request, read whole.
    async fn forward_raw(
        &self,
        parts: &hyper::http::request::Parts,
        body: Bytes,
    ) -> Result<(hyper::http::response::Parts, Bytes), ChaosReset> {
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = parts.method.clone();
        *request.headers_mut() = parts.headers.clone();
        *request.uri_mut() = format!("{}{path}", self.upstream).parse().map_err(|_| ChaosReset)?;
        // The body may have changed (a partial batch): hyper sets the length.
        request.headers_mut().remove(hyper::header::CONTENT_LENGTH);
        let response = self.client.request(request).await.map_err(|e| {
            tracing::warn!(function = %self.function, error = %e, "chaos proxy: the upstream did not answer");
            ChaosReset
        })?;
        let (mut parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|_| ChaosReset)?.to_bytes();
        parts.headers.remove(hyper::header::CONTENT_LENGTH);
        parts.headers.remove(hyper::header::TRANSFER_ENCODING);
        Ok((parts, body))
    }

    /// Forwards a random subset of a batch and answers the rest as failed.
    async fn partial(&self, op: &Op, parts: &hyper::http::request::Parts, body: &[u8]) -> Answer {
        let Ok(mut request) = serde_json::from_slice::<Value>(body) else {
            return self.forward(parts, Bytes::copy_from_slice(body)).await;
        };
        match op.service {
            Service::Kinesis => {
                let records = request["Records"].as_array().cloned().unwrap_or_default();
                let failed = self.failed_subset(records.len());
                let kept: Vec<Value> =
                    records.iter().zip(&failed).filter(|(_, f)| !**f).map(|(r, _)| r.clone()).collect();
                let mut answered: Vec<Value> = Vec::new();
                let mut failed_count = 0u64;
                if !kept.is_empty() {
                    request["Records"] = Value::Array(kept);
                    let (head, body) = self.forward_raw(parts, Bytes::from(request.to_string())).await?;
                    if head.status != StatusCode::OK {
                        return Ok(Response::from_parts(head, Full::new(body)));
                    }
                    let out = json_body(&body);
                    failed_count += out["FailedRecordCount"].as_u64().unwrap_or(0);
                    answered = out["Records"].as_array().cloned().unwrap_or_default();
                }
                let mut answered = answered.into_iter();
                let records: Vec<Value> = failed
                    .iter()
                    .map(|f| {
                        if *f {
                            failed_count += 1;
                            json!({"ErrorCode": "ProvisionedThroughputExceededException",
                                   "ErrorMessage": "Rate exceeded for shard in stream under account 000000000000."})
                        } else {
                            answered.next().unwrap_or(Value::Null)
                        }
                    })
                    .collect();
                let out = json!({"FailedRecordCount": failed_count, "Records": records});
                Ok(json_response(StatusCode::OK, "application/x-amz-json-1.1", &out))
            }
            Service::DynamoDb => {
                let items = request["RequestItems"].as_object().cloned().unwrap_or_default();
                let total = items.values().map(|v| v.as_array().map_or(0, Vec::len)).sum();
                let mut failed = self.failed_subset(total).into_iter();
                let (mut kept, mut held) = (serde_json::Map::new(), serde_json::Map::new());
                for (table, writes) in items {
                    for write in writes.as_array().cloned().unwrap_or_default() {
                        let into = if failed.next().unwrap_or(false) { &mut held } else { &mut kept };
                        let list = into.entry(table.clone()).or_insert_with(|| Value::Array(Vec::new()));
                        if let Value::Array(list) = list {
                            list.push(write);
                        }
                    }
                }
                let mut out = json!({"UnprocessedItems": {}});
                if !kept.is_empty() {
                    request["RequestItems"] = Value::Object(kept);
                    let (head, body) = self.forward_raw(parts, Bytes::from(request.to_string())).await?;
                    if head.status != StatusCode::OK {
                        return Ok(Response::from_parts(head, Full::new(body)));
                    }
                    out = json_body(&body);
                }
                for (table, writes) in held {
                    let list = &mut out["UnprocessedItems"][&table];
                    if !list.is_array() {
                        *list = Value::Array(Vec::new());
                    }
                    if let (Value::Array(list), Value::Array(writes)) = (list, writes) {
                        list.extend(writes);
                    }
                }
                Ok(json_response(StatusCode::OK, "application/x-amz-json-1.0", &out))
            }
            _ => self.forward(parts, Bytes::copy_from_slice(body)).await,
        }
    }

    /// Which of `n` batch entries fail: each with even odds, at least one.
    fn failed_subset(&self, n: usize) -> Vec<bool> {
        self.chaos.rng(|r| {
            let mut failed: Vec<bool> = (0..n).map(|_| r.bool()).collect();
            if n > 0 && !failed.contains(&true) {
                failed[r.usize(..n)] = true;
            }
            failed
        })
    }
}

fn json_body(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn json_response(status: StatusCode, content_type: &'static str, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    headers.insert("x-amzn-requestid", hyper::header::HeaderValue::from_static("chaos-0000"));
    response
}

fn xml_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/xml"));
    headers.insert("x-amz-request-id", hyper::header::HeaderValue::from_static("chaos-0000"));
    response
}

/// A fault as the service answers it.
fn error_response(op: &Op, fault: Fault) -> Response<Full<Bytes>> {
    let status = match fault {
        Fault::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Fault::Throttled if op.service == Service::S3 => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    match op.service {
        Service::Gateway => {
            let message =
                if status == StatusCode::SERVICE_UNAVAILABLE { "Service Unavailable" } else { "Internal Server Error" };
            json_response(status, "application/json", &json!({"message": message}))
        }
        Service::Kinesis | Service::DynamoDb | Service::Voice | Service::Json => {
            let code = match (fault, &op.service) {
                (Fault::Throttled, Service::Kinesis | Service::DynamoDb) => "ProvisionedThroughputExceededException",
                (Fault::Throttled, _) => "ThrottlingException",
                (Fault::InternalError, Service::DynamoDb) => "InternalServerError",
                (Fault::InternalError, Service::Voice) => "InternalServerException",
                (Fault::InternalError, _) => "InternalFailure",
                _ => "ServiceUnavailable",
            };
            let (content_type, code) = match op.service {
                Service::DynamoDb => ("application/x-amz-json-1.0", format!("com.amazonaws.dynamodb.v20120810#{code}")),
                Service::Voice => ("application/x-amz-json-1.0", code.to_owned()),
                _ => ("application/x-amz-json-1.1", code.to_owned()),
            };
            json_response(
                status,
                content_type,
                &json!({"__type": code, "message": "Rate exceeded or service error (chaos)"}),
            )
        }
        Service::Sns => {
            let (kind, code) = match fault {
                Fault::Throttled => ("Sender", "Throttling"),
                Fault::InternalError => ("Receiver", "InternalFailure"),
                _ => ("Receiver", "ServiceUnavailable"),
            };
            xml_response(
                status,
                format!(
                    "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>{kind}</Type>\
                     <Code>{code}</Code><Message>Rate exceeded</Message></Error><RequestId>chaos-0000</RequestId></ErrorResponse>"
                ),
            )
        }
        Service::S3 => {
            let code = match fault {
                Fault::Throttled => "SlowDown",
                Fault::InternalError => "InternalError",
                _ => "ServiceUnavailable",
            };
            xml_response(
                status,
                format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
                     <Message>Please reduce your request rate.</Message><RequestId>chaos-0000</RequestId></Error>"
                ),
            )
        }
    }
}
