//! The daily picture of a wearer, and trends against their own baseline.
//!
//! Pure: the daily function reads a local day's vitals readings and alerts,
//! calls [`summarize`], stores the [`DaySummary`], asks [`new_trends`] whether a
//! figure has left the wearer's usual range, raises [`trend_alert`] and, at each
//! caregiver's chosen hour ([`due`]), sends [`daily_message`] once per day and
//! caregiver ([`daily_key`]).
//!
//! - [`summary`]: the local day (across DST) and its figures, with their
//!   definitions.
//! - [`baseline`]: the person's own baseline, z-scores and trends, with the method
//!   and its references.
//! - [`message`]: the daily message, when it is due, and its delivery key.

pub mod baseline;
pub mod message;
pub mod summary;

pub use baseline::{
    BASELINE_DAYS, Baseline, Feature, MIN_BASELINE_DAYS, RECENT_DAYS_LEFT_OUT, Trend, Usual, baseline,
    continues_episode, new_trends, trend_alert, trends, z,
};
pub use message::{daily_delivery, daily_key, daily_message, due, night_hold};
pub use summary::{DayAlert, DaySummary, SUMMARY_VERSION, day_of, local_day, summarize};

#[cfg(test)]
mod tests;
