//! daily-summary as deployed (its `build`, the real DynamoDB and S3 adapters)
//! against moto's server: days computed from the vitals items, stored once,
//! recomputed when late readings arrive, a trend raised once, and the daily
//! message sent once per caregiver and day.
//! Needs the endpoint: `bash localstack/endpoint.sh start`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly on broken fixtures")]

use chrono::{DateTime, Days, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use vigil_aws::vitals::DynamoVitalsStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::days::{DaySummary, local_day, summarize};
use vigil_domain::envelope::{ENVELOPE_VERSION, Envelope};
use vigil_domain::ports::{DayInputs, DaysStore, VitalsStore};
use vigil_domain::reading::{Activity, Reading, SleepStage};
use vigil_domain::vitals::{StoredReading, vitals_items};
use vigil_local::provision::{Resources, provision};

const WEARER: &str = "w-daily";
const TZ: Tz = chrono_tz::Europe::Madrid;
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Setup {
    daily: daily_summary::AwsDaily,
    directory: DynamoWearerDirectory,
    vitals: DynamoVitalsStore,
    s3: aws_sdk_s3::Client,
    r: Resources,
}

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 9, 1).unwrap()
}

fn day(n: u64) -> NaiveDate {
    first_day().checked_add_days(Days::new(n)).unwrap()
}

/// Local `time` on `date` in the wearer's zone.
fn local(date: NaiveDate, time: &str) -> DateTime<Utc> {
    TZ.from_local_datetime(&date.and_time(time.parse().unwrap())).unwrap().with_timezone(&Utc)
}

/// One reading a minute of the wearer's day `date`, `worn_hours` of it from
/// midnight: asleep until 07:00 and from 23:00, `steps` spread over 09:00–19:00
/// with light activity, a little day-to-day wobble from `date`.
fn readings(date: NaiveDate, steps: i64, worn_hours: i64) -> Vec<Reading> {
    let (start, end) = local_day(TZ, date);
    let minutes = (end - start).num_minutes().min(worn_hours * 60);
    let wobble = i64::from(date.format("%d").to_string().parse::<u8>().unwrap() % 3);
    (0..minutes)
        .map(|i| {
            let at = start + Duration::minutes(i);
            let m = at.with_timezone(&TZ).time().signed_duration_since(NaiveTime::MIN).num_minutes();
            let asleep = !(7 * 60..23 * 60).contains(&m);
            let walking = (9 * 60..19 * 60).contains(&m);
            let mut r = Reading::at(at.fixed_offset(), u64::try_from(i).unwrap() + 1);
            r.worn = Some(true);
            r.spo2_pct = Some(96);
            r.heart_rate_bpm = Some(if asleep { 58 + wobble } else { 72 });
            r.sleep_stage = Some(if asleep { SleepStage::Light } else { SleepStage::Awake });
            r.activity = Some(if walking { Activity::Light } else { Activity::Rest });
            r.steps = Some(if walking { (steps + wobble * 40) / 600 } else { 0 });
            r
        })
        .collect()
}

fn summary_of(date: NaiveDate, steps: i64) -> DaySummary {
    let minutes: Vec<StoredReading> = readings(date, steps, 24).iter().map(StoredReading::of).collect();
    summarize(TZ, date, &minutes, &[])
}

async fn setup(prefix: &str) -> Setup {
    let sdk = vigil_local::endpoint::require().await;
    let r = Resources::unique(prefix);
    provision(&sdk, &r).await.unwrap();
    let env = [
        ("WEARERS_TABLE", r.wearers_table.as_str()),
        ("CAREGIVERS_TABLE", r.caregivers_table.as_str()),
        ("STATE_TABLE", r.state_table.as_str()),
        ("ALERTS_TABLE", r.alerts_table.as_str()),
        ("DELIVERIES_TABLE", r.deliveries_table.as_str()),
        ("QUARANTINE_BUCKET", r.quarantine_bucket.as_str()),
        ("VITALS_TABLE", r.vitals_table.as_str()),
        ("DAYS_TABLE", r.days_table.as_str()),
        ("DATA_BUCKET", r.data_bucket.as_str()),
        ("CURATED_FILES_TABLE", r.curated_files_table.as_str()),
        ("PSEUDONYM_KEY", KEY),
        ("WEARER_CACHE_TTL_SECS", "0"),
    ];
    let directory = DynamoWearerDirectory::new(vigil_aws::sdk::dynamodb(&sdk), &r.wearers_table, &r.caregivers_table);
    let caregiver = Caregiver {
        id: "cg-1".into(),
        sub: None,
        name: None,
        level: 1,
        language: Language::Es,
        phone: Some("+34600111222".into()),
        push_endpoint: None,
        quiet_hours: None,
        daily_at: Some(NaiveTime::from_hms_opt(8, 0, 0).unwrap()),
    };
    let profile = WearerProfile {
        snoozes: Default::default(),
        escalation: Default::default(),
        wearer_id: WEARER.into(),
        name: "Lucía Pérez".into(),
        time_zone: TZ.name().into(),
        thresholds: Default::default(),
        caregivers: vec![caregiver],
    };
    directory.put(&profile).await.unwrap();
    Setup {
        daily: daily_summary::build(&env, &sdk).await.unwrap(),
        directory,
        // A day's 1,440 items at once: more time than vitals-writer's batches need.
        vitals: DynamoVitalsStore::new(vigil_aws::sdk::dynamodb(&sdk), &r.vitals_table)
            .with_budget(std::time::Duration::from_secs(120)),
        s3: vigil_aws::sdk::s3(&sdk),
        r,
    }
}

