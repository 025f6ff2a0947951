//! Reading the raw archive back (`vigil replay`, `vigil redrive`): the objects of
//! a window of hours, listed with the SDK's paginator under each hour's prefix
//! (docs/storage.md), and their records. The line format is described at the top
//! of `functions/raw-archiver/src/raw.rs`.

use std::cmp::Ordering;
use std::io::Read;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Timelike, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

/// One archived record: the stream record as raw-archiver received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivedRecord {
    pub shard_id: String,
    pub sequence_number: String,
    pub partition_key: String,
    pub approximate_arrival: DateTime<Utc>,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("listing s3://{bucket}/{prefix}")]
    List {
        bucket: String,
        prefix: String,
        #[source]
        source: Box<aws_sdk_s3::Error>,
    },
    #[error("reading s3://{bucket}/{key}")]
    Get {
        bucket: String,
        key: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("s3://{bucket}/{key} is not gzip text")]
    Gzip {
        bucket: String,
        key: String,
        #[source]
        source: std::io::Error,
    },
    #[error("s3://{bucket}/{key}, line {line}: {message}")]
    Line { bucket: String, key: String, line: usize, message: String },
}

/// A line as raw-archiver writes it; exactly one of `data` and `data_base64`.
#[derive(Deserialize)]
struct Line<'a> {
    shard_id: String,
    sequence_number: String,
    partition_key: String,
    approximate_arrival: DateTime<Utc>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
    data_base64: Option<String>,
}

/// Parses one archive line back into the record's exact bytes.
pub fn parse_line(line: &str) -> Result<ArchivedRecord, String> {
    let parsed: Line<'_> = serde_json::from_str(line).map_err(|e| format!("not an archive line: {e}"))?;
    let data = match (parsed.data, parsed.data_base64) {
        (Some(raw), None) => raw.get().as_bytes().to_vec(),
        (None, Some(b64)) => STANDARD.decode(b64).map_err(|e| format!("data_base64 is not base64: {e}"))?,
        _ => return Err("a line needs exactly one of data and data_base64".to_owned()),
    };
    Ok(ArchivedRecord {
        shard_id: parsed.shard_id,
        sequence_number: parsed.sequence_number,
        partition_key: parsed.partition_key,
        approximate_arrival: parsed.approximate_arrival,
        data,
    })
}

/// Orders sequence numbers (decimal strings of up to 128 bits, no leading zeros) as numbers.
pub fn sequence_order(a: &str, b: &str) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The archive's hour prefixes (`raw/dt=…/hh=…/`) from the hour of `from` to the hour
/// of `to`, both included.
pub fn hour_prefixes(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<String> {
    let mut hour = from.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0));
    let mut prefixes = Vec::new();
    while let Some(h) = hour.filter(|h| *h <= to) {
        prefixes.push(format!("raw/dt={}/hh={}/", h.format("%Y-%m-%d"), h.format("%H")));
        hour = h.checked_add_signed(TimeDelta::hours(1));
    }
    prefixes
}

/// An archive object's text: raw-archiver writes gzip (one member; several are read too).
pub fn gunzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(body).read_to_end(&mut text)?;
    Ok(text)
}

/// The raw archive of one bucket.
#[derive(Debug, Clone)]
pub struct RawArchive {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl RawArchive {
    /// `client` from `vigil_aws::sdk::s3` (path-style on emulators).
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// Every object key under `prefix`, in key order.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, ArchiveError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| ArchiveError::List {
                bucket: self.bucket.clone(),
                prefix: prefix.to_owned(),
                source: Box::new(e.into()),
            })?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
        }
        Ok(keys)
    }

    /// The keys of the objects dated in the hours from `from` to `to`.
    pub async fn keys_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<String>, ArchiveError> {
        let mut keys = Vec::new();
        for prefix in hour_prefixes(from, to) {
            keys.extend(self.keys(&prefix).await?);
        }
        Ok(keys)
    }

    /// The records of one object, in its order.
    pub async fn records(&self, key: &str) -> Result<Vec<ArchivedRecord>, ArchiveError> {
        let get_error = |source: Box<dyn std::error::Error + Send + Sync>| ArchiveError::Get {
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            source,
        };
        let object = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| get_error(Box::new(aws_sdk_s3::Error::from(e))))?;
        let bytes = object.body.collect().await.map_err(|e| get_error(Box::new(e)))?.into_bytes();
        let text = gunzip(&bytes)
            .and_then(|text| String::from_utf8(text).map_err(std::io::Error::other))
            .map_err(|source| ArchiveError::Gzip { bucket: self.bucket.clone(), key: key.to_owned(), source })?;
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.is_empty())
            .map(|(i, line)| {
                parse_line(line).map_err(|message| ArchiveError::Line {
                    bucket: self.bucket.clone(),
                    key: key.to_owned(),
                    line: i + 1,
                    message,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_give_back_the_exact_bytes_either_way() {
        let json = r#"{"shard_id":"shardId-000000000001","sequence_number":"49","partition_key":"wearer-42","approximate_arrival":"2026-11-22T10:00:00.900Z","data":{"v":1, "x":[1,2]}}"#;
        let record = parse_line(json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(record.data, br#"{"v":1, "x":[1,2]}"#);
        assert_eq!(record.partition_key, "wearer-42");
        assert_eq!(record.approximate_arrival.timestamp_subsec_millis(), 900);
        let b64 = r#"{"shard_id":"s","sequence_number":"1","partition_key":"p","approximate_arrival":"2026-11-22T10:00:00Z","data_base64":"3q0gbm90IGpzb24="}"#;
        assert_eq!(parse_line(b64).map(|r| r.data), Ok(b"\xde\xad not json".to_vec()));
    }

    #[test]
    fn a_bad_line_says_what_is_wrong() {
        let both = r#"{"shard_id":"s","sequence_number":"1","partition_key":"p","approximate_arrival":"2026-11-22T10:00:00Z","data":1,"data_base64":"AA=="}"#;
        assert!(parse_line(both).is_err_and(|e| e.contains("exactly one")));
        assert!(parse_line("{").is_err_and(|e| e.contains("not an archive line")));
    }

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert_eq!(sequence_order("9", "10"), Ordering::Less);
        assert_eq!(sequence_order("495", "495"), Ordering::Equal);
        assert_eq!(sequence_order("496", "495"), Ordering::Greater);
    }

    #[test]
    fn hour_prefixes_cover_the_window_across_midnight() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).map(|t| t.with_timezone(&Utc)).unwrap_or_default();
        assert_eq!(
            hour_prefixes(at("2026-11-22T22:59:00Z"), at("2026-11-23T00:00:00Z")),
            ["raw/dt=2026-11-22/hh=22/", "raw/dt=2026-11-22/hh=23/", "raw/dt=2026-11-23/hh=00/"]
        );
        assert!(hour_prefixes(at("2026-11-22T10:00:00Z"), at("2026-11-22T09:00:00Z")).is_empty());
    }
}
