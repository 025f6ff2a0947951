//! sms-reply's integration tests: one test binary, so the SDK and the crate are linked once.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

mod moto;
mod stalled;
