//! daily-summary: runs every hour on an EventBridge schedule and, for each
//! wearer whose local day has ended since it last looked:
//!
//! 1. computes the day's summary from the vitals items and the day's alerts
//!    ([`vigil_domain::days::summarize`]), and recomputes the days before it
//!    that late uploads may have changed (see [`LATE_DAYS`]);
//! 2. raises a `baseline_deviation` alert when a figure has left the wearer's own
//!    baseline ([`vigil_domain::days::new_trends`]), through the alert path
//!    ([`Alerting::raise`]): stored, told, escalated and curated like any alert;
//! 3. writes the changed days to the data lake for the warehouse (pseudonymized),
//!    a chunk of wearers at a time in one file per local date;
//! 4. stores the days: the day just ended last, so it marks the work as done and
//!    a run that dies before it is redone whole by the next (every step above is
//!    idempotent).
//!
//! Then, for every caregiver who opted in (`daily_at`), it sends the daily
//! message once it is due ([`vigil_domain::days::due`]), once per wearer, day and
//! caregiver ([`vigil_domain::days::daily_key`]).
//!
//! A wearer left when the run's time runs out stays to do: their day is still not
//! stored, and the next run (an hour later) does it.

use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, Utc};
use futures_util::StreamExt as _;
use serde::Serialize;
use vigil_alerting::curated::CuratedAlerts;
use vigil_alerting::{AlertPorts, Alerting, AlertingError};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_aws::days::{DynamoDayInputs, DynamoDays};
use vigil_aws::vitals::DynamoVitalsStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_curated::{AlertRow, DayRow, PARQUET_CONTENT_TYPE, day_files};
use vigil_domain::alerts::Alert;
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::config::{self as env, ConfigError, Source};
use vigil_domain::days::{self, DayAlert, DaySummary, Trend, Usual, daily_delivery, daily_message, due, local_day};
use vigil_domain::lifecycle::AlertRecord;
use vigil_domain::ports::{CuratedFileRegistry, DayInputs, DaysStore, ObjectStore, StoreError};
use vigil_domain::vitals::{VitalsItem, Window, readings_in};
use vigil_lambda::Deadline;
use vigil_lambda::deadline::within;
use vigil_lambda::metrics::Metrics;

pub const FUNCTION: &str = "daily-summary";

/// Time kept back from the invocation's deadline to answer.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(10);

/// Wearers worked on at once.
pub const CONCURRENCY: usize = 8;

/// Wearers read from the profiles table together (one Scan page, their
/// caregivers in one read), whose changed days go to the lake together, in one
/// file per local date: a run holds one such page at a time.
pub const CHUNK: usize = 256;

/// Of a run's time, what computing a chunk leaves for writing its files and days.
pub const STORE_RESERVE: Duration = Duration::from_secs(30);

/// Days before the one just ended that are recomputed with it when they are
/// incomplete: the upload API takes readings up to 7 days old
/// ([`vigil_domain::upload::MAX_AGE`]), and a day that was short of readings is
/// the one late readings change. The day before the one just ended is always
/// recomputed (a phone that synced next morning).
pub const LATE_DAYS: u64 = 7;

/// Stored days read per wearer: what a baseline, and an episode, look back on.
const HISTORY_DAYS: u64 = days::baseline::LOOKBACK_DAYS + days::RECENT_DAYS_LEFT_OUT + 4;

/// daily-summary on AWS (`N`: the notifier, SNS unless the local runner wraps it).
pub type AwsDaily<N = vigil_alerting::aws::Messaging> =
    Daily<vigil_alerting::aws::Aws<N>, DynamoDays, DynamoDayInputs, S3ObjectStore, DynamoCuratedFiles>;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Secret(#[from] vigil_aws::secrets::SecretError),
    #[error(transparent)]
    Config(#[from] vigil_domain::config::ConfigError),
}

/// What daily-summary reads besides the alert path's configuration
/// ([`vigil_alerting::aws::AlertPathConfig`]); see `function.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyConfig {
    pub wearers_table: String,
    pub caregivers_table: String,
    pub alerts_table: String,
    pub vitals_table: String,
    pub days_table: String,
    /// `DAYS_TTL_DAYS`: how long a day is kept after its date.
    pub days_ttl_days: u32,
}

