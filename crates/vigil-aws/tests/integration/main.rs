//! vigil-aws's integration tests: one test binary, so the SDK and the crate are linked once
//! instead of once per file (each link is tens of MB of disk and seconds of CI).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

mod alert_adapters_mocks;
mod alert_adapters_moto;
mod kinesis_mocks;
mod retention_moto;
#[cfg(feature = "voice")]
mod sdk_env;
mod secrets_moto;
#[cfg(feature = "voice")]
mod voice_local;
#[cfg(feature = "voice")]
mod voice_mocks;

/// The whole error chain as text, to check nothing personal leaks into it.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" | {cause} {cause:?}"));
        source = cause.source();
    }
    text
}
