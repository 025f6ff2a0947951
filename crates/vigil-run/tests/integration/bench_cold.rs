//! `vigil bench-cold`'s stand-in of the Lambda Runtime API, driven by the real
//! `lambda_runtime` client: this test binary started again as a child process, running
//! [`lambda_child`] with Lambda's environment, as the bench starts a function's binary;
//! and every function starting from the environment the bench gives it.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};
use serde_json::{Value, json};
use vigil_local::provision::Resources;
use vigil_run::bench_cold::{self, Invocation, Observed, RuntimeApi};
use vigil_run::pipeline::Env;

/// The child's test name, as libtest filters it.
const CHILD: &str = "bench_cold::lambda_child";

/// A Lambda function on the real runtime client: it answers its invocation's context and
/// event, or fails when the event asks it to.
#[tokio::test]
#[ignore = "the Lambda side of the stand-in's tests: they start it as a child process with Lambda's environment"]
async fn lambda_child() {
    assert!(std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some(), "started only by the tests below");
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        if event.payload["fail"] == json!(true) {
            return Err(lambda_runtime::Error::from("asked to fail"));
        }
        Ok(json!({
            "request_id": event.context.request_id,
            "deadline": event.context.deadline,
            "arn": event.context.invoked_function_arn,
            "trace": event.context.xray_trace_id,
            "event": event.payload,
        }))
    }))
    .await
    .unwrap();
}