impl Setup {
    /// The band's readings as vitals-writer stores them.
    async fn upload(&self, readings: Vec<Reading>) {
        let envelope = Envelope {
            v: ENVELOPE_VERSION,
            batch_id: format!("b-{}", readings[0].ts),
            part: 0,
            parts: 1,
            device_id: "band-1".into(),
            wearer_id: WEARER.into(),
            app_version: "test".into(),
            received_at: Utc::now(),
            readings,
        };
        self.vitals.put_items(&vitals_items(&envelope, chrono::TimeDelta::days(400))).await.unwrap();
    }

    async fn run(&self, now: DateTime<Utc>) -> daily_summary::Summary {
        self.daily.process_within(now, None).await.0.unwrap()
    }

    async fn stored(&self, date: NaiveDate) -> Option<DaySummary> {
        self.daily.days.days(WEARER, date, date).await.unwrap().pop()
    }

    /// Four more wearers with the setup's caregiver, read two a page: five in all.
    async fn five_wearers_two_a_page(&mut self) {
        let first = self.directory.list().await.unwrap().remove(0);
        for n in 1..=4 {
            let profile = WearerProfile { wearer_id: format!("w-page-{n}"), ..first.clone() };
            self.directory.put(&profile).await.unwrap();
        }
        self.daily.page = 2;
    }

    /// The wearers in the order the job's pass reads them.
    async fn scan_order(&self) -> Vec<String> {
        let page = self.daily.inputs.wearers(None, 100).await.unwrap();
        page.wearers.into_iter().map(|w| w.wearer_id).collect()
    }

    async fn objects(&self, prefix: &str) -> usize {
        let out = self.s3.list_objects_v2().bucket(&self.r.data_bucket).prefix(prefix).send().await.unwrap();
        out.contents().len()
    }
}

#[tokio::test]
async fn a_day_is_computed_from_the_vitals_once_a_steep_fall_in_steps_is_raised_once_and_the_message_sent_once() {
    let s = setup("daily").await;
    // 20 ordinary days already stored (8,000 steps), then two of 3,000 in the vitals table.
    for n in 0..20 {
        s.daily.days.put_day(WEARER, &summary_of(day(n), 8_000)).await.unwrap();
    }
    for n in [20, 21] {
        s.upload(readings(day(n), 3_000, 24)).await;
    }

    let run = s.run(local(day(22), "00:30")).await;
    assert_eq!((run.wearers, run.wearers_done, run.trends_raised), (1, 1, 1), "{run:?}");
    // Day 21 just ended and day 20 (the day before) is always recomputed; the
    // complete days before are left alone.
    assert_eq!((run.days_computed, run.days_changed), (2, 2), "{run:?}");
    let d21 = s.stored(day(21)).await.expect("day 21 stored");
    assert!(d21.complete, "{d21:?}");
    assert!((2_900..=3_100).contains(&d21.steps), "{d21:?}");
    assert_eq!(d21.sleep_minutes, 8 * 60, "{d21:?}");
    let alerts = s.daily.inputs.alerts(WEARER, local(day(21), "00:00"), local(day(23), "00:00")).await.unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].alert.rule, RuleKind::BaselineDeviation);
    assert_eq!(s.objects("curated/days/").await, 2, "a file per changed date");
    assert!(s.objects("curated/alerts/").await >= 1, "the trend alert is curated");

    // An hour later: the day is stored, nothing is done again.
    let again = s.run(local(day(22), "01:30")).await;
    assert_eq!((again.wearers_done, again.days_computed, again.trends_raised), (0, 0, 0), "{again:?}");

    // 08:00 is the caregiver's hour: the message about day 21 goes once.
    assert_eq!(s.run(local(day(22), "07:30")).await.messages_sent, 0);
    assert_eq!(s.run(local(day(22), "08:30")).await.messages_sent, 1);
    assert_eq!(s.run(local(day(22), "09:30")).await.messages_sent, 0);
}

