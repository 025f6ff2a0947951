//! The Kinesis record envelope: defined once, here, and decoded by every stream
//! function. One upload becomes one envelope, or several when it would not fit
//! one record; all of them go to the stream under the wearer's partition key,
//! so a wearer's readings stay in order on one shard.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::reading::Reading;
use crate::upload::Upload;

pub mod canonical;

/// The envelope format this code writes. Decoders reject other versions.
pub const ENVELOPE_VERSION: u32 = 1;

/// Kinesis takes at most 1 MiB of data plus partition key per record; keep a
/// margin for the key.
pub const MAX_RECORD_BYTES: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// Envelope format version, [`ENVELOPE_VERSION`].
    pub v: u32,
    /// The app's idempotency key for the upload.
    pub batch_id: String,
    /// 0-based part of the upload, when it had to be split across records.
    pub part: u32,
    /// How many parts the upload was split into.
    pub parts: u32,
    pub device_id: String,
    /// The wearer the device is registered to, resolved at ingest time.
    pub wearer_id: String,
    pub app_version: String,
    /// When ingest accepted the upload (processing time, not event time).
    pub received_at: DateTime<Utc>,
    pub readings: Vec<Reading>,
}

/// Which decoder read a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoder {
    /// [`canonical`]: ingest's own layout.
    FastPath,
    /// serde_json: any other valid envelope.
    Serde,
}

/// Why a stream record is not a usable envelope. Such a record is poison: retrying
/// it cannot help, so stream functions quarantine it. Its `Display` may quote the
/// record (serde_json names the value it could not read): keep it out of logs and
/// log [`DecodeError::kind`] instead.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("record is not an envelope: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("envelope version {0} is not supported (expected {ENVELOPE_VERSION})")]
    Version(u32),
    /// Longer than any envelope ingest writes ([`MAX_RECORD_BYTES`]); not decoded.
    #[error("record of {0} bytes is over the envelope limit of {MAX_RECORD_BYTES} bytes")]
    TooLarge(usize),
    /// A reading `seq` twice in one envelope: ingest drops such copies, so this
    /// record was not written by ingest.
    #[error("seq {0} appears twice in the envelope")]
    RepeatedSeq(u64),
}

impl DecodeError {
    /// What went wrong, without any of the record's content: for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(e) if e.is_syntax() || e.is_eof() => "not_json",
            Self::Malformed(_) => "not_an_envelope",
            Self::Version(_) => "unsupported_version",
            Self::TooLarge(_) => "too_large",
            Self::RepeatedSeq(_) => "repeated_seq",
        }
    }
}

impl Envelope {
    /// Decodes one stream record: ingest's own layout by the [`canonical`] fast
    /// path, anything else (and every error) by serde_json.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        Self::decode_by(data).map(|(envelope, _)| envelope)
    }

    /// [`Self::decode`], saying which decoder read the record: stream functions
    /// count records the fast path declined, which should be none but for
    /// envelopes written by another version of ingest.
    pub fn decode_by(data: &[u8]) -> Result<(Self, Decoder), DecodeError> {
        if data.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::TooLarge(data.len()));
        }
        match canonical::decode(data) {
            Some(envelope) => envelope.supported().map(|e| (e, Decoder::FastPath)),
            None => Self::decode_serde(data).map(|e| (e, Decoder::Serde)),
        }
    }

    /// [`Self::decode`] by serde_json alone, the decoder of record (public so
    /// tests and benchmarks can hold the fast path to it).
    pub fn decode_serde(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::TooLarge(data.len()));
        }
        match serde_json::from_slice::<crate::reading::MapOnly<Envelope>>(data) {
            Ok(crate::reading::MapOnly(envelope)) => envelope.supported(),
            // A newer envelope may have fields this one lacks: say it is the version.
            Err(err) => match serde_json::from_slice::<VersionOnly>(data) {
                Ok(VersionOnly { v }) if v != ENVELOPE_VERSION => Err(DecodeError::Version(v)),
                _ => Err(err.into()),
            },
        }
    }

    /// The envelope, if this code reads its version and it repeats no seq.
    fn supported(self) -> Result<Self, DecodeError> {
        if self.v != ENVELOPE_VERSION {
            return Err(DecodeError::Version(self.v));
        }
        // Phones send seqs counting up: then no copy is needed to see none repeats.
        if self.readings.windows(2).all(|w| w[0].seq < w[1].seq) {
            return Ok(self);
        }
        let mut seqs: Vec<u64> = self.readings.iter().map(|r| r.seq).collect();
        seqs.sort_unstable();
        match seqs.windows(2).find(|w| w[0] == w[1]) {
            Some(w) => Err(DecodeError::RepeatedSeq(w[0])),
            None => Ok(self),
        }
    }

    /// The deterministic id of one of this envelope's readings.
    pub fn reading_id(&self, reading: &Reading) -> ReadingId {
        ReadingId::new(&self.device_id, reading.seq)
    }

    /// The partition key: the wearer, so one wearer's readings stay ordered on one shard.
    pub fn partition_key(&self) -> &str {
        &self.wearer_id
    }
}

