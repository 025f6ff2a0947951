//! The operators' commands: `vigil replay`, `vigil redrive`, `vigil erase`,
//! `vigil backfill-check-index`, `vigil devices …` and `vigil wearers …`. Each works against AWS, or against the
//! local endpoint the same way when AWS_ENDPOINT_URL is set (docs/operating.md).

/// Reading the raw archive back (replay, redrive; any command that reads `raw/`).
pub mod archive;
pub mod backfill;
pub mod erase;
pub mod redrive;
pub mod registry;
pub mod replay;
