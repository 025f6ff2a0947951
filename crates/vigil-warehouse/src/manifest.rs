//! The COPY manifest: exactly the files of one load, so Redshift never reads a
//! file the loader did not choose (a prefix would pick up files still pending
//! elsewhere, or already loaded).
//!
//! ```json
//! {"entries": [{"url": "s3://bucket/curated/readings/dt=2026-11-22/….parquet",
//!               "mandatory": true, "meta": {"content_length": 4321}}]}
//! ```
//!
//! `mandatory` makes COPY fail rather than skip a missing file (the files stay
//! pending, nothing is half loaded); `content_length` is required by COPY for
//! columnar formats such as Parquet.

use std::hash::{Hash, Hasher};

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::{FileKind, PendingFile};

/// The manifest's JSON for `files` in `bucket`.
pub fn manifest(bucket: &str, files: &[PendingFile]) -> Vec<u8> {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|f| {
            json!({
                "url": format!("s3://{bucket}/{}", f.key),
                "mandatory": true,
                "meta": {"content_length": f.bytes},
            })
        })
        .collect();
    json!({ "entries": entries }).to_string().into_bytes()
}

/// A name for one load attempt: the run's time, the kind and a digest of the
/// file keys, so two runs in the same millisecond never share a manifest.
pub fn run_id(now: DateTime<Utc>, kind: FileKind, files: &[PendingFile]) -> String {
    // FNV-1a: stable across builds, unlike std's hasher seeds; no crypto needed.
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for b in bytes {
                self.0 ^= u64::from(*b);
                self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    for f in files {
        f.key.hash(&mut h);
    }
    format!("{}-{}-{:016x}", now.format("%Y%m%dT%H%M%S%.3fZ"), kind.as_str(), h.finish())
}

/// Where a load's manifest goes: `<prefix><kind>/<run id>.manifest`.
pub fn manifest_key(prefix: &str, kind: FileKind, run_id: &str) -> String {
    format!("{prefix}{}/{run_id}.manifest", kind.as_str())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use chrono::{NaiveDate, TimeZone};

    fn file(key: &str, bytes: u64) -> PendingFile {
        PendingFile {
            key: key.into(),
            kind: FileKind::Readings,
            event_date: NaiveDate::from_ymd_opt(2026, 11, 22).unwrap(),
            rows: 3,
            bytes,
            created_at: Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn the_manifest_lists_exactly_the_files_as_mandatory_with_their_sizes() {
        let files = [
            file("curated/readings/dt=2026-11-22/a.parquet", 10),
            file("curated/readings/dt=2026-11-21/b.parquet", 20),
        ];
        let doc: serde_json::Value = serde_json::from_slice(&manifest("data", &files)).unwrap();
        assert_eq!(
            doc,
            json!({"entries": [
                {"url": "s3://data/curated/readings/dt=2026-11-22/a.parquet", "mandatory": true, "meta": {"content_length": 10}},
                {"url": "s3://data/curated/readings/dt=2026-11-21/b.parquet", "mandatory": true, "meta": {"content_length": 20}},
            ]})
        );
    }

    #[test]
    fn run_ids_depend_on_time_kind_and_files_and_nothing_else() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
        let a = [file("k/a", 1)];
        let b = [file("k/b", 1)];
        let id = run_id(now, FileKind::Readings, &a);
        assert!(id.starts_with("20261122T100000.000Z-readings-"), "{id}");
        assert_eq!(id, run_id(now, FileKind::Readings, &a));
        assert_ne!(id, run_id(now, FileKind::Readings, &b));
        assert_eq!(manifest_key("manifests/", FileKind::Alerts, "r1"), "manifests/alerts/r1.manifest");
    }
}
