//! `vigil erase` on the endpoint and PostgreSQL: three wearers' data put in every
//! store by the functions themselves (raw-archiver, vitals-writer, alert-processor
//! with its notifications and escalation steps, the quarantine, warehouse-loader),
//! one wearer erased; that wearer is nowhere, the others' counts are unchanged, and
//! the verification catches what is put back.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_lambda_events::event::kinesis::KinesisEvent;
use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use vigil_aws::erasure::{self, Needles};
use vigil_curated::Pseudonymizer;
use vigil_domain::ports::WearerDirectory as _;
use vigil_domain::{Envelope, Reading};
use vigil_lambda::stream::StreamFunction as _;
use vigil_local::provision::{self, Resources};
use vigil_run::fleet::{Fleet, FleetConfig};
use vigil_run::observe::{Live, SentLog};
use vigil_run::ops::erase::{self, Args, Retention, Stores};
use vigil_run::pipeline::{Env, Functions};
use vigil_run::warehouse::PgWarehouse;

struct Seeded {
    sdk: aws_config::SdkConfig,
    resources: Resources,
    fleet: Fleet,
    pseudonymizer: Pseudonymizer,
    warehouse_url: Option<String>,
}

fn envelope(w: &vigil_run::fleet::SimWearer, start: DateTime<Utc>, seq0: u64, sos: bool) -> Vec<u8> {
    let readings = (0..12u64)
        .map(|i| {
            let mut r = Reading::at((start + TimeDelta::seconds(5 * i as i64)).fixed_offset(), seq0 + i);
            r.heart_rate_bpm = Some(70);
            r.spo2_pct = Some(97);
            r.worn = Some(true);
            r.battery_pct = Some(80);
            r.sos = (sos && i == 11).then_some(true);
            r
        })
        .collect();
    serde_json::to_vec(&Envelope {
        v: 1,
        batch_id: format!("b-{seq0}"),
        part: 0,
        parts: 1,
        device_id: w.device.device_id.clone(),
        wearer_id: w.profile.wearer_id.clone(),
        app_version: "1.4.2".into(),
        received_at: start + TimeDelta::minutes(1),
        readings,
    })
    .unwrap()
}

fn event(first: u64, records: Vec<Vec<u8>>) -> KinesisEvent {
    let records =
        records.into_iter().enumerate().map(|(i, data)| vigil_testkit::kinesis::record(first + i as u64, data));
    vigil_testkit::kinesis::event(records.collect())
}

