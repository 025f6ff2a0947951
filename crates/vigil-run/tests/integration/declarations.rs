//! Each function's configuration code reads exactly the variables its
//! `functions/<name>/function.json` declares, its defaults are the declared ones, and
//! `vigil run` gives every function what the declaration says AWS gives it. With the
//! stack tests (infra/test) comparing the template with the same files, a setting can
//! no longer differ between the code, the stack, the local runner and docs/functions.md.

use std::collections::BTreeSet;
use std::sync::Mutex;

use vigil_alerting::aws::AlertPathConfig;
use vigil_domain::config::Source;
use vigil_local::declaration::{Declaration, FUNCTIONS};
use vigil_local::provision::Resources;
use vigil_run::pipeline::Env;

/// An environment that notes every variable read.
#[derive(Debug, Default)]
struct Recorded {
    vars: Vec<(String, String)>,
    read: Mutex<BTreeSet<String>>,
}

impl Source for Recorded {
    fn get(&self, name: &str) -> Option<String> {
        self.read.lock().unwrap().insert(name.to_owned());
        self.vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }
}

/// The environment of `d`: resources named after their variable, and, as asked, the
/// declared defaults and the variables given only in local runs.
fn environment(d: &Declaration, defaults: bool, local: bool) -> Recorded {
    let vars = d
        .environment
        .iter()
        .filter_map(|(name, v)| {
            let value = match (&v.resource, &v.default) {
                (Some(_), _) => format!("test-{}", name.to_lowercase()),
                (_, Some(default)) if defaults => default.clone(),
                _ if v.local && local => "ab".repeat(32),
                _ => return None,
            };
            Some((name.clone(), value))
        })
        .collect();
    Recorded { vars, ..Recorded::default() }
}

/// Builds function `name` from `src` with its own `build`, as its `main` does (bench_cold.rs too).
pub(crate) async fn build(name: &str, src: &impl Source, sdk: &aws_config::SdkConfig) -> Result<(), String> {
    let e = |e: &dyn std::error::Error| e.to_string();
    match name {
        "ingest-api" => ingest_api::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "care-api" => care_api::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "ack-link" => ack_link::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "sms-reply" => sms_reply::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "alert-processor" => alert_processor::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "offline-detector" => offline_detector::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "raw-archiver" => raw_archiver::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "vitals-writer" => vitals_writer::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "warehouse-loader" => warehouse_loader::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        "daily-summary" => daily_summary::build(src, sdk).await.map(drop).map_err(|x| e(&x)),
        other => panic!("{other} has no build here: add it"),
    }
}

/// Function `name`'s settings as its configuration code reads them from `src`.
fn settings(name: &str, src: &Recorded) -> String {
    match name {
        "ingest-api" => format!("{:?}", ingest_api::IngestConfig::from_source(src)),
        "care-api" => format!("{:?}", care_api::CareConfig::from_source(src)),
        "ack-link" => format!("{:?}", ack_link::AckLinkConfig::from_source(src)),
        "sms-reply" => format!("{:?}", sms_reply::ReplyConfig::from_source(src)),
        "alert-processor" => format!("{:?}", AlertPathConfig::from_source(src)),
        "offline-detector" => format!("{:?}", AlertPathConfig::from_source(src)),
        "raw-archiver" => format!("{:?}", raw_archiver::config::Config::from_source(src)),
        "vitals-writer" => format!("{:?}", vitals_writer::VitalsConfig::from_source(src)),
        "warehouse-loader" => format!("{:?}", warehouse_loader::Config::from_source(src)),
        "daily-summary" => {
            format!("{:?} {:?}", AlertPathConfig::from_source(src), daily_summary::DailyConfig::from_source(src))
        }
        other => panic!("{other} has no settings here: add it"),
    }
}

#[tokio::test]
async fn every_function_reads_what_it_declares_with_the_declared_defaults() {
    let sdk = vigil_local::endpoint::require().await;
    for (name, _) in FUNCTIONS {
        let d = Declaration::of(name).unwrap();
        let declared: BTreeSet<String> = d.environment.keys().cloned().collect();

        // As in AWS (a secret instead of the key: fetching it from the endpoint fails
        // here, after every variable was read) and as locally (the key itself).
        let aws = environment(&d, true, false);
        let _ = build(name, &aws, &sdk).await;
        let local = environment(&d, true, true);
        build(name, &local, &sdk).await.unwrap_or_else(|e| panic!("{name} does not start on its declaration: {e}"));
        let mut read = aws.read.into_inner().unwrap();
        read.extend(local.read.into_inner().unwrap());
        assert_eq!(read, declared, "{name}: the variables its code reads (left) vs function.json (right)");

        // The declared defaults are the code's: setting them changes nothing.
        let given = settings(name, &environment(&d, true, true));
        let unset = settings(name, &environment(&d, false, true));
        assert!(given.contains("Ok("), "{name}: {given}");
        assert_eq!(given, unset, "{name}: a declared default differs from the code's");
    }
}

#[test]
fn vigil_run_gives_each_function_its_declared_resources() {
    // Locally there is no Redshift (PostgreSQL stands in) and no Secrets Manager (the
    // pseudonym and link keys themselves are given, the declared `local` variables);
    // the link base URL is the local gateway's address, set once it listens (run.rs).
    let not_local =
        ["pseudonymKeySecret", "linkKeySecret", "linkBaseUrl", "redshiftWorkgroup", "redshiftDatabase", "copyRole"];
    let env = Env::for_resources(&Resources::unique("decl"), &"ab".repeat(32));
    for (name, _) in FUNCTIONS {
        for (var, v) in &Declaration::of(name).unwrap().environment {
            let needed = v.local || v.resource.as_deref().is_some_and(|r| !not_local.contains(&r));
            if needed {
                assert!(env.get(var).is_some(), "vigil run does not give {name} its {var}");
            }
        }
    }
}