impl DailyConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            caregivers_table: env::required(src, "CAREGIVERS_TABLE", "the caregivers DynamoDB table")?,
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            vitals_table: env::required(src, "VITALS_TABLE", "the vitals DynamoDB table")?,
            days_table: env::required(src, "DAYS_TABLE", "the wearers' days DynamoDB table")?,
            days_ttl_days: env::positive_or(
                src,
                "DAYS_TTL_DAYS",
                vigil_aws::days::DEFAULT_TTL_DAYS,
                "a whole number of days, at least 1",
            )?,
        })
    }
}

/// daily-summary as deployed, from its environment (see `function.json`) and one SDK
/// config, at cold start. Its `main` and `vigil run` both build it here.
pub async fn build(src: &impl Source, sdk: &aws_config::SdkConfig) -> Result<AwsDaily, BuildError> {
    let config = DailyConfig::from_source(src)?;
    let (_, alerting) = vigil_alerting::aws::alerting(src, sdk).await?;
    let dynamodb = vigil_aws::sdk::dynamodb(sdk);
    let inputs = DynamoDayInputs {
        wearers: DynamoWearerDirectory::new(dynamodb.clone(), config.wearers_table, config.caregivers_table),
        vitals: DynamoVitalsStore::new(dynamodb.clone(), config.vitals_table),
        alerts: DynamoAlertStore::new(dynamodb.clone(), config.alerts_table),
    };
    let days = DynamoDays::new(dynamodb, config.days_table, config.days_ttl_days);
    let lake = alerting.sink.clone();
    Ok(Daily { alerting, days, inputs, lake, page: CHUNK })
}

/// What one run did; also the Lambda's response, for `cargo lambda invoke`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub wearers: usize,
    /// Wearers whose day just ended was computed this run.
    pub wearers_done: usize,
    pub days_computed: usize,
    /// Days stored anew or changed (late readings).
    pub days_changed: usize,
    pub trends_raised: usize,
    pub messages_sent: usize,
    /// Messages and alerts the provider refused for good.
    pub refused: usize,
    pub failed: usize,
    /// Wearers not looked at: the run's time ran short (the next run does them).
    /// A lower bound when `scan_unfinished`: the pages not read count as one.
    pub wearers_left: usize,
    /// The run stopped before the end of its pass round the wearers.
    pub scan_unfinished: bool,
    /// The run began where the last one stopped short, not at the first page.
    pub resumed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("could not list the wearers")]
    List(#[source] StoreError),
    /// Some wearers failed; the others were done. The next run retries them.
    #[error("{failed} of {wearers} wearers failed")]
    Partial { failed: usize, wearers: usize },
}

/// Why one wearer's turn failed (logged; the next run retries the wearer).
#[derive(Debug, thiserror::Error)]
pub enum WearerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Alerting(#[from] AlertingError),
    #[error("a vitals item could not be read")]
    Format,
}

/// What one wearer's turn did.
#[derive(Debug, Default)]
struct Done {
    day_done: bool,
    computed: usize,
    trends: usize,
    sent: usize,
    refused: usize,
}

/// One wearer's turn: what it did, and the days it computed that changed, still
/// to be curated and stored (the day just ended last).
struct Turn<'a> {
    profile: &'a WearerProfile,
    done: Done,
    changed: Vec<DaySummary>,
}

/// The daily job over its ports; the curated lake is the alert path's (`None`:
/// no days or deviations for the warehouse).
pub struct Daily<P: AlertPorts, D, I, O, R> {
    pub alerting: Alerting<P>,
    pub days: D,
    pub inputs: I,
    pub lake: Option<CuratedAlerts<O, R>>,
    /// Wearers read, computed and stored together ([`CHUNK`]).
    pub page: usize,
}

