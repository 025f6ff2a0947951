//! What every Vigil function shares besides the domain and the AWS adapters: its
//! configuration from the process environment, its metrics as CloudWatch EMF lines and,
//! for the Kinesis stream functions, the batch loop's edges (decoding with poison
//! quarantined, answering `batchItemFailures`), and the invocation's time budget
//! ([`Deadline`]) every request path runs under.

pub mod deadline;
#[cfg(feature = "http")]
pub mod http;
pub mod logging;
pub mod metrics;
pub mod stream;

pub use deadline::{Deadline, Expired};
pub use metrics::{Metrics, Pool};

/// The process environment, where a Lambda's configuration comes from.
#[derive(Debug, Clone, Copy)]
pub struct ProcessEnv;

impl vigil_domain::config::Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}
