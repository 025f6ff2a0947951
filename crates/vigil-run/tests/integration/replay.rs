//! `vigil replay` against the local endpoint: records put on a real stream (moto) are
//! archived by raw-archiver twice over (two mappings with different batch sizes, so
//! every record is in two objects), then replayed from the archive to alert-processor
//! and to a second stream, each twice. Every record is replayed once per run, and the
//! second runs store nothing new and send no message again.

use std::time::Duration;

use aws_sdk_s3::primitives::Blob;
use chrono::{TimeDelta, Utc};
use vigil_domain::Envelope;
use vigil_domain::alerts::Language;
use vigil_domain::care::WearerProfile;
use vigil_domain::reading::Reading;
use vigil_domain::registry::DeviceLink;
use vigil_local::esm::{EventSourceMapping, FailedBatch, Lambda};
use vigil_local::provision::{Resources, create_stream, provision};
use vigil_run::ops::replay::{Options, Report, Target, replay};
use vigil_run::pipeline::Env;

/// Two wearers: A's records carry an SOS, B's are routine.
const A: (&str, &str) = ("wearer-rp-a", "band-rp-a");
const B: (&str, &str) = ("wearer-rp-b", "band-rp-b");
/// Envelopes put per wearer.
const ENVELOPES: u64 = 5;

fn envelope((wearer, device): (&str, &str), n: u64, sos: bool) -> Vec<u8> {
    let readings = (0..3)
        .map(|i| {
            let seq = n * 10 + i;
            let mut r = Reading::at((Utc::now() - TimeDelta::seconds(120 - seq as i64)).fixed_offset(), seq);
            r.heart_rate_bpm = Some(70);
            r.worn = Some(true);
            r.sos = sos.then_some(true);
            r
        })
        .collect();
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("{device}-{n}"),
        part: 0,
        parts: 1,
        device_id: device.into(),
        wearer_id: wearer.into(),
        app_version: "1.4.2".into(),
        received_at: Utc::now(),
        readings,
    })
    .unwrap()
}

/// SMS moto recorded to `phone`.
async fn sms_to(phone: &str) -> usize {
    let endpoint = vigil_local::endpoint::url();
    let all = tokio::task::spawn_blocking(move || vigil_local::moto::recorded_sms(&endpoint)).await.unwrap().unwrap();
    all.iter().filter(|s| s.phone_number == phone).count()
}

async fn items(sdk: &aws_config::SdkConfig, table: &str) -> usize {
    let out = vigil_aws::sdk::dynamodb(sdk).scan().table_name(table).send().await.unwrap();
    out.items().len()
}

