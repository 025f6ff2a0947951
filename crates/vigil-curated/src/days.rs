//! The curated days (`curated/days/`): the columns, and the row of one wearer's
//! local day (see the crate docs for the table). The file format and the one
//! call the daily job makes are `format::days` ([`crate::day_files`]).

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use vigil_domain::days::DaySummary;
use vigil_domain::ports::CuratedFile;

use crate::pseudonym::Pseudonym;

/// The curated day columns, in file order.
pub const DAY_COLUMNS: [&str; 17] = [
    "wearer_pseudonym",
    "local_date",
    "complete",
    "day_minutes",
    "worn_minutes",
    "sleep_minutes",
    "wake_ups",
    "restlessness",
    "steps",
    "active_minutes",
    "resting_hr",
    "lowest_spo2",
    "alerts",
    "acked",
    "ack_median_secs",
    "summary_version",
    "computed_after_s",
];

/// One wearer's local day as the warehouse gets it: the pseudonym, the local
/// date and the day's figures. No name, no time zone, no instant of the day
/// (when the wearer slept or walked): only per-day totals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DayRow {
    pub wearer_pseudonym: Pseudonym,
    /// The date in the wearer's own time zone (the zone itself is not kept).
    pub local_date: NaiveDate,
    /// Worn long enough to count: an incomplete day is shown but never
    /// averaged into a baseline or a weekly figure.
    pub complete: bool,
    /// Minutes of the local day (1,440; 1,380 or 1,500 when clocks change).
    pub day_minutes: u32,
    pub worn_minutes: u32,
    pub sleep_minutes: u32,
    pub wake_ups: u32,
    /// Night-time restlessness, per hour in bed (none without a main night).
    pub restlessness: Option<f64>,
    pub steps: i64,
    pub active_minutes: u32,
    /// Resting heart rate, bpm.
    pub resting_hr: Option<f64>,
    /// Lowest SpO2 of the day, %.
    pub lowest_spo2: Option<i64>,
    /// Alerts raised during the day, and how many of them were acknowledged.
    pub alerts: u32,
    pub acked: u32,
    /// Median seconds from raised to acknowledged, over the acknowledged alerts.
    pub ack_median_secs: Option<i64>,
    /// The version of the day's definitions that computed it.
    pub summary_version: u32,
    /// Seconds from the end of the local day to the computation that produced
    /// this row: the later of two computations of a day has the larger value,
    /// so it is what orders a recomputed day after the first one, in the file
    /// and in the warehouse. Relative to the local day, it says nothing of the
    /// time zone (an absolute computation time would: the job runs at each
    /// wearer's local midnight).
    pub computed_after_s: i64,
}

impl DayRow {
    /// The row of `wearer`'s day `summary`, computed `computed_after_s`
    /// seconds after the local day ended ([`DayRow::computed_after`]).
    pub fn new(wearer: Pseudonym, summary: &DaySummary, computed_after_s: i64) -> Self {
        Self {
            wearer_pseudonym: wearer,
            local_date: summary.date,
            complete: summary.complete,
            day_minutes: summary.day_minutes,
            worn_minutes: summary.worn_minutes,
            sleep_minutes: summary.sleep_minutes,
            wake_ups: summary.wake_ups,
            restlessness: summary.restlessness,
            steps: summary.steps,
            active_minutes: summary.active_minutes,
            resting_hr: summary.resting_hr,
            lowest_spo2: summary.lowest_spo2,
            alerts: summary.alerts,
            acked: summary.acked,
            ack_median_secs: summary.ack_median_secs,
            summary_version: summary.version,
            computed_after_s,
        }
    }

    /// [`DayRow::computed_after_s`] of a computation at `computed_at` of a
    /// day that ended at `day_end` (the end of the local day, as an instant).
    pub fn computed_after(day_end: DateTime<Utc>, computed_at: DateTime<Utc>) -> i64 {
        (computed_at - day_end).num_seconds()
    }
}

/// A curated days file, not yet stored: one local date, one row per wearer.
#[derive(Debug, Clone, PartialEq)]
pub struct DayFile {
    pub key: String,
    pub local_date: NaiveDate,
    pub rows: Vec<DayRow>,
    pub body: Vec<u8>,
}

impl DayFile {
    /// The file as registered for the warehouse loader (first written at
    /// `created_at`). Its event date is the local date, and its time range
    /// that date's span in UTC: the rows hold no instants, and the wearers'
    /// zones are not known here.
    pub fn registration(&self, created_at: DateTime<Utc>) -> CuratedFile {
        let start = self.local_date.and_time(NaiveTime::MIN).and_utc();
        CuratedFile {
            key: self.key.clone(),
            event_date: self.local_date,
            rows: self.rows.len(),
            bytes: self.body.len(),
            min_ts: start,
            max_ts: start + chrono::Duration::days(1) - chrono::Duration::microseconds(1),
            created_at,
        }
    }
}
