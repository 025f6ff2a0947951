//! Each function's deployment facts, declared once in `functions/<name>/function.json`:
//! its environment (resources, settings with their defaults, and what each means),
//! trigger (HTTP routes, Kinesis event source mapping, schedule, SNS topic), timeout, memory and
//! reserved concurrency. The CDK app deploys from these files, `vigil run` runs the
//! functions with them, and `docs/functions.md` is rendered from them; tests fail when
//! the stack, a function's configuration code or the docs disagree with them.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;

use crate::esm::{EventSourceMapping, StartingPosition};

/// Every function's declaration, by crate name, compiled in.
pub const FUNCTIONS: [(&str, &str); 10] = [
    ("ingest-api", include_str!("../../../functions/ingest-api/function.json")),
    ("care-api", include_str!("../../../functions/care-api/function.json")),
    ("alert-processor", include_str!("../../../functions/alert-processor/function.json")),
    ("raw-archiver", include_str!("../../../functions/raw-archiver/function.json")),
    ("vitals-writer", include_str!("../../../functions/vitals-writer/function.json")),
    ("offline-detector", include_str!("../../../functions/offline-detector/function.json")),
    ("warehouse-loader", include_str!("../../../functions/warehouse-loader/function.json")),
    ("ack-link", include_str!("../../../functions/ack-link/function.json")),
    ("sms-reply", include_str!("../../../functions/sms-reply/function.json")),
    ("daily-summary", include_str!("../../../functions/daily-summary/function.json")),
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Declaration {
    pub description: String,
    pub timeout_secs: u32,
    pub memory_mb: u32,
    pub reserved_concurrency: Concurrency,
    pub environment: BTreeMap<String, Variable>,
    pub trigger: Trigger,
}

/// Reserved concurrency: a stack setting, a multiple of the stream's shards, or fixed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Concurrency {
    pub setting: Option<String>,
    pub per_shard: Option<u32>,
    pub fixed: Option<u32>,
    pub why: Option<String>,
}

/// One environment variable the function's configuration code reads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// The stack resource whose name or ARN the variable carries.
    pub resource: Option<String>,
    /// A setting's value when unset; the stack sets it to this value explicitly.
    pub default: Option<String>,
    /// Given only in local runs (the stack never sets it).
    #[serde(default)]
    pub local: bool,
    /// Set by nobody by default.
    #[serde(default)]
    pub optional: bool,
    pub meaning: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum Trigger {
    Http(HttpTrigger),
    Kinesis(KinesisTrigger),
    Schedule(ScheduleTrigger),
    Sns(SnsTrigger),
}

/// Routes of the HTTP API, and whose tokens they take.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpTrigger {
    pub users: Users,
    /// `METHOD /path`, path parameters in braces: `GET /v1/wearers/{wearer_id}`.
    pub routes: Vec<String>,
}

/// Who signs in to a route: each is its own app client, and a route takes only its own users' tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Users {
    /// The wearer's phone app.
    App,
    /// Caregivers.
    Caregivers,
    /// No sign-in: the route checks its own credential, e.g. a signed link.
    Public,
}

/// A Kinesis event source mapping, in Lambda's terms.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KinesisTrigger {
    pub batch_size: usize,
    pub max_batching_window_secs: u64,
    pub retry_attempts: i32,
    pub max_record_age_hours: u32,
    pub bisect_batch_on_error: bool,
    pub parallelization_factor: u32,
    pub starting_position: String,
    /// Read through a dedicated (enhanced fan-out) consumer, which pushes records as
    /// they arrive, instead of polling the shared throughput about once a second.
    #[serde(default)]
    pub enhanced_fan_out: bool,
}

/// How soon a record reaches a mapping after it was put: AWS documents about 70 ms
/// on average for an enhanced fan-out consumer; a shared-throughput mapping polls
/// each shard about once a second.
const EFO_PROPAGATION: Duration = Duration::from_millis(70);
const SHARED_POLL: Duration = Duration::from_secs(1);

/// An EventBridge schedule.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleTrigger {
    pub rate_minutes: u32,
    pub retry_attempts: u32,
    pub max_event_age_minutes: u32,
    /// The stack setting that may override `rate_minutes`.
    pub setting: Option<String>,
    pub why: Option<String>,
}

/// An SNS topic subscription: Lambda is invoked asynchronously, once per message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnsTrigger {
    /// The stack resource of the topic.
    pub topic: String,
    /// Lambda's retries of a failed asynchronous invocation (0 to 2).
    pub retry_attempts: u32,
    pub why: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum DeclarationError {
    #[error("no function named {0} is declared")]
    Unknown(String),
    #[error("functions/{name}/function.json: {source}")]
    Invalid { name: String, source: serde_json::Error },
}