#[tokio::test]
async fn replay_feeds_a_function_and_the_stream_once_per_record_and_twice_changes_nothing() {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources::unique("replay");
    provision(&sdk, &resources).await.unwrap();
    let key = [9u8; 32];
    let env = Env::for_resources(&resources, &hex::encode(key));
    let phone = format!("+1555{:07}", fastrand::u32(..10_000_000));
    for (wearer, device) in [A, B] {
        let profile = WearerProfile {
            wearer_id: wearer.into(),
            name: "Replay Test".into(),
            time_zone: "Europe/Madrid".into(),
            thresholds: Default::default(),
            caregivers: vec![vigil_testkit::caregiver("cg-1", "Ana", Language::Es, &phone)],
            snoozes: Default::default(),
            escalation: Default::default(),
        };
        let band = DeviceLink {
            device_id: device.into(),
            wearer_id: wearer.into(),
            app_users: vec!["app-user-rp".into()],
            time_zone: "Europe/Madrid".into(),
        };
        vigil_run::run::register_wearer(&sdk, &resources, &band, &profile).await.unwrap();
    }

    // The records, one at a time (moto's shards are not safe for concurrent puts).
    let from = Utc::now() - TimeDelta::seconds(5);
    let kinesis = vigil_aws::sdk::kinesis(&sdk);
    for n in 0..ENVELOPES {
        for (who, sos) in [(A, n == 2), (B, false)] {
            kinesis
                .put_record()
                .stream_name(&resources.stream)
                .partition_key(who.0)
                .data(Blob::new(envelope(who, n, sos)))
                .send()
                .await
                .unwrap();
        }
    }
    let total = (2 * ENVELOPES) as usize;

    // raw-archiver archives the stream twice (batches of 2, then of 3): two copies of each record.
    let raw_archiver = raw_archiver::build(&env, &sdk).await.unwrap();
    for batch in [2, 3] {
        let mut mapping = EventSourceMapping::for_tests(&resources.stream, batch)
            .start(&sdk, Lambda(&raw_archiver), Vec::<FailedBatch>::new())
            .await
            .unwrap();
        let stats = Box::pin(mapping.run_until_idle(Duration::from_secs(60))).await.unwrap();
        assert_eq!(stats.records_succeeded, total as u64);
    }
    let to = Utc::now() + TimeDelta::seconds(5);

    let options = |target: Target, wearer: Option<&str>, dry_run: bool| Options {
        from,
        to,
        wearer: wearer.map(str::to_owned),
        target,
        stream: resources.stream.clone(),
        dry_run,
        bucket: resources.data_bucket.clone(),
        lookback: TimeDelta::hours(1),
    };

    // A dry run of one wearer: counted, nothing sent.
    let dry = replay(&sdk, &env, &options(Target::Function("alert-processor".into()), Some(B.0), true)).await.unwrap();
    println!("dry run of {}: {dry:?}", B.0);
    assert_eq!(dry.records, ENVELOPES as usize, "only B's records");
    assert_eq!(dry.records_read, 2 * total, "every archived copy read");
    assert_eq!(dry.duplicates + dry.skipped, 2 * total - ENVELOPES as usize);
    assert_eq!(dry.batches, 0);
    assert_eq!(items(&sdk, &resources.alerts_table).await, 0, "a dry run invokes nothing");

    // To alert-processor, twice: one SOS alert and one SMS, whatever the number of runs.
    let mut runs: Vec<Report> = Vec::new();
    for _ in 0..2 {
        let report = Box::pin(replay(&sdk, &env, &options(Target::Function("alert-processor".into()), None, false)))
            .await
            .unwrap();
        println!("to alert-processor: {report:?}");
        assert_eq!(report.records, total, "each record once");
        assert_eq!(report.duplicates, total, "the second copies are dropped");
        assert_eq!(report.records_failed, 0, "{report:?}");
        assert!(report.objects >= 2, "{report:?}");
        let alerts = vigil_run::audit::alerts(&sdk, &resources.alerts_table).await.unwrap();
        let rules: Vec<(&str, &str)> = alerts.iter().map(|a| (a.wearer_id.as_str(), a.rule.as_str())).collect();
        assert_eq!(rules, [(A.0, "sos")], "one SOS, raised once over both runs");
        assert_eq!(sms_to(&phone).await, 1, "one SMS over both runs");
        runs.push(report);
    }
    let deliveries = items(&sdk, &resources.deliveries_table).await;
    assert!(deliveries >= 1);

    // To a second stream, twice: every record once per run, exactly as archived.
    let second = vigil_local::endpoint::unique_name("replay-again");
    create_stream(&kinesis, &second, 2).await.unwrap();
    for run in 1..=2 {
        let report = replay(&sdk, &env, &Options { stream: second.clone(), ..options(Target::Stream, None, false) })
            .await
            .unwrap();
        assert_eq!((report.records, report.records_failed), (total, 0), "{report:?}");
        let on_stream = vigil_local::stream::read_all(&kinesis, &second).await.unwrap();
        assert_eq!(on_stream.len(), run * total, "each run puts every record once");
        let mut datas: Vec<(String, Vec<u8>)> =
            on_stream.iter().map(|r| (r.partition_key.clone(), r.data.clone())).collect();
        datas.sort();
        datas.dedup();
        assert_eq!(datas.len(), total, "the records are the archived bytes, under their wearer's key");
    }

    // The stream functions reading that stream (four copies of each record by now)
    // store and send nothing new.
    let alert_processor = alert_processor::build(&env, &sdk).await.unwrap();
    let mut mapping = EventSourceMapping::for_tests(&second, 100)
        .start(&sdk, Lambda(&alert_processor), Vec::<FailedBatch>::new())
        .await
        .unwrap();
    let stats = Box::pin(mapping.run_until_idle(Duration::from_secs(60))).await.unwrap();
    assert_eq!(stats.records_succeeded, 2 * total as u64);
    assert_eq!(vigil_run::audit::alerts(&sdk, &resources.alerts_table).await.unwrap().len(), 1);
    assert_eq!(sms_to(&phone).await, 1, "no SMS sent twice");
    assert_eq!(items(&sdk, &resources.deliveries_table).await, deliveries, "no new delivery");
}
