//! The functions' log lines, as `lambda_runtime`'s default subscriber writes them
//! (no time, no target, no colours; JSON when Lambda's log format is JSON), set up without its
//! `tracing` feature: that one filters with tracing-subscriber's `EnvFilter`, which
//! links a regular-expression engine into every function for directives Vigil never
//! writes. A [`Targets`] filter reads the same settings:
//!
//! - `AWS_LAMBDA_LOG_LEVEL` (Lambda's advanced logging controls; the stack sets
//!   `INFO`): the level of every line;
//! - `RUST_LOG` (`info`, `warn,vigil_aws=debug`): the level, when Lambda sets none,
//!   and levels per module;
//! - neither: `INFO`.
//!
//! `AWS_LAMBDA_LOG_FORMAT=JSON` (the stack's setting) writes one JSON object a line.

use std::str::FromStr;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// The filter for Lambda's level (`INFO`, `FATAL`…) and `RUST_LOG`'s directives; what
/// cannot be read is left out, and the level is then `INFO`.
fn filter(lambda_level: Option<&str>, rust_log: Option<&str>) -> Targets {
    let directives = rust_log.and_then(|s| Targets::from_str(s).ok()).unwrap_or_default();
    // Lambda's levels are the log crate's plus FATAL, which tracing has not.
    let lambda = lambda_level.map(|l| if l.eq_ignore_ascii_case("fatal") { "error" } else { l });
    match lambda.and_then(|l| LevelFilter::from_str(l).ok()) {
        Some(level) => directives.with_default(level),
        None if directives.default_level().is_none() => directives.with_default(LevelFilter::INFO),
        None => directives,
    }
}

/// The subscriber for these settings, writing to `writer`.
fn subscriber<W>(
    lambda_level: Option<&str>,
    rust_log: Option<&str>,
    json: bool,
    writer: W,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = filter(lambda_level, rust_log);
    // No colours: CloudWatch shows escape codes as they are.
    let lines = tracing_subscriber::fmt().with_target(false).without_time().with_ansi(false).with_writer(writer);
    if json { Box::new(lines.json().finish().with(filter)) } else { Box::new(lines.finish().with(filter)) }
}

/// Sets the process's subscriber from its environment, writing to stdout (each
/// function's `main`, once).
pub fn init() {
    let var = |name| std::env::var(name).ok();
    let json = var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json"));
    let subscriber =
        subscriber(var("AWS_LAMBDA_LOG_LEVEL").as_deref(), var("RUST_LOG").as_deref(), json, std::io::stdout);
    // Only a second call finds one set; the first stays.
    let _ = tracing::subscriber::set_global_default(subscriber);
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing::Level;

    use super::*;

    fn enabled(f: &Targets, target: &str, level: Level) -> bool {
        f.would_enable(target, &level)
    }

    #[test]
    fn lambdas_level_wins_and_rust_log_refines_a_module() {
        let f = filter(Some("WARN"), Some("info,vigil_aws=debug"));
        assert!(!enabled(&f, "ingest_api", Level::INFO));
        assert!(enabled(&f, "ingest_api", Level::WARN));
        assert!(enabled(&f, "vigil_aws::sdk", Level::DEBUG));
    }

    #[test]
    fn rust_log_sets_the_level_when_lambda_sets_none() {
        let f = filter(None, Some("debug"));
        assert!(enabled(&f, "ingest_api", Level::DEBUG));
        assert!(!enabled(&f, "ingest_api", Level::TRACE));
    }

    #[test]
    fn info_without_settings_or_with_unreadable_ones() {
        for (lambda, rust_log) in [(None, None), (Some("loud"), Some("==")), (None, Some("vigil_aws=debug"))] {
            let f = filter(lambda, rust_log);
            assert!(enabled(&f, "ingest_api", Level::INFO), "{lambda:?} {rust_log:?}");
            assert!(!enabled(&f, "ingest_api", Level::DEBUG), "{lambda:?} {rust_log:?}");
        }
    }

    #[test]
    fn fatal_is_errors_only() {
        let f = filter(Some("FATAL"), None);
        assert!(enabled(&f, "x", Level::ERROR));
        assert!(!enabled(&f, "x", Level::WARN));
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(json: bool) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = subscriber(Some("INFO"), None, json, move || writer.clone());
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(batch = 3, "batch done");
            tracing::debug!("left out");
        });
        let bytes = buffer.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8(bytes).unwrap_or_default()
    }

    #[test]
    fn json_lines_carry_the_level_and_the_fields_and_nothing_below_the_level() {
        let out = lines(true);
        let mut lines = out.lines();
        let line: serde_json::Value = serde_json::from_str(lines.next().unwrap_or_default()).unwrap_or_default();
        assert_eq!(line["level"], "INFO", "{out}");
        assert_eq!(line["fields"]["message"], "batch done", "{out}");
        assert_eq!(line["fields"]["batch"], 3, "{out}");
        assert!(line.get("target").is_none() && line.get("timestamp").is_none(), "{out}");
        assert_eq!(lines.next(), None, "{out}");
    }

    #[test]
    fn text_lines_otherwise() {
        let out = lines(false);
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("INFO") && out.contains("batch done") && out.contains("batch=3"), "{out}");
        assert!(!out.trim_start().starts_with('{'), "{out}");
    }
}
