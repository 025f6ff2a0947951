//! care-api's integration tests: one test binary, so the SDK and the crate are linked once
//! instead of once per file (each link is tens of MB of disk and seconds of CI).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

mod days;
mod openapi;
mod stalled;