impl Declaration {
    /// The declaration of the function `name` (its crate name).
    pub fn of(name: &str) -> Result<Self, DeclarationError> {
        let (_, text) =
            FUNCTIONS.iter().find(|(n, _)| *n == name).ok_or_else(|| DeclarationError::Unknown(name.to_owned()))?;
        serde_json::from_str(text).map_err(|source| DeclarationError::Invalid { name: name.to_owned(), source })
    }

    /// The declared timeout: the local runner invokes the function under it.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.into())
    }

    /// The declared timeout of the function `name`; Lambda's longest (15 min) if none is
    /// declared (the declarations are compiled in and tested, so only a typo gets there).
    pub fn timeout_of(name: &str) -> Duration {
        Self::of(name).map_or(Duration::from_secs(900), |d| d.timeout())
    }

    /// The Kinesis trigger, if the function has one.
    pub fn kinesis(&self) -> Option<&KinesisTrigger> {
        match &self.trigger {
            Trigger::Kinesis(k) => Some(k),
            _ => None,
        }
    }

    /// The HTTP routes, if the function has them.
    pub fn http(&self) -> Option<&HttpTrigger> {
        match &self.trigger {
            Trigger::Http(h) => Some(h),
            _ => None,
        }
    }

    /// The schedule, if the function has one.
    pub fn schedule(&self) -> Option<&ScheduleTrigger> {
        match &self.trigger {
            Trigger::Schedule(s) => Some(s),
            _ => None,
        }
    }

    /// The SNS subscription, if the function has one.
    pub fn sns(&self) -> Option<&SnsTrigger> {
        match &self.trigger {
            Trigger::Sns(s) => Some(s),
            _ => None,
        }
    }
}

impl KinesisTrigger {
    /// The mapping as deployed, on a clock running `speed` times real time: the batching
    /// window and the pause between polls (about once a second on shared throughput,
    /// [`EFO_PROPAGATION`] through an enhanced fan-out consumer) are divided by `speed`,
    /// the poll down to 50 ms, so a simulated second stays a second of the fleet's time.
    /// Everything else, the parallelization factor included, is as declared. This is the
    /// one place local runs differ from the deployed mapping.
    pub fn mapping(&self, stream: &str, speed: f64) -> EventSourceMapping {
        let speed = speed.max(1.0);
        EventSourceMapping {
            batch_size: self.batch_size,
            maximum_batching_window: Duration::from_secs(self.max_batching_window_secs).div_f64(speed),
            starting_position: match self.starting_position.as_str() {
                "LATEST" => StartingPosition::Latest,
                _ => StartingPosition::TrimHorizon,
            },
            maximum_retry_attempts: self.retry_attempts,
            bisect_batch_on_function_error: self.bisect_batch_on_error,
            poll_interval: if self.enhanced_fan_out { EFO_PROPAGATION } else { SHARED_POLL }
                .div_f64(speed)
                .max(Duration::from_millis(50)),
            parallelization_factor: self.parallelization_factor as usize,
            ..EventSourceMapping::new(stream)
        }
    }
}

