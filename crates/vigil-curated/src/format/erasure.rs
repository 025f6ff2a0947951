//! Erasure in the curated data set: a curated file (readings or alerts) rewritten
//! without one wearer's rows, in the same schema and with the same writer settings,
//! so the loader and the warehouse read it as before.

use arrow_array::{Array, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::{CuratedError, reader, snappy, writer_properties};
use crate::pseudonym::Pseudonym;

/// What [`without_wearer`] found in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtered {
    /// The wearer's rows in the file.
    pub removed: usize,
    /// Every other row, kept in file order.
    pub kept: usize,
    /// The file without the wearer's rows; `None` when there was nothing to remove
    /// (the file stays as it is). When `kept` is 0 the caller deletes the file instead.
    pub body: Option<Vec<u8>>,
}

/// The rows of `body` whose `wearer_pseudonym` is `wearer` (a cheap check before
/// [`without_wearer`], and the verification's test).
pub fn wearer_rows(body: impl Into<Bytes>, wearer: &Pseudonym) -> Result<usize, CuratedError> {
    let mut count = 0;
    for batch in reader(body)?.build()? {
        let batch = batch?;
        count += matches(&batch, wearer)?.iter().filter(|m| **m).count();
    }
    Ok(count)
}

/// `body` (a curated Parquet file of either kind) without the rows of `wearer`.
pub fn without_wearer(body: impl Into<Bytes>, wearer: &Pseudonym) -> Result<Filtered, CuratedError> {
    let body = body.into();
    let builder = reader(body.clone())?;
    let schema = builder.schema().clone();
    // The readings' settings for readings files; the alerts' (Snappy, defaults) otherwise.
    let properties: WriterProperties =
        if schema.column_with_name("reading_key").is_some() { writer_properties() } else { snappy().build() };
    let mut writer = ArrowWriter::try_new(Vec::new(), schema, Some(properties))?;
    let (mut removed, mut kept) = (0, 0);
    for batch in builder.build()? {
        let batch = batch?;
        let drop = matches(&batch, wearer)?;
        // Runs of kept rows are written as slices: no copy, order kept.
        let mut start = None;
        for (i, gone) in drop.iter().chain(std::iter::once(&true)).enumerate() {
            match (gone, start) {
                (false, None) => start = Some(i),
                (true, Some(s)) => {
                    writer.write(&batch.slice(s, i - s))?;
                    kept += i - s;
                    start = None;
                }
                _ => {}
            }
        }
        removed += drop.iter().filter(|d| **d).count();
    }
    if removed == 0 {
        return Ok(Filtered { removed, kept, body: None });
    }
    Ok(Filtered { removed, kept, body: Some(writer.into_inner()?) })
}

/// Per row: whether it is `wearer`'s.
fn matches(batch: &RecordBatch, wearer: &Pseudonym) -> Result<Vec<bool>, CuratedError> {
    let column = batch
        .column_by_name("wearer_pseudonym")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| arrow_schema::ArrowError::SchemaError("no wearer_pseudonym column of strings".into()))?;
    Ok((0..column.len()).map(|i| column.is_valid(i) && column.value(i) == wearer.as_str()).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;
    use crate::{CuratedWriter, Pseudonymizer};
    use chrono::{TimeZone, Utc};
    use vigil_domain::envelope::Envelope;
    use vigil_domain::reading::Reading;

    fn file(pseudonymizer: &Pseudonymizer, wearers: &[&str]) -> Vec<u8> {
        let mut writer = CuratedWriter::new();
        for (i, w) in wearers.iter().enumerate() {
            let ts = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap() + chrono::Duration::seconds(5 * i as i64);
            let envelope = Envelope {
                v: 1,
                batch_id: "b".into(),
                part: 0,
                parts: 1,
                device_id: format!("band-{w}"),
                wearer_id: (*w).into(),
                app_version: "1".into(),
                received_at: ts,
                readings: Vec::new(),
            };
            let reading: Reading = serde_json::from_value(serde_json::json!({
                "ts": ts.to_rfc3339(), "seq": i, "heart_rate_bpm": 60 + i
            }))
            .unwrap();
            writer.push(&pseudonymizer.row(&envelope, &reading)).unwrap();
        }
        writer.finish().unwrap().remove(0).body
    }

    #[test]
    fn a_wearers_rows_are_removed_and_the_others_kept_in_order() {
        let p = Pseudonymizer::new(&[7u8; 32]).unwrap();
        let body = file(&p, &["a", "b", "b", "a", "c", "b"]);
        let gone = p.wearer("b");
        assert_eq!(wearer_rows(body.clone(), &gone).unwrap(), 3);
        let out = without_wearer(body.clone(), &gone).unwrap();
        assert_eq!((out.removed, out.kept), (3, 3));
        let rewritten = out.body.unwrap();
        assert_eq!(wearer_rows(rewritten.clone(), &gone).unwrap(), 0);
        assert_eq!(wearer_rows(rewritten.clone(), &p.wearer("a")).unwrap(), 2);
        assert_eq!(wearer_rows(rewritten.clone(), &p.wearer("c")).unwrap(), 1);
        // Same schema as the writer's.
        assert_eq!(reader(rewritten).unwrap().schema().as_ref(), crate::readings_schema().as_ref());
        // Nothing of an absent wearer: no rewrite.
        assert_eq!(without_wearer(body, &p.wearer("z")).unwrap().body, None);
    }
}