impl<P: AlertPorts, D, I, O, R> std::fmt::Debug for Daily<P, D, I, O, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daily").finish_non_exhaustive()
    }
}

impl<P, D, I, O, R> Daily<P, D, I, O, R>
where
    P: AlertPorts,
    D: DaysStore + Sync,
    I: DayInputs + Sync,
    O: ObjectStore + Sync,
    R: CuratedFileRegistry + Sync,
{
    /// Lambda's entry: one scheduled run at `now` under the invocation's
    /// `deadline`, its metrics written to stdout as EMF.
    pub async fn handle_within(&self, now: DateTime<Utc>, deadline: Option<Deadline>) -> Result<Summary, RunError> {
        let (result, metrics) = self.process_within(now, deadline).await;
        metrics.emit();
        result
    }

    /// One scheduled run at `now` that is over by `deadline`; returns the result
    /// and the metrics without writing them.
    ///
    /// Wearers are read a page of [`CHUNK`] at a time (the run holds one page,
    /// whatever the number of wearers): each page's days are computed
    /// ([`CONCURRENCY`] wearers at once), then written to the lake together (one
    /// curated file per local date and page, not per wearer) and stored. A page
    /// is not read once less than [`STORE_RESERVE`] is left.
    ///
    /// The pass goes round the wearers as a ring: it starts where the last run
    /// stopped short ([`DaysStore::scan_position`]), reads to the last page, then
    /// from the first page up to the wearer it started after. A run cut short
    /// keeps where the page it could not finish starts, so a fleet larger than one
    /// run has its every page reached in turn, not its first pages again.
    pub async fn process_within(
        &self,
        now: DateTime<Utc>,
        deadline: Option<Deadline>,
    ) -> (Result<Summary, RunError>, Metrics) {
        let started = Instant::now();
        let mut metrics = Metrics::new(FUNCTION);
        let mut summary = Summary::default();
        let compute_until = deadline.map(|d| d.less(STORE_RESERVE));
        let start = match within(deadline, self.days.scan_position()).await {
            Ok(Ok(start)) => start,
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the scan position could not be read; this run starts at the first page");
                None
            }
            Err(_expired) => None,
        };
        summary.resumed = start.is_some();
        let mut after = start.clone();
        // Whether the pass has gone past the last page, to the first again.
        let mut wrapped = false;
        // Whether the pass went all the way round; if not, the next run starts at `after`.
        let mut finished = false;
        let mut list_error = None;
        loop {
            if compute_until.is_some_and(|d| d.remaining().is_zero()) {
                // The next page is not read: at least one wearer may be on it.
                summary.wearers_left += 1;
                summary.scan_unfinished = true;
                break;
            }
            let mut page = match within(deadline, self.inputs.wearers(after.as_deref(), self.page)).await {
                Ok(Ok(page)) => page,
                Ok(Err(err)) => {
                    list_error = Some(err);
                    break;
                }
                Err(expired) => {
                    list_error = Some(StoreError {
                        operation: "Scan",
                        resource: FUNCTION.into(),
                        retryable: true,
                        source: expired.into(),
                    });
                    break;
                }
            };
            if wrapped {
                // Past the last page: the ring ends with the wearer this run started after.
                let start = start.as_deref();
                if let Some(last) = page.wearers.iter().position(|w| Some(w.wearer_id.as_str()) == start) {
                    page.wearers.truncate(last + 1);
                    page.next = None;
                }
            }
            summary.wearers += page.wearers.len();
            let left = self.chunk(&page.wearers, now, compute_until, deadline, &mut summary).await;
            if left > 0 {
                // The pages not read count as one (their wearers are not known).
                let more = page.next.is_some() || (start.is_some() && !wrapped);
                summary.wearers_left += left + usize::from(more);
                summary.scan_unfinished = more;
                // The next run redoes this page: what it finished costs a small Query a wearer.
                break;
            }
            match page.next {
                Some(next) => after = Some(next),
                // From the first page, up to where this run started (a wearer erased since
                // is not met: the pass then ends at the last page again).
                None if start.is_some() && !wrapped => {
                    wrapped = true;
                    after = None;
                }
                None => {
                    finished = true;
                    break;
                }
            }
        }
        // Cut short, or a page that could not be read: the next run starts at that page.
        let stopped_at = if finished { None } else { after };
        if stopped_at != start {
            match within(deadline, self.days.set_scan_position(stopped_at.as_deref())).await {
                Ok(Ok(())) => {}
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "the scan position could not be kept; the next run starts where this one did")
                }
                Err(_expired) => {
                    tracing::warn!("no time left to keep the scan position; the next run starts where this one did")
                }
            }
        }
        if summary.wearers_left > 0 {
            tracing::warn!(
                wearers_left = summary.wearers_left,
                "run cut short by its deadline; the next run takes the rest"
            );
        }
        metrics
            .count("Wearers", summary.wearers)
            .count("DaysComputed", summary.days_computed)
            .count("DaysChanged", summary.days_changed)
            .count("TrendsRaised", summary.trends_raised)
            .count("DailyMessagesSent", summary.messages_sent)
            .count("NotificationsRefused", summary.refused)
            .count("WearersFailed", summary.failed)
            .count("WearersLeft", summary.wearers_left)
            .millis("RunMs", started.elapsed().as_secs_f64() * 1e3);
        if let Some(err) = list_error {
            // The pages before it were done and are counted; the next run starts at this one.
            return (Err(RunError::List(err)), metrics);
        }
        if summary.failed > 0 {
            return (Err(RunError::Partial { failed: summary.failed, wearers: summary.wearers }), metrics);
        }
        (Ok(summary), metrics)
    }

    /// One page of wearers: their days computed ([`CONCURRENCY`] wearers at once)
    /// until `compute_until`, then written to the lake together and stored (see
    /// [`Self::store`]), all counted into `summary`. Returns how many of the page
    /// are left for the next run.
    async fn chunk(
        &self,
        wearers: &[WearerProfile],
        now: DateTime<Utc>,
        compute_until: Option<Deadline>,
        deadline: Option<Deadline>,
        summary: &mut Summary,
    ) -> usize {
        let mut turns = Vec::new();
        let mut left = 0;
        let mut running = futures_util::stream::iter(wearers.iter().map(|p| within(compute_until, self.turn(p, now))))
            .buffer_unordered(CONCURRENCY);
        while let Some(turn) = running.next().await {
            match turn {
                Ok(Ok(turn)) => turns.push(turn),
                Ok(Err(err)) => {
                    summary.failed += 1;
                    tracing::warn!(error = %err, "a wearer's day failed; the next run retries it");
                }
                Err(_expired) => left += 1,
            }
        }
        drop(running);
        match within(deadline, self.store(&turns, now)).await {
            Ok(Ok(())) => {
                for turn in &turns {
                    summary.wearers_done += usize::from(turn.done.day_done);
                    summary.days_changed += turn.changed.len();
                }
            }
            Ok(Err(err)) => {
                summary.failed += turns.iter().filter(|t| !t.changed.is_empty()).count();
                tracing::warn!(error = %err, "storing a chunk of days failed; the next run redoes them");
            }
            Err(_expired) => left += turns.iter().filter(|t| !t.changed.is_empty()).count(),
        }
        for turn in &turns {
            summary.days_computed += turn.done.computed;
            summary.trends_raised += turn.done.trends;
            summary.messages_sent += turn.done.sent;
            summary.refused += turn.done.refused;
        }
        left
    }

    /// One wearer: their day just ended (unless stored already) and the days
    /// late readings may have changed, computed (not stored: see [`Self::store`]),
    /// its trends raised; then the daily messages now due.
    async fn turn<'a>(&self, profile: &'a WearerProfile, now: DateTime<Utc>) -> Result<Turn<'a>, WearerError> {
        let id = profile.wearer_id.as_str();
        let tz = profile.tz();
        let mut turn = Turn { profile, done: Done::default(), changed: Vec::new() };
        let Some(ended) = days::day_of(tz, now).pred_opt() else { return Ok(turn) };
        let due: Vec<(&Caregiver, NaiveDate)> = profile
            .caregivers
            .iter()
            .filter_map(|c| {
                let quiet = c.quiet_hours.as_ref();
                let caregiver_tz = quiet.and_then(|q| q.time_zone.parse().ok()).unwrap_or(tz);
                Some((c, due(tz, caregiver_tz, c.daily_at?, quiet, now)?))
            })
            .collect();
        // Most runs find the day stored and no message due: one small read.
        let stored = !self.days.days(id, ended, ended).await?.is_empty();
        if stored && due.is_empty() {
            return Ok(turn);
        }
        let from = ended.checked_sub_days(Days::new(HISTORY_DAYS)).unwrap_or(ended);
        let mut history = self.days.days(id, from, ended).await?;
        if !stored {
            turn.changed = self.day_ended(profile, ended, &mut history, now, &mut turn.done).await?;
            turn.done.day_done = true;
        }
        let first_name = profile.name.split_whitespace().next().unwrap_or_default();
        for (caregiver, date) in due {
            // Not computed yet (the caregiver's hour came first): the next run sends it.
            let Some(day) = history.iter().find(|d| d.date == date) else { continue };
            let usual = Usual::of(&history, date);
            let text = daily_message(caregiver.language, first_name, day, &usual, &days::trends(&history, date));
            let Some(delivery) = daily_delivery(id, date, caregiver, text) else { continue };
            let outcome = self.alerting.send(&delivery, now).await?;
            turn.done.sent += outcome.sent;
            turn.done.refused += outcome.refused;
        }
        Ok(turn)
    }

    /// Computes day `ended` and the days before it late readings may have
    /// changed, and raises its trends; returns the days that changed. `history`
    /// is the stored days and leaves with the new ones.
    async fn day_ended(
        &self,
        profile: &WearerProfile,
        ended: NaiveDate,
        history: &mut Vec<DaySummary>,
        now: DateTime<Utc>,
        done: &mut Done,
    ) -> Result<Vec<DaySummary>, WearerError> {
        let id = profile.wearer_id.as_str();
        let before = ended.pred_opt().unwrap_or(ended);
        let mut dates: Vec<NaiveDate> = (1..=LATE_DAYS)
            .rev()
            .filter_map(|k| ended.checked_sub_days(Days::new(k)))
            .filter(|date| *date == before || history.iter().find(|d| d.date == *date).is_none_or(|d| !d.complete))
            .collect();
        dates.push(ended);
        // One read of the minutes and one of the alerts from the first of these days to
        // the end of the day just ended, each day cut from them: two requests instead of
        // two a day (the days to redo are the day before and any late ones, so the span
        // is mostly what would be read day by day anyway).
        let (from, to) = (local_day(profile.tz(), dates[0]).0, local_day(profile.tz(), ended).1);
        let (items, alerts) =
            futures_util::future::join(self.inputs.minutes(id, from, to), self.inputs.alerts(id, from, to)).await;
        let (items, alerts) = (items?, alerts?);
        let mut changed = Vec::new();
        for date in dates {
            let day = compute(profile, date, &items, &alerts)?;
            done.computed += 1;
            match history.iter_mut().find(|d| d.date == date) {
                Some(stored) if *stored == day => {}
                Some(stored) => {
                    *stored = day.clone();
                    changed.push(day);
                }
                None => {
                    history.push(day.clone());
                    changed.push(day);
                }
            }
        }
        history.sort_by_key(|d| d.date);
        let trends = days::new_trends(history, ended);
        if let Some(alert) = days::trend_alert(id, profile.tz(), ended, &trends) {
            let outcome = self.alerting.raise(&alert, profile, now).await?;
            done.trends += 1;
            done.sent += outcome.sent;
            done.refused += outcome.refused;
            self.curate_deviation(&alert, &trends).await?;
        }
        // The day just ended goes last: stored, it says this work is done.
        changed.sort_by_key(|d| d.date == ended);
        Ok(changed)
    }

    /// The chunk's changed days: to the lake first (one file per local date),
    /// then stored, each wearer's day just ended last. A failure leaves that day
    /// unstored, so the next run does the wearer again (the lake's rows are then
    /// written again, the same days: the warehouse keeps one per wearer and date).
    async fn store(&self, turns: &[Turn<'_>], now: DateTime<Utc>) -> Result<(), StoreError> {
        if let Some(lake) = &self.lake {
            let rows: Vec<DayRow> = turns
                .iter()
                .flat_map(|t| {
                    let (wearer, tz) = (lake.pseudonymizer.wearer(&t.profile.wearer_id), t.profile.tz());
                    t.changed.iter().map(move |day| {
                        DayRow::new(wearer, day, DayRow::computed_after(local_day(tz, day.date).1, now))
                    })
                })
                .collect();
            for file in day_files(&rows).map_err(lake_error)? {
                let registration = file.registration(now);
                lake.objects.put(&file.key, file.body, PARQUET_CONTENT_TYPE).await?;
                lake.registry.register(&registration).await?;
            }
        }
        let puts = turns.iter().filter(|t| !t.changed.is_empty()).map(|t| async move {
            for day in &t.changed {
                self.days.put_day(&t.profile.wearer_id, day).await?;
            }
            Ok::<_, StoreError>(())
        });
        let results: Vec<Result<(), StoreError>> =
            futures_util::stream::iter(puts).buffer_unordered(CONCURRENCY).collect().await;
        results.into_iter().collect()
    }

    /// The trend alert's row with the figure that left the baseline furthest and
    /// its z (the alert path's copy has neither).
    async fn curate_deviation(&self, alert: &Alert, trends: &[Trend]) -> Result<(), StoreError> {
        let Some(lake) = &self.lake else { return Ok(()) };
        let Some(worst) = trends.iter().max_by(|a, b| a.z.abs().total_cmp(&b.z.abs())) else { return Ok(()) };
        let row = AlertRow::new(&lake.pseudonymizer, &AlertRecord::open(alert.clone(), false))
            .deviation(worst.feature.as_str(), worst.z);
        lake.store(vigil_curated::alert_row_files(vec![row]).map_err(lake_error)?).await
    }
}

/// The summary of local day `date` from the wearer's vitals items and alerts of a
/// span that covers it.
/// One day of `profile` from the items and alerts read for it: the CPU part of a
/// wearer's turn (public for `benches/night.rs`).
pub fn compute(
    profile: &WearerProfile,
    date: NaiveDate,
    items: &[VitalsItem],
    alerts: &[AlertRecord],
) -> Result<DaySummary, WearerError> {
    let tz = profile.tz();
    let (from, to) = local_day(tz, date);
    let readings = readings_in(items, &Window { from, to }).map_err(|_| WearerError::Format)?;
    let alerts: Vec<DayAlert> =
        alerts.iter().filter(|r| from <= r.alert.raised_at && r.alert.raised_at < to).map(day_alert).collect();
    Ok(days::summarize(tz, date, &readings, &alerts))
}

fn day_alert(record: &AlertRecord) -> DayAlert {
    DayAlert {
        raised_at: record.alert.raised_at,
        acknowledged_at: record.acknowledged.as_ref().map(|t| t.at),
        rule: record.alert.rule,
    }
}

fn lake_error(err: vigil_curated::CuratedError) -> StoreError {
    StoreError { operation: "EncodeParquet", resource: "curated/days".into(), retryable: false, source: err.into() }
}
