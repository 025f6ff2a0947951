//! vigil-run's integration tests: one test binary, so the SDK and the crate are linked once
//! instead of once per file (each link is tens of MB of disk and seconds of CI).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

mod ack_link;
mod backfill;
mod bench_cold;
mod canary;
mod care;
mod chaos;
mod cost;
mod days;
mod declarations;
mod erase;
mod fleet;
mod hostile_stream;
mod hostile_uploads;
mod redrive;
mod registry;
mod replay;
mod run;
mod schemathesis;
