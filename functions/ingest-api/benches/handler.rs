//! CPU cost of the ingest handler (parse, validate, authorize from a warm cache,
//! encode the envelope, build the response) beside `serde_json::from_slice::<Value>`
//! of the same body, for a 12-reading upload (one minute) and a 720-reading upload
//! (an hour buffered). I/O is excluded: the publisher discards records.
//!
//! Besides criterion's report, prints `ratio handler/parse: X.XX` per size, the
//! median of interleaved rounds, so machine noise hits both sides alike.

#![allow(clippy::unwrap_used, reason = "a benchmark fails loudly on a broken fixture")]

use std::hint::black_box;
use std::time::Duration;

use chrono::{DateTime, Utc};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use ingest_api::Ingest;
use lambda_http::aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayRequestAuthorizerJwtDescription, ApiGatewayV2httpRequestContext,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde_json::{Value, json};
use vigil_domain::alerts::Thresholds;
use vigil_domain::cache::CachedDirectory;
use vigil_domain::ports::{
    DeviceDirectory, DirectoryError, PublishError, PublishReport, RecordPublisher, StoreError, StreamRecord,
    WearerLimits,
};
use vigil_domain::registry::DeviceLink;
use vigil_testkit::bench_batch::interleaved;

struct Discard;
impl RecordPublisher for Discard {
    async fn publish(&self, records: Vec<StreamRecord>, _: Duration) -> Result<PublishReport, PublishError> {
        black_box(records);
        Ok(PublishReport { calls: 1, resent: 0 })
    }
}

struct OneDevice(DeviceLink);
impl DeviceDirectory for OneDevice {
    async fn device(&self, id: &str) -> Result<Option<DeviceLink>, DirectoryError> {
        Ok((id == self.0.device_id).then(|| self.0.clone()))
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z").unwrap().with_timezone(&Utc)
}

/// A realistic upload: what the app sends every minute, or after an hour offline.
fn body(n: usize) -> Vec<u8> {
    let readings: Vec<Value> = (0..n)
        .map(|i| {
            let ts = now() - chrono::Duration::seconds(5 * (n - i) as i64);
            json!({
                "ts": ts.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                "seq": 1_000_000 + i,
                "heart_rate_bpm": 60 + (i % 40),
                "spo2_pct": 94 + (i % 5),
                "skin_temp_c": 33.5,
                "steps": i % 12,
                "activity": "light",
                "worn": true,
                "battery_pct": 80
            })
        })
        .collect();
    serde_json::to_vec(&json!({
        "device_id": "band-0001",
        "batch_id": "8a1f0c52-6b1e-4f7a-9d7c-1b2a3c4d5e6f",
        "app_version": "1.4.2",
        "readings": readings
    }))
    .unwrap()
}

fn context() -> RequestContext {
    let mut jwt = ApiGatewayRequestAuthorizerJwtDescription::default();
    jwt.claims.insert("sub".into(), "app-user-1".into());
    let mut authorizer = ApiGatewayRequestAuthorizer::default();
    authorizer.jwt = Some(jwt);
    let mut ctx = ApiGatewayV2httpRequestContext::default();
    ctx.authorizer = Some(authorizer);
    RequestContext::ApiGatewayV2(ctx)
}

fn request(body: &[u8], ctx: &RequestContext) -> Request {
    let mut req = Request::new(Body::from(body.to_vec()));
    *req.method_mut() = lambda_http::http::Method::POST;
    *req.uri_mut() = "/v1/uploads".parse().unwrap();
    req.headers_mut().insert("content-type", "application/json".parse().unwrap());
    req.with_request_context(ctx.clone())
}

type Handler = Ingest<Discard, CachedDirectory<OneDevice>, DefaultLimits>;

/// Every wearer has the default limits, at once.
struct DefaultLimits;

impl WearerLimits for DefaultLimits {
    async fn limits(&self, _: &str) -> Result<Option<Thresholds>, StoreError> {
        Ok(Some(Thresholds::default()))
    }
}

fn handler() -> Handler {
    let link = DeviceLink {
        device_id: "band-0001".into(),
        wearer_id: "wearer-42".into(),
        app_users: vec!["app-user-1".into()],
        time_zone: "Europe/Madrid".into(),
    };
    Ingest {
        publisher: Discard,
        directory: CachedDirectory::new(OneDevice(link), Duration::from_secs(3600), Duration::from_secs(10)),
        limits: DefaultLimits,
        upload: Default::default(),
        publish_budget: Duration::from_secs(5),
    }
}

fn run_handler(rt: &tokio::runtime::Runtime, h: &Handler, body: &[u8], ctx: &RequestContext) {
    let (response, metrics) = rt.block_on(h.process(request(body, ctx), now()));
    assert_eq!(response.status(), 202);
    black_box((response, metrics));
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let h = handler();
    let ctx = context();
    let mut group = c.benchmark_group("ingest");
    for n in [12usize, 720] {
        let body = body(n);
        run_handler(&rt, &h, &body, &ctx); // warm the registry cache
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new("handler", n), &body, |b, body| {
            b.iter(|| run_handler(&rt, &h, body, &ctx))
        });
        group.bench_with_input(BenchmarkId::new("serde_json_value", n), &body, |b, body| {
            b.iter(|| black_box(serde_json::from_slice::<Value>(body).unwrap()))
        });
    }
    group.finish();
}

/// Median over interleaved rounds of (handler time / parse time).
fn ratios() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
    let h = handler();
    let ctx = context();
    for n in [12usize, 720] {
        let body = body(n);
        run_handler(&rt, &h, &body, &ctx);
        let iters = if n < 100 { 2_000 } else { 40 };
        let rounds = interleaved(
            21,
            || (0..iters).for_each(|_| run_handler(&rt, &h, &body, &ctx)),
            || (0..iters).for_each(|_| drop(black_box(serde_json::from_slice::<Value>(&body).unwrap()))),
        );
        let per_upload = Duration::from_secs_f64(rounds.best / f64::from(iters));
        println!(
            "ingest {n:>3} readings ({} bytes): handler {:.1} µs/upload, {:.0} readings/s/core; ratio handler/parse: {:.2}",
            body.len(),
            per_upload.as_secs_f64() * 1e6,
            n as f64 / per_upload.as_secs_f64(),
            rounds.ratio
        );
    }
}

criterion_group!(benches, bench);

vigil_testkit::bench_main!(ratios(); benches);