/// Three wearers' data in every store, written by the functions.
async fn seeded(with_warehouse: bool) -> Seeded {
    let sdk = vigil_local::endpoint::require().await;
    let resources = Resources { stream_shards: 1, ..Resources::unique("erase") };
    provision::provision(&sdk, &resources).await.unwrap();
    // A versioned lake: erasure must take the older versions too.
    let s3 = vigil_aws::sdk::s3(&sdk);
    s3.put_bucket_versioning()
        .bucket(&resources.data_bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let key = [42u8; 32];
    let env = Env::for_resources(&resources, &hex::encode(key));
    let start = (Utc::now() - TimeDelta::minutes(10)).trunc_subsecs(0);
    let fleet = Fleet::new(&FleetConfig {
        wearers: 3,
        start,
        duration: TimeDelta::minutes(10),
        seed: 5,
        ..FleetConfig::new(start)
    });
    vigil_run::run::register(&sdk, &resources, &fleet).await.unwrap();
    let functions =
        Functions::build(&sdk, &env, Arc::new(SentLog::new(None)), Arc::new(Live::default())).await.unwrap();
    let now = start + TimeDelta::minutes(2);
    let w = &fleet.wearers;
    // One batch of every wearer (its raw object and curated file are shared: rewritten),
    // with a poison record of each (quarantined); then one of the first wearer alone
    // (its objects are the wearer's only: deleted), and every wearer pressing SOS.
    let cut = |data: Vec<u8>| data[..data.len() / 2].to_vec();
    let batches = [
        event(
            1,
            vec![
                envelope(&w[0], start, 100, false),
                envelope(&w[1], start, 200, false),
                envelope(&w[2], start, 300, false),
                cut(envelope(&w[0], start, 400, false)),
                cut(envelope(&w[1], start, 500, false)),
            ],
        ),
        event(10, vec![envelope(&w[0], start + TimeDelta::minutes(1), 112, true)]),
        event(
            20,
            vec![
                envelope(&w[1], start + TimeDelta::minutes(1), 212, true),
                envelope(&w[2], start + TimeDelta::minutes(1), 312, true),
            ],
        ),
    ];
    for batch in batches {
        for (name, failures) in [
            ("raw-archiver", functions.raw_archiver.process_batch(batch.clone(), now).await.0),
            ("vitals-writer", functions.vitals_writer.process_batch(batch.clone(), now).await.0),
            ("alert-processor", functions.alert_processor.process_batch(batch.clone(), now).await.0),
        ] {
            assert!(failures.batch_item_failures.is_empty(), "{name} failed records");
        }
    }
    // Each wearer's days (the one with readings among them), by the daily job two days on.
    let days = functions.daily_summary.process_within(now + TimeDelta::days(2), None).await.0.unwrap();
    assert_eq!(days.wearers_done, 3, "{days:?}");
    let warehouse_url = if with_warehouse {
        let admin = std::env::var("VIGIL_PG_URL")
            .expect("VIGIL_PG_URL is not set: `bash scripts/pg.sh start` and `eval \"$(bash scripts/pg.sh env)\"`");
        let database = resources.data_bucket.replace(['-', '.'], "_");
        let warehouse = PgWarehouse::create(&sdk, &admin, &database, &env).await.unwrap();
        while warehouse.load(now + TimeDelta::minutes(5)).await.unwrap().0 > 0 {}
        Some(warehouse.url().to_owned())
    } else {
        None
    };
    Seeded { sdk, resources, fleet, pseudonymizer: Pseudonymizer::new(&key).unwrap(), warehouse_url }
}

fn args(s: &Seeded, wearer: &str) -> Args {
    Args {
        wearer: wearer.to_owned(),
        dry_run: false,
        receipt: None,
        warehouse_url: s.warehouse_url.clone(),
        redshift_workgroup: None,
        redshift_database: None,
        redshift_secret_arn: None,
        stores: Stores::of(&s.resources),
        retention: Retention { stream_retention_hours: 168, pitr_days: 35, backup_days: 35, failure_queue_days: 14 },
    }
}

/// Every store's count of each wearer: (store, wearer) → items, records or rows, from
/// the verification's own full scan with that wearer's identifiers.
async fn counts(s: &Seeded) -> BTreeMap<(&'static str, String), u64> {
    let dynamodb = vigil_aws::sdk::dynamodb(&s.sdk);
    let mut out = BTreeMap::new();
    for w in &s.fleet.wearers {
        let id = w.profile.wearer_id.clone();
        let alerts = erasure::scan_table(&dynamodb, &s.resources.alerts_table, &Needles::new([id.clone()]), |_| {})
            .await
            .unwrap()
            .keys
            .iter()
            .map(|k| k["alert_id"].as_s().unwrap().clone())
            .collect::<Vec<_>>();
        let pseudonym = s.pseudonymizer.wearer(&id);
        let needles = Needles::new(
            [id.clone(), w.device.device_id.clone(), pseudonym.as_str().to_owned()].into_iter().chain(alerts),
        );
        for hit in erase::verify(&s.sdk, &args(s, &id), &needles, &pseudonym).await.unwrap() {
            *out.entry((hit.store, id.clone())).or_default() += hit.count;
        }
    }
    out
}

const STORES: [&str; 14] = [
    "devices",
    "wearers",
    "caregiver_links",
    "rule_state",
    "vitals",
    "days",
    "alerts",
    "deliveries",
    "curated_files",
    "raw_archive",
    "curated",
    "quarantine",
    "warehouse_readings",
    "warehouse_alerts",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wearer_is_erased_from_every_store_and_the_others_are_untouched() {
    let s = Box::pin(seeded(true)).await;
    let ids: Vec<String> = s.fleet.wearers.iter().map(|w| w.profile.wearer_id.clone()).collect();
    let before = counts(&s).await;
    for store in STORES {
        let holding = ids.iter().filter(|id| before.get(&(store, (*id).clone())).copied().unwrap_or(0) > 0).count();
        assert!(holding >= 2, "{store} holds data of {holding} wearers before: {before:?}");
    }
    let gone = ids[0].clone();

    // A dry run counts and changes nothing.
    let dry = erase::erase(&s.sdk, &Args { dry_run: true, ..args(&s, &gone) }, &s.pseudonymizer).await.unwrap();
    assert_eq!(dry.verified, None);
    assert!(dry.stores["raw_archive"].found > 0 && dry.stores["raw_archive"].removed == 0, "{dry:?}");
    assert_eq!(counts(&s).await, before, "a dry run changed something");

    let receipt = erase::erase(&s.sdk, &args(&s, &gone), &s.pseudonymizer).await.unwrap();
    println!("{}", serde_json::to_string_pretty(&receipt).unwrap());
    assert_eq!(receipt.verified, Some(true), "{:?}", receipt.hits);
    let text = serde_json::to_string(&receipt).unwrap();
    assert!(!text.contains(&gone) && !text.contains(&s.fleet.wearers[0].device.device_id), "no ids in the receipt");
    assert!(receipt.stores["escalation_steps"].removed > 0, "{receipt:?}");
    assert!(receipt.stores["raw_archive"].objects_rewritten > 0 && receipt.stores["raw_archive"].objects_deleted > 0);
    assert!(receipt.stores["raw_archive"].old_versions_deleted > 0, "the older versions went too");

    let after = counts(&s).await;
    println!("store                before(erased) after(erased) before(others) after(others)");
    for store in STORES {
        let of =
            |m: &BTreeMap<(&'static str, String), u64>, id: &String| m.get(&(store, id.clone())).copied().unwrap_or(0);
        let others = |m| ids[1..].iter().map(|id| of(m, id)).sum::<u64>();
        println!(
            "{store:20} {:>14} {:>13} {:>14} {:>13}",
            of(&before, &gone),
            of(&after, &gone),
            others(&before),
            others(&after)
        );
        assert_eq!(of(&after, &gone), 0, "{store} still holds the erased wearer");
        for id in &ids[1..] {
            assert_eq!(of(&after, id), of(&before, id), "{store}: another wearer's data changed");
        }
    }
    // Read back through the adapters too.
    let dynamodb = vigil_aws::sdk::dynamodb(&s.sdk);
    let wearers = vigil_aws::wearers::DynamoWearerDirectory::new(
        dynamodb.clone(),
        &s.resources.wearers_table,
        &s.resources.caregivers_table,
    );
    assert!(wearers.wearer(&gone).await.unwrap().is_none());
    assert!(wearers.wearer(&ids[1]).await.unwrap().is_some());
    let vitals = vigil_aws::vitals::DynamoVitalsStore::new(dynamodb, &s.resources.vitals_table);
    assert!(vitals.latest(&gone).await.unwrap().is_none(), "no latest state of the erased wearer");
    assert!(vitals.latest(&ids[2]).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verification_finds_what_is_put_back() {
    let s = Box::pin(seeded(false)).await;
    let w = &s.fleet.wearers[1];
    let receipt = erase::erase(&s.sdk, &args(&s, &w.profile.wearer_id), &s.pseudonymizer).await.unwrap();
    assert_eq!(receipt.verified, Some(true), "{:?}", receipt.hits);

    // The profile registered again, and a stray copy of a record in the quarantine.
    vigil_run::run::register_wearer(&s.sdk, &s.resources, &w.device, &w.profile).await.unwrap();
    vigil_aws::sdk::s3(&s.sdk)
        .put_object()
        .bucket(&s.resources.quarantine_bucket)
        .key("quarantine/manual/copy.json")
        .body(envelope(w, Utc::now(), 1, false).into())
        .send()
        .await
        .unwrap();
    let again = erase::erase(&s.sdk, &Args { dry_run: true, ..args(&s, &w.profile.wearer_id) }, &s.pseudonymizer)
        .await
        .unwrap();
    assert!(again.stores["wearers"].found == 1 && again.stores["quarantine"].found == 1, "{again:?}");
    let pseudonym = s.pseudonymizer.wearer(&w.profile.wearer_id);
    let needles =
        Needles::new([w.profile.wearer_id.clone(), w.device.device_id.clone(), pseudonym.as_str().to_owned()]);
    let hits = erase::verify(&s.sdk, &args(&s, &w.profile.wearer_id), &needles, &pseudonym).await.unwrap();
    let stores: Vec<&str> = hits.iter().map(|h| h.store).collect();
    for store in ["devices", "wearers", "quarantine"] {
        assert!(stores.contains(&store), "{store} not caught: {hits:?}");
    }
    // A second erasure removes what was put back.
    let receipt = erase::erase(&s.sdk, &args(&s, &w.profile.wearer_id), &s.pseudonymizer).await.unwrap();
    assert_eq!(receipt.verified, Some(true), "a second erasure cleans up: {:?}", receipt.hits);
}