/// `docs/functions.md`, rendered from every declaration.
pub fn render_markdown() -> Result<String, DeclarationError> {
    let mut out = String::from(
        "# Functions: what each is deployed with\n\n\
         Rendered from `functions/<name>/function.json` by `UPDATE_DOCS=1 cargo test -p vigil-local \
         --lib declaration`; do not edit by hand. The CDK app (`infra/lib/declarations.ts`), its \
         stack tests, `vigil run` and each function's configuration tests read the same files.\n\n\
         `vigil run` uses each Kinesis mapping as declared, with the batching window and the poll \
         interval divided by the simulated clock's speed (`KinesisTrigger::mapping` in \
         `crates/vigil-local/src/declaration.rs`).\n",
    );
    for (name, _) in FUNCTIONS {
        let d = Declaration::of(name)?;
        let c = &d.reserved_concurrency;
        let concurrency = match (&c.setting, c.per_shard, c.fixed) {
            (Some(setting), _, _) => format!("the stack setting `{setting}`"),
            (_, Some(n), _) => {
                format!("{n} per concurrent batch of each stream shard (shards × parallelization × {n})")
            }
            (_, _, Some(n)) => format!("{n}{}", c.why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()),
            _ => "none".to_owned(),
        };
        let _ = write!(
            out,
            "\n## {name}\n\n{}.\n\n- timeout {} s, memory {} MB, reserved concurrency {concurrency}\n",
            d.description, d.timeout_secs, d.memory_mb
        );
        let _ = match &d.trigger {
            Trigger::Http(http) => {
                let users = match http.users {
                    Users::App => "the app's tokens",
                    Users::Caregivers => "caregivers' tokens",
                    Users::Public => "public: no sign-in, the function checks its own credential",
                };
                writeln!(out, "- trigger: HTTP API ({users}): {}", http.routes.join(", "))
            }
            Trigger::Kinesis(k) => writeln!(
                out,
                "- trigger: Kinesis event source mapping on the readings stream: batch {}, window {} s, \
                 {} retries, records older than {} h to the failure destination, bisect on error {}, \
                 parallelization {}, from {}, {}, batch item failures reported",
                k.batch_size,
                k.max_batching_window_secs,
                k.retry_attempts,
                k.max_record_age_hours,
                k.bisect_batch_on_error,
                k.parallelization_factor,
                k.starting_position,
                if k.enhanced_fan_out { "through its own enhanced fan-out consumer" } else { "shared throughput" }
            ),
            Trigger::Schedule(s) => writeln!(
                out,
                "- trigger: EventBridge schedule every {} min{}, {} async retries, events older than {} min dropped{}",
                s.rate_minutes,
                s.setting.as_deref().map(|x| format!(" (stack setting `{x}`)")).unwrap_or_default(),
                s.retry_attempts,
                s.max_event_age_minutes,
                s.why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
            ),
            Trigger::Sns(s) => writeln!(
                out,
                "- trigger: SNS subscription to the topic `{}`, {} async retries{}",
                s.topic,
                s.retry_attempts,
                s.why.as_deref().map(|w| format!(" ({w})")).unwrap_or_default()
            ),
        };
        out.push_str("\n| variable | value | meaning |\n|---|---|---|\n");
        for (var, v) in &d.environment {
            let value = match (&v.resource, &v.default) {
                (Some(resource), _) => format!("resource `{resource}`"),
                (_, Some(default)) => format!("`{default}`"),
                _ if v.local => "local runs only".to_owned(),
                _ => "unset".to_owned(),
            };
            let _ = writeln!(out, "| `{var}` | {value} | {} |", v.meaning);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn every_function_crate_is_declared_and_every_declaration_reads() {
        let mut crates: Vec<String> = std::fs::read_dir(repo().join("functions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("Cargo.toml").exists())
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        crates.sort();
        let mut declared: Vec<String> = FUNCTIONS.iter().map(|(n, _)| (*n).to_owned()).collect();
        declared.sort();
        assert_eq!(crates, declared);
        for (name, _) in FUNCTIONS {
            let d = Declaration::of(name).unwrap();
            for (var, v) in &d.environment {
                let kinds = [v.resource.is_some(), v.default.is_some(), v.local, v.optional];
                assert_eq!(
                    kinds.iter().filter(|k| **k).count(),
                    1,
                    "{name} {var}: one of resource, default, local, optional"
                );
                assert!(!v.meaning.is_empty(), "{name} {var} says what it means");
            }
        }
        assert!(matches!(Declaration::of("nope"), Err(DeclarationError::Unknown(_))));
    }

    #[test]
    fn local_mapping_is_the_declared_one_on_a_faster_clock() {
        let k = Declaration::of("raw-archiver").unwrap().kinesis().cloned().unwrap();
        let real = k.mapping("s", 1.0);
        assert_eq!(real.batch_size, k.batch_size);
        assert_eq!(real.maximum_batching_window, Duration::from_secs(k.max_batching_window_secs));
        assert_eq!(real.maximum_retry_attempts, k.retry_attempts);
        assert_eq!(real.bisect_batch_on_function_error, k.bisect_batch_on_error);
        assert_eq!(real.poll_interval, Duration::from_secs(1));
        let fast = k.mapping("s", 60.0);
        assert_eq!(fast.batch_size, k.batch_size);
        assert_eq!(fast.maximum_batching_window, real.maximum_batching_window / 60);
        assert_eq!(fast.poll_interval, Duration::from_millis(50));
        // The alert path reads through its own consumer: records arrive pushed, not polled.
        let alerts = Declaration::of("alert-processor").unwrap().kinesis().cloned().unwrap();
        assert!(alerts.enhanced_fan_out && !k.enhanced_fan_out);
        assert_eq!(alerts.mapping("s", 1.0).poll_interval, Duration::from_millis(70));
        assert_eq!(alerts.mapping("s", 1.0).maximum_batching_window, Duration::ZERO);
    }

    /// docs/functions.md is what the declarations say; `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn docs_are_rendered_from_the_declarations() {
        let path = repo().join("docs/functions.md");
        let rendered = render_markdown().unwrap();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &rendered).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == rendered,
            "docs/functions.md is stale: run UPDATE_DOCS=1 cargo test -p vigil-local --lib declaration"
        );
    }
}