/// Any JSON object's `v`, to name the version of an envelope this code cannot read.
#[derive(Deserialize)]
struct VersionOnly {
    v: u32,
}

/// Splits an accepted upload into envelopes, encoded, each within
/// [`MAX_RECORD_BYTES`]. Deterministic for the same upload and `received_at`.
pub fn encode_envelopes(
    upload: &Upload,
    wearer_id: &str,
    received_at: DateTime<Utc>,
) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    let mut chunks: Vec<&[Reading]> = vec![&upload.readings];
    // Halve any chunk that does not fit until all do. One reading is a few
    // hundred bytes, so this ends long before a chunk gets empty.
    loop {
        let encoded = encode_chunks(upload, wearer_id, received_at, &chunks)?;
        let too_big: Vec<usize> =
            encoded.iter().enumerate().filter(|(_, e)| e.len() > MAX_RECORD_BYTES).map(|(i, _)| i).collect();
        if too_big.is_empty() {
            return Ok(encoded);
        }
        let mut next = Vec::with_capacity(chunks.len() + too_big.len());
        for (i, chunk) in chunks.iter().enumerate() {
            if too_big.contains(&i) && chunk.len() > 1 {
                let (a, b) = chunk.split_at(chunk.len() / 2);
                next.push(a);
                next.push(b);
            } else {
                next.push(chunk);
            }
        }
        if next.len() == chunks.len() {
            // A single reading over the record limit cannot be split further;
            // validation bounds every field, so this is unreachable in practice.
            return Ok(encoded);
        }
        chunks = next;
    }
}

#[derive(Serialize)]
struct EnvelopeRef<'a> {
    v: u32,
    batch_id: &'a str,
    part: u32,
    parts: u32,
    device_id: &'a str,
    wearer_id: &'a str,
    app_version: &'a str,
    received_at: DateTime<Utc>,
    readings: &'a [Reading],
}

fn encode_chunks(
    upload: &Upload,
    wearer_id: &str,
    received_at: DateTime<Utc>,
    chunks: &[&[Reading]],
) -> Result<Vec<Vec<u8>>, serde_json::Error> {
    let parts = u32::try_from(chunks.len()).unwrap_or(u32::MAX);
    chunks
        .iter()
        .enumerate()
        .map(|(part, readings)| {
            serde_json::to_vec(&EnvelopeRef {
                v: ENVELOPE_VERSION,
                batch_id: &upload.batch_id,
                part: u32::try_from(part).unwrap_or(u32::MAX),
                parts,
                device_id: &upload.device_id,
                wearer_id,
                app_version: &upload.app_version,
                received_at,
                readings,
            })
        })
        .collect()
}

/// The id of one reading: the same every time the same reading (device, seq) is
/// resent, so every sink can deduplicate. It is a hash, so it does not reveal the
/// device id; 128 bits make accidental collisions negligible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReadingId([u8; 16]);

impl ReadingId {
    pub fn new(device_id: &str, seq: u64) -> Self {
        let mut h = Sha256::new();
        h.update(b"vigil/reading/v1\0");
        h.update(device_id.as_bytes());
        h.update(b"\0");
        h.update(seq.to_be_bytes());
        let digest = h.finalize();
        let mut id = [0u8; 16];
        id.copy_from_slice(&digest[..16]);
        Self(id)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl std::fmt::Display for ReadingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Into a stack buffer: `hex::encode` collects chars into a fresh String,
        // which was a large share of the rules engine's time (it keeps reading ids).
        let mut buf = [0u8; 32];
        hex::encode_to_slice(self.0, &mut buf).map_err(|_| std::fmt::Error)?;
        f.write_str(std::str::from_utf8(&buf).map_err(|_| std::fmt::Error)?)
    }
}

impl Serialize for ReadingId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
