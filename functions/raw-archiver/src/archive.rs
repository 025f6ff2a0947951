//! One batch encoded for storage, with no I/O but the quarantine of poison:
//! the raw archive of every record and the curated files of its readings.
//!
//! The batch is consumed a chunk of records at a time: each chunk is decoded
//! (poison quarantined), written to the raw archive and to the curated files,
//! and dropped, so the records, their decoded envelopes and the outputs are
//! never all in memory at once.

use std::collections::{HashMap, HashSet};

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{DateTime, Utc};
use vigil_curated::{CuratedError, CuratedRow, CuratedWriter, Pseudonymizer, curated_key, raw_key};
use vigil_domain::ports::{CuratedFile, Quarantine};
use vigil_lambda::stream::{decode_batch, position};

use crate::raw::RawWriter;

/// Records decoded at a time: about 2 MB of envelopes, and their readings.
pub const CHUNK_RECORDS: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("writing the raw archive")]
    Raw(#[from] std::io::Error),
    #[error(transparent)]
    Curated(#[from] CuratedError),
}

/// The raw archive object of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawObject {
    pub key: String,
    pub body: Vec<u8>,
}

/// A curated file and its registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CuratedObject {
    pub file: CuratedFile,
    pub body: Vec<u8>,
}

/// A batch ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub raw: RawObject,
    /// One per event date, by date.
    pub curated: Vec<CuratedObject>,
    pub records: usize,
    /// Readings in the decoded envelopes, duplicates included.
    pub readings: usize,
    /// Readings left out because the batch had them already (same reading id).
    pub duplicates: usize,
    pub poison: usize,
    /// Envelopes the fast path declined (see `vigil_lambda::stream::Batch::decoded_slowly`).
    pub decoded_slowly: usize,
    /// Poison records whose quarantine failed: to report for retry.
    pub unquarantined: Vec<String>,
    pub newest_arrival: Option<DateTime<Utc>>,
}

impl Archive {
    /// Rows in the curated files.
    pub fn curated_rows(&self) -> usize {
        self.curated.iter().map(|c| c.file.rows).sum()
    }
}

/// Encodes `event` (consumed). `None` for an empty batch. `now` dates the
/// curated files' registration.
pub async fn encode<Q: Quarantine + Sync>(
    mut event: KinesisEvent,
    function: &str,
    pseudonymizer: &Pseudonymizer,
    quarantine: &Q,
    now: DateTime<Utc>,
) -> Result<Option<Archive>, EncodeError> {
    let records = std::mem::take(&mut event.records);
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Ok(None);
    };
    let first_position = position(first);
    let shard_id = first_position.shard_id.to_owned();
    let first_seq = first_position.sequence_number.to_owned();
    let last_seq = last.kinesis.sequence_number.clone();
    let key = raw_key(&shard_id, &first_seq, &last_seq, first_position.arrival);

    let mut archive = Archive {
        raw: RawObject { key, body: Vec::new() },
        curated: Vec::new(),
        records: records.len(),
        readings: 0,
        duplicates: 0,
        poison: 0,
        decoded_slowly: 0,
        unquarantined: Vec::new(),
        newest_arrival: None,
    };
    let mut raw = RawWriter::new();
    let mut curated = CuratedWriter::new();
    // The readings curated so far, as seqs per device: a reading id is a
    // function of (device, seq), so this is exactly the set of reading ids, in
    // many small sets that reuse the heap the batch's records are freed into,
    // rather than one large table growing by doubling beside it.
    let mut seen: HashMap<String, HashSet<u64>> = HashMap::new();
    let mut records = records.into_iter();
    loop {
        let mut chunk = KinesisEvent::default();
        chunk.records = records.by_ref().take(CHUNK_RECORDS).collect();
        if chunk.records.is_empty() {
            break;
        }
        let batch = decode_batch(&chunk, function, quarantine).await;
        archive.poison += batch.poison;
        archive.decoded_slowly += batch.decoded_slowly;
        archive.unquarantined.extend(batch.failed.iter().map(|s| (*s).to_owned()));
        archive.newest_arrival = archive.newest_arrival.max(batch.newest_arrival);

        // Stream order; `decoded` is the subsequence of records that decoded, and
        // each borrows its record's sequence number, so identity tells which.
        let mut decoded = batch.decoded.iter().peekable();
        for record in &chunk.records {
            let sequence_number = record.kinesis.sequence_number.as_str();
            let is_envelope = decoded.next_if(|d| std::ptr::eq(d.position.sequence_number, sequence_number)).is_some();
            raw.push(position(record).shard_id, &record.kinesis, is_envelope)?;
        }

        for d in &batch.decoded {
            let envelope = &d.envelope;
            archive.readings += envelope.readings.len();
            let wearer = pseudonymizer.wearer(&envelope.wearer_id);
            let device_seen = seen.entry(envelope.device_id.clone()).or_default();
            for reading in &envelope.readings {
                if !device_seen.insert(reading.seq) {
                    archive.duplicates += 1;
                    continue;
                }
                let key = pseudonymizer.reading(envelope.reading_id(reading));
                curated.push(&CuratedRow::new(key, wearer, envelope, reading))?;
            }
        }
    }

    archive.raw.body = raw.finish()?;
    archive.curated = curated
        .finish()?
        .into_iter()
        .map(|f| CuratedObject {
            file: CuratedFile {
                key: curated_key(f.event_date, &shard_id, &first_seq, &last_seq),
                event_date: f.event_date,
                rows: f.rows,
                bytes: f.body.len(),
                min_ts: f.min_ts,
                max_ts: f.max_ts,
                created_at: now,
            },
            body: f.body,
        })
        .collect();
    Ok(Some(archive))
}
