//! The curated readings (`curated/readings/`): the columns, and the row of one
//! reading (see the crate docs for the table).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use vigil_domain::envelope::Envelope;
use vigil_domain::reading::{Activity, Reading, SleepStage};

use crate::pseudonym::Pseudonym;

/// The curated columns, in file order (see the module docs).
pub const COLUMNS: [&str; 15] = [
    "reading_key",
    "wearer_pseudonym",
    "ts",
    "received_at",
    "heart_rate_bpm",
    "spo2_pct",
    "skin_temp_c",
    "steps",
    "activity",
    "sleep_stage",
    "fall_detected",
    "fall_cancelled",
    "sos",
    "battery_pct",
    "worn",
];

/// The most rows in one Parquet row group of a curated file.
pub const MAX_ROW_GROUP_ROWS: usize = 65_536;

/// One row of the curated data set (see the module docs for the columns). It
/// has no field that identifies a person or a device.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CuratedRow {
    pub reading_key: Pseudonym,
    pub wearer_pseudonym: Pseudonym,
    pub ts: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub heart_rate_bpm: Option<i32>,
    pub spo2_pct: Option<i32>,
    pub skin_temp_c: Option<f64>,
    pub steps: Option<i32>,
    pub activity: Option<Activity>,
    pub sleep_stage: Option<SleepStage>,
    pub fall_detected: Option<bool>,
    pub fall_cancelled: Option<bool>,
    pub sos: Option<bool>,
    pub battery_pct: Option<i32>,
    pub worn: Option<bool>,
}

impl CuratedRow {
    /// The row of `reading`, with its pseudonyms already computed (a batch
    /// computes each wearer's once, not once per reading).
    pub fn new(reading_key: Pseudonym, wearer_pseudonym: Pseudonym, envelope: &Envelope, reading: &Reading) -> Self {
        let int = |v: Option<i64>| v.and_then(|v| i32::try_from(v).ok());
        Self {
            reading_key,
            wearer_pseudonym,
            ts: reading.ts.with_timezone(&Utc),
            received_at: envelope.received_at,
            heart_rate_bpm: int(reading.heart_rate_bpm),
            spo2_pct: int(reading.spo2_pct),
            skin_temp_c: reading.skin_temp_c,
            steps: int(reading.steps),
            activity: reading.activity,
            sleep_stage: reading.sleep_stage,
            fall_detected: reading.fall_detected,
            fall_cancelled: reading.fall_cancelled,
            sos: reading.sos,
            battery_pct: int(reading.battery_pct),
            worn: reading.worn,
        }
    }

    /// The date (UTC) of the curated file this row goes to.
    pub fn event_date(&self) -> NaiveDate {
        self.ts.date_naive()
    }
}
