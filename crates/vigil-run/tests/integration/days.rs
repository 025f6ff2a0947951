//! `vigil days` against the endpoint on :4566: a short play of two wearers, one
//! with a planted change and one stable, their readings written as vitals items
//! and the real daily-summary run on the simulated hourly clock.

use chrono::NaiveDate;
use vigil_run::days_play::{self, MAX_DELAY_DAYS, Options};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_play_catches_the_change_in_time_raises_no_false_trend_and_sends_one_message_a_day() {
    let sdk = vigil_local::endpoint::require().await;
    // 26 days (the fewest) from 2026-10-10: Madrid's 25-hour day (10-25) is played.
    let from = NaiveDate::from_ymd_opt(2026, 10, 10).unwrap();
    let opts = Options { days: 26, wearers: 2, seed: 3, from, progress: false, vitals_table: false };
    let report = Box::pin(days_play::play(&sdk, &opts)).await.unwrap();
    println!("{}", report.table());

    let [changed, stable] = &report.wearers[..] else { panic!("two wearers: {report:?}") };
    assert_eq!((changed.time_zone.as_str(), stable.time_zone.as_str()), ("Europe/Madrid", "America/Sao_Paulo"));
    assert!(changed.planted.is_some() && stable.planted.is_none(), "{report:?}");
    let delay = changed.delay_days.expect("the planted change was detected");
    assert!((0..=MAX_DELAY_DAYS).contains(&delay), "detected {delay} days after its start: {changed:?}");
    assert!(changed.features.iter().any(|f| Some(f.as_str()) == changed.planted_feature), "{changed:?}");
    assert_eq!((changed.false_trends, changed.repeat_alerts, stable.false_trends), (0, 0, 0), "{report:?}");
    assert_eq!(report.function.trends_raised, 1, "one change, one alert: {report:?}");
    for w in &report.wearers {
        assert_eq!((w.days_stored, w.days_complete), (26, 26), "every played day stored, complete: {w:?}");
    }

    // One opted-in caregiver per wearer, a message about each stored day whose hour came.
    assert_eq!(report.caregivers_opted_in, 2);
    assert!(report.messages_expected >= 2 * 26, "{report:?}");
    assert_eq!(report.messages_sent, report.messages_expected, "{report:?}");
    assert_eq!((report.messages_missing, report.messages_unexpected), (0, 0), "{report:?}");
    assert_eq!(report.function.failed_runs, 0);
    assert!(report.problems().is_empty(), "{:?}", report.problems());
}
