//! The raw archive: every record of a batch exactly as it came off the stream,
//! one gzip NDJSON object per batch (key: `vigil_curated::raw_key`).
//!
//! # Line format
//!
//! One line per record, in stream order, `\n`-terminated, UTF-8:
//!
//! ```text
//! {"shard_id":"shardId-000000000001","sequence_number":"4965…1202","partition_key":"wearer-42","approximate_arrival":"2026-11-22T10:00:00.900Z","data":{"v":1,…}}
//! {"shard_id":"shardId-000000000001","sequence_number":"4965…7378","partition_key":"wearer-42","approximate_arrival":"2026-11-22T10:00:01.250Z","data_base64":"3q0gbm90IGpzb24="}
//! ```
//!
//! - `shard_id`, `sequence_number`, `partition_key`: the record's position and
//!   key as Lambda gave them (strings).
//! - `approximate_arrival`: when the record reached the stream, RFC 3339 UTC
//!   with milliseconds (Kinesis' own precision).
//! - `data`: the record's bytes **verbatim**, when they are one JSON value on
//!   one line with no leading or trailing whitespace (every envelope is). A
//!   parser that keeps raw values (e.g. serde_json's `RawValue`) gives back the
//!   exact bytes; a plain parser gives the same JSON value.
//! - `data_base64`: otherwise (poison, pretty-printed JSON, binary), the bytes
//!   in standard base64 with padding. Exactly one of `data` and `data_base64` is
//!   present.
//!
//! The gzip header is fixed (mtime 0, no file name, OS "unknown") and the
//! compression level is a constant, so the same batch gives the same bytes on
//! every delivery with the same build. A batch that Lambda retries from a later
//! record or splits gets a new key: replay deduplicates on
//! (`shard_id`, `sequence_number`).

use std::io::Write;

use aws_lambda_events::event::kinesis::KinesisRecord;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::SecondsFormat;
use flate2::write::GzEncoder;
use flate2::{Compression, GzBuilder};
use serde_json::value::RawValue;

/// zlib level 2 (zlib-rs' fast strategy). Measured on the bench's batch
/// (22.8 MB of NDJSON): level 2 gives 1.87 MB in ~90 ms, 4 gives 1.49 MB in
/// ~150 ms, 6 gives 1.21 MB in ~265 ms. Compression is the largest part of the
/// encoding time, and a few hundred KB per 120k readings cost nothing once
/// the archive moves to a cold storage class, so the level keeps the encoder
/// well above its throughput target instead.
pub const GZIP_LEVEL: u32 = 2;

/// Streams records into a gzip NDJSON body: each line is built in one reused
/// buffer and compressed at once, so the batch is never held uncompressed.
pub struct RawWriter {
    gz: GzEncoder<Vec<u8>>,
    line: Vec<u8>,
    records: usize,
}

impl std::fmt::Debug for RawWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawWriter").field("records", &self.records).finish_non_exhaustive()
    }
}

impl Default for RawWriter {
    fn default() -> Self {
        Self::new()
    }
}

/// The gzip encoder of archive objects: no timestamp and no OS in the header, so
/// the same lines always give the same bytes (an erasure's rewrite too).
pub fn gzip_encoder() -> GzEncoder<Vec<u8>> {
    GzBuilder::new().mtime(0).operating_system(255).write(Vec::new(), Compression::new(GZIP_LEVEL))
}

impl RawWriter {
    pub fn new() -> Self {
        Self { gz: gzip_encoder(), line: Vec::with_capacity(4096), records: 0 }
    }

    /// Appends one record. `known_json`: the bytes already parsed as JSON (they
    /// decoded as an envelope), so they need no second check.
    pub fn push(&mut self, shard_id: &str, record: &KinesisRecord, known_json: bool) -> std::io::Result<()> {
        let line = &mut self.line;
        line.clear();
        line.extend_from_slice(b"{\"shard_id\":");
        serde_json::to_writer(&mut *line, shard_id)?;
        line.extend_from_slice(b",\"sequence_number\":");
        serde_json::to_writer(&mut *line, &record.sequence_number)?;
        line.extend_from_slice(b",\"partition_key\":");
        serde_json::to_writer(&mut *line, &record.partition_key)?;
        line.extend_from_slice(b",\"approximate_arrival\":\"");
        line.extend_from_slice(
            record.approximate_arrival_timestamp.0.to_rfc3339_opts(SecondsFormat::Millis, true).as_bytes(),
        );
        let data = &record.data.0;
        if embeddable(data, known_json) {
            line.extend_from_slice(b"\",\"data\":");
            line.extend_from_slice(data);
        } else {
            line.extend_from_slice(b"\",\"data_base64\":\"");
            let start = line.len();
            line.resize(start + base64::encoded_len(data.len(), true).unwrap_or(0), 0);
            let written = STANDARD.encode_slice(data, &mut line[start..]).map_err(std::io::Error::other)?;
            line.truncate(start + written);
            line.push(b'"');
        }
        line.extend_from_slice(b"}\n");
        self.gz.write_all(line)?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// The finished gzip body.
    pub fn finish(self) -> std::io::Result<Vec<u8>> {
        self.gz.finish()
    }
}

/// Whether `data` can stand verbatim as the `data` value of a line: one JSON
/// value, on one line, without surrounding whitespace (which a raw-value
/// parser would not give back).
pub fn embeddable(data: &[u8], known_json: bool) -> bool {
    let (Some(first), Some(last)) = (data.first(), data.last()) else {
        return false;
    };
    let space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r');
    if space(first) || space(last) || data.iter().any(|b| matches!(b, b'\n' | b'\r')) {
        return false;
    }
    known_json || serde_json::from_slice::<&RawValue>(data).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_line_json_without_surrounding_space_is_embedded() {
        assert!(embeddable(br#"{"v":1}"#, false));
        assert!(embeddable(b"[1,2]", false));
        assert!(embeddable(br#""a\nb""#, false), "an escaped newline is fine");
        for bad in [&b""[..], b" {}", b"{} ", b"{\n}", b"{\r}", b"{", b"{}{}", b"\xff", b"nul"] {
            assert!(!embeddable(bad, false), "{bad:?}");
        }
        // Known JSON skips the parse but not the line checks.
        assert!(!embeddable(b"{\n}", true));
    }
}