fn child() -> tokio::process::Command {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command.args([CHILD, "--exact", "--ignored", "--nocapture"]).env_clear().envs([
        ("AWS_LAMBDA_FUNCTION_NAME", "echo"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
    ]);
    command
}

fn log(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.log", vigil_local::endpoint::unique_name(name)))
}

#[tokio::test]
async fn a_real_runtime_gets_its_invocation_with_lambdas_headers_and_its_response_is_recorded() {
    let api = RuntimeApi::start().await.unwrap();
    let invocation = Invocation::new("echo", r#"{"hello":"world"}"#, Duration::from_secs(12));
    let deadline_ms = invocation.deadline.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let (id, arn, trace) =
        (invocation.request_id.clone(), invocation.function_arn.clone(), invocation.trace_id.clone());
    let log = log("bench-echo");

    let outcome = bench_cold::run_process(child(), api, Some(invocation), Duration::from_secs(60), &log)
        .await
        .unwrap_or_else(|e| panic!("{e}: {}", std::fs::read_to_string(&log).unwrap_or_default()));

    let body: Value = serde_json::from_slice(&outcome.body).unwrap();
    assert_eq!(body["request_id"], json!(id));
    assert_eq!(body["deadline"], json!(deadline_ms));
    assert_eq!(body["arn"], json!(arn));
    assert_eq!(body["trace"], json!(trace));
    assert_eq!(body["event"], json!({"hello": "world"}));
    assert!(id.len() == 36 && arn.ends_with(":function:echo") && trace.starts_with("Root=1-"));
    let run = outcome.run;
    assert!(run.init_ms > 0.0 && run.init_ms < 60_000.0, "{run:?}");
    assert!(run.first_invocation_ms.is_some_and(|ms| ms > 0.0 && ms < 60_000.0), "{run:?}");
    assert!(run.peak_rss_kb > 1024, "a process of more than 1 MiB: {run:?}");
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn an_invocation_error_is_a_failure_not_a_figure() {
    let api = RuntimeApi::start().await.unwrap();
    let invocation = Invocation::new("echo", r#"{"fail":true}"#, Duration::from_secs(12));
    let log = log("bench-fail");
    let err = bench_cold::run_process(child(), api, Some(invocation), Duration::from_secs(60), &log).await.unwrap_err();
    assert!(err.starts_with("its first invocation failed: "), "{err}");
    assert!(!err.ends_with("no error type"), "the runtime's error type is recorded: {err}");
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn with_no_invocation_only_init_is_measured() {
    let api = RuntimeApi::start().await.unwrap();
    let log = log("bench-init");
    let outcome = bench_cold::run_process(child(), api, None, Duration::from_secs(60), &log).await.unwrap();
    let run = outcome.run;
    assert!(run.first_invocation_ms.is_none() && run.init_ms > 0.0 && run.peak_rss_kb > 1024, "{run:?}");
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn a_process_that_exits_during_init_is_a_failure() {
    let api = RuntimeApi::start().await.unwrap();
    // The runtime panics without AWS_LAMBDA_FUNCTION_NAME: it never asks for an invocation.
    let mut command = child();
    command.env_remove("AWS_LAMBDA_FUNCTION_NAME");
    let invocation = Invocation::new("echo", "{}", Duration::from_secs(12));
    let log = log("bench-exit");
    let err = bench_cold::run_process(command, api, Some(invocation), Duration::from_secs(60), &log).await.unwrap_err();
    assert!(err.contains("exited") && err.contains("before answering"), "{err}");
    let _ = std::fs::remove_file(log);
}

#[tokio::test]
async fn next_waits_for_an_invocation_and_errors_are_recorded_as_lambda_takes_them() {
    let mut api = RuntimeApi::start().await.unwrap();
    let base = format!("http://{}/2018-06-01/runtime", api.address());
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).http_status_as_error(false).build(),
    );
    let call = |method: &'static str, url: String, error_type: Option<&'static str>| {
        let agent = agent.clone();
        tokio::task::spawn_blocking(move || {
            let mut response = if method == "GET" {
                agent.get(&url).call()
            } else {
                let mut request = agent.post(&url);
                if let Some(t) = error_type {
                    request = request.header("Lambda-Runtime-Function-Error-Type", t);
                }
                request.send(r#"{"errorType":"x","errorMessage":"y"}"#)
            }
            .unwrap();
            let headers: Vec<(String, String)> = response
                .headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                .collect();
            (response.status().as_u16(), headers, response.body_mut().read_to_string().unwrap_or_default())
        })
    };

    // A long poll: nothing is answered until an invocation is queued.
    let poll = call("GET", format!("{base}/invocation/next"), None);
    assert!(matches!(api.observed().await, Some(Observed::Next { .. })));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!poll.is_finished(), "GET /next answered with nothing queued");
    let invocation = Invocation::new("echo", r#"{"n":1}"#, Duration::from_secs(3));
    let id = invocation.request_id.clone();
    api.invoke(invocation);
    let (status, headers, body) = poll.await.unwrap();
    assert_eq!((status, body.as_str()), (200, r#"{"n":1}"#));
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(header("lambda-runtime-aws-request-id"), Some(id.clone()));
    let deadline: u128 = header("lambda-runtime-deadline-ms").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    assert!(deadline > now && deadline <= now + 3_000, "{deadline} vs {now}");
    assert!(header("lambda-runtime-invoked-function-arn").is_some() && header("lambda-runtime-trace-id").is_some());
    assert!(matches!(api.observed().await, Some(Observed::Handed { request_id, .. }) if request_id == id));

    let (status, _, _) = call("POST", format!("{base}/invocation/{id}/error"), Some("Handler.Failed")).await.unwrap();
    assert_eq!(status, 202);
    match api.observed().await {
        Some(Observed::Error { request_id, error_type, body, .. }) => {
            assert_eq!((request_id, error_type.as_deref()), (id, Some("Handler.Failed")));
            assert!(body.starts_with(b"{\"errorType\""));
        }
        other => panic!("{other:?}"),
    }
    let (status, _, _) = call("POST", format!("{base}/init/error"), Some("Runtime.ConfigInvalid")).await.unwrap();
    assert_eq!(status, 202);
    assert!(matches!(
        api.observed().await,
        Some(Observed::InitError { error_type: Some(t), .. }) if t == "Runtime.ConfigInvalid"
    ));
    let (status, _, _) = call("GET", format!("{base}/invocation/someone/response"), None).await.unwrap();
    assert_eq!(status, 404);
    let (status, _, _) = call("POST", format!("{base}/invocation/"), None).await.unwrap();
    assert_eq!(status, 404);
}

/// Each function's own `build` (what its `main` calls at init) accepts the environment the
/// bench gives its binary: a cold start is never timed on a function that cannot start.
#[tokio::test]
async fn every_function_starts_from_the_environment_the_bench_gives_it() {
    let sdk = vigil_local::endpoint::require().await;
    let bench_env = bench_cold::environment(&Resources::unique("bench-start")).unwrap();
    for name in bench_cold::ORDER {
        let vars = bench_cold::function_environment(name, &bench_env, "127.0.0.1:1").unwrap();
        crate::declarations::build(name, &Env(vars), &sdk)
            .await
            .unwrap_or_else(|e| panic!("{name} does not start on the bench's environment: {e}"));
    }
}