#[tokio::test]
async fn late_readings_for_a_past_day_are_taken_in_when_the_next_day_ends() {
    let s = setup("daily-late").await;
    // Day 0 arrives with only its first 8 hours: an incomplete day.
    s.upload(readings(day(0), 8_000, 8)).await;
    let first = s.run(local(day(1), "00:30")).await;
    assert_eq!(first.wearers_done, 1, "{first:?}");
    let d0 = s.stored(day(0)).await.unwrap();
    assert!(!d0.complete, "{d0:?}");
    assert_eq!(d0.worn_minutes, 8 * 60);

    // The phone syncs the rest of day 0 late, with day 1.
    s.upload(readings(day(0), 8_000, 24)).await;
    s.upload(readings(day(1), 8_000, 24)).await;
    let next = s.run(local(day(2), "00:30")).await;
    assert_eq!((next.wearers_done, next.days_changed), (1, 2), "{next:?}");
    let d0 = s.stored(day(0)).await.unwrap();
    assert!(d0.complete, "{d0:?}");
    assert_eq!(d0.worn_minutes, 24 * 60);
    assert_eq!(d0, summary_of(day(0), 8_000), "the recomputed day is the day as if on time");
}

#[tokio::test]
async fn the_wearers_are_read_a_page_at_a_time_and_every_page_is_done() {
    let mut s = setup("daily-pages").await;
    s.five_wearers_two_a_page().await;
    let run = s.run(local(day(1), "00:30")).await;
    assert_eq!((run.wearers, run.wearers_done, run.wearers_left, run.scan_unfinished), (5, 5, 0, false), "{run:?}");
    for id in ["w-daily", "w-page-1", "w-page-2", "w-page-3", "w-page-4"] {
        assert_eq!(s.daily.days.days(id, day(0), day(0)).await.unwrap().len(), 1, "{id}'s day is stored");
    }
    // The caregiver's record, read once per page, reaches every wearer's message.
    let morning = s.run(local(day(1), "08:30")).await;
    assert_eq!((morning.wearers, morning.messages_sent), (5, 5), "{morning:?}");

    // Too little time for a page: none is read, and the run says the scan is unfinished.
    let short = vigil_lambda::Deadline::after(std::time::Duration::from_secs(1), std::time::Duration::ZERO);
    let (cut, _) = s.daily.process_within(local(day(2), "00:30"), Some(short)).await;
    let cut = cut.unwrap();
    assert_eq!((cut.wearers, cut.wearers_done, cut.wearers_left, cut.scan_unfinished), (0, 0, 1, true), "{cut:?}");
    assert_eq!(
        s.daily.days.scan_position().await.unwrap(),
        None,
        "a run that read no page starts the next one at the first"
    );
}

#[tokio::test]
async fn a_run_starts_where_the_last_stopped_short_and_goes_round_to_where_it_began() {
    let mut s = setup("daily-resume").await;
    s.five_wearers_two_a_page().await;
    let order = s.scan_order().await;
    assert_eq!(order.len(), 5);
    let stored = |s: &Setup, date| {
        let days = s.daily.days.clone();
        let order = order.clone();
        async move {
            let mut n = 0;
            for id in &order {
                n += days.days(id, date, date).await.unwrap().len();
            }
            (n, days.scan_position().await.unwrap())
        }
    };

    // A run cut short keeps its position: here, before any page, where it began.
    s.daily.days.set_scan_position(Some(&order[0])).await.unwrap();
    let short = vigil_lambda::Deadline::after(std::time::Duration::from_secs(1), std::time::Duration::ZERO);
    let (cut, _) = s.daily.process_within(local(day(1), "00:30"), Some(short)).await;
    let cut = cut.unwrap();
    assert_eq!((cut.resumed, cut.wearers, cut.scan_unfinished), (true, 0, true), "{cut:?}");
    assert_eq!(stored(&s, day(0)).await, (0, Some(order[0].clone())));

    // The next run starts after the first wearer, reads to the last page, then the first
    // page up to that wearer (half of it): each of the five once, and the ring's end
    // clears the position.
    let run = s.run(local(day(1), "01:30")).await;
    assert_eq!((run.resumed, run.wearers, run.wearers_done, run.wearers_left), (true, 5, 5, 0), "{run:?}");
    assert_eq!(stored(&s, day(0)).await, (5, None));

    // A position whose wearer was erased since: the pass ends at the last page, the second
    // time round; every wearer is done once.
    s.daily.days.set_scan_position(Some("w-erased")).await.unwrap();
    let run = s.run(local(day(2), "00:30")).await;
    assert!(run.resumed && (5..=10).contains(&run.wearers) && run.wearers_done == 5, "{run:?}");
    assert_eq!(stored(&s, day(1)).await, (5, None));
}
