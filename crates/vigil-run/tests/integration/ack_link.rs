//! The acknowledgement link in a real browser: headless Chromium opens an SMS's
//! link through the local API Gateway (a public route: no token) in front of
//! ack-link built by its own `build`, on the local endpoint; it sees the alert,
//! taps "I'm on my way", and the alerts table then holds the acknowledgement by
//! that caregiver through the link. A forged link gets the refusal page.
//!
//! Needs Chromium (`apt-get install -y chromium`; `make test` installs it): the
//! test fails without it, it does not skip.

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use headless_chrome::{Browser, LaunchOptions};
use vigil_aws::alerts::DynamoAlertStore;
use vigil_aws::wearers::DynamoWearerDirectory;
use vigil_domain::alerts::{Alert, AlertId, Language, RuleKind};
use vigil_domain::care::{Caregiver, WearerProfile};
use vigil_domain::config::Source;
use vigil_domain::lifecycle::{AlertStatus, Via};
use vigil_domain::link::{LINK_TTL, LinkClaim, LinkKey};
use vigil_domain::ports::AlertStore;
use vigil_domain::reading::Location;
use vigil_run::gateway::{self, LocalIssuer};
use vigil_run::pipeline::{ApiBackend, Env};

/// The Chromium to drive: `$CHROME`, else `chromium` (Debian's package) or another
/// usual name on the PATH. None is a failure, with what to do about it.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROME") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Chromium for the acknowledgement page's browser test: install it (apt-get install -y chromium; \
         `make test` does) or point $CHROME at one"
    );
}

fn caregiver(id: &str, name: &str, language: Language) -> Caregiver {
    vigil_testkit::caregiver(id, name, language, "+34600111222")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caregiver_acknowledges_from_the_link_in_a_real_browser() {
    let started = Instant::now();
    let chrome = chromium();
    let sdk = vigil_local::endpoint::require().await;
    let resources =
        vigil_local::provision::Resources { stream_shards: 1, ..vigil_local::provision::Resources::unique("ack") };
    vigil_local::provision::provision(&sdk, &resources).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let profile = WearerProfile {
        wearer_id: "w-link".into(),
        name: "Carmen Ruiz".into(),
        time_zone: "Europe/Madrid".into(),
        thresholds: Default::default(),
        caregivers: vec![caregiver("cg-ana", "Ana", Language::Es), caregiver("cg-ben", "Ben", Language::En)],
        snoozes: Default::default(),
        escalation: Default::default(),
    };
    DynamoWearerDirectory::new(dynamodb.clone(), &resources.wearers_table, &resources.caregivers_table)
        .put(&profile)
        .await
        .unwrap();
    let at = Utc::now() - chrono::Duration::minutes(2);
    let sos = Alert {
        id: AlertId::new("w-link", RuleKind::Sos, at),
        wearer_id: "w-link".into(),
        rule: RuleKind::Sos,
        severity: RuleKind::Sos.severity(),
        episode_start: at,
        raised_at: at,
        readings: vec![],
        location: Some(Location { lat: 40.41678, lon: -3.70379, accuracy_m: Some(8.0) }),
        value: None,
    };
    let alerts = DynamoAlertStore::new(dynamodb, &resources.alerts_table);
    assert!(alerts.put_alert(&sos, false).await.unwrap());

    // The run's environment, as `vigil run` gives it: the link key the SMS links are signed with.
    let env = Env::for_resources(&resources, &"ab".repeat(32));
    let key = LinkKey::new(env.get("LINK_KEY").expect("vigil run gives LINK_KEY").as_bytes()).unwrap();
    let backend =
        Arc::new(ApiBackend::build(&sdk, &env, vigil_run::clock::SimClock::new(Utc::now(), 1.0)).await.unwrap());
    let issuer = Arc::new(LocalIssuer::generate().unwrap());
    let (addr, server) = gateway::serve(SocketAddr::from(([127, 0, 0, 1], 0)), issuer, backend).await.unwrap();

    // Ben's link (caregiver 1), as alert-processor puts it in his SMS.
    let token = key.sign(&LinkClaim::new(sos.id.as_str(), 1, Utc::now() + LINK_TTL).unwrap());
    let link = format!("http://{addr}/a/{token}");
    let mut forged = token.clone().into_bytes();
    forged[30] = if forged[30] == b'A' { b'B' } else { b'A' };
    let forged = format!("http://{addr}/a/{}", String::from_utf8(forged).unwrap());

    let (page, refused) = (link.clone(), forged.clone());
    let (before, after, button_colour, refusal) = tokio::task::spawn_blocking(move || {
        let options = LaunchOptions::default_builder()
            .path(Some(chrome))
            .headless(true)
            // As root in a container: Chromium's sandbox needs user namespaces it may not get.
            .sandbox(false)
            .args(vec![OsStr::new("--disable-dev-shm-usage"), OsStr::new("--lang=en-GB")])
            .idle_browser_timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let browser = Browser::new(options).expect("Chromium starts");
        let tab = browser.new_tab().unwrap();
        tab.set_default_timeout(Duration::from_secs(10));
        tab.navigate_to(&page).unwrap().wait_until_navigated().unwrap();
        let before = tab.get_content().unwrap();
        // The inline style applies under the page's Content-Security-Policy.
        let colour = tab
            .evaluate("getComputedStyle(document.querySelector('button')).backgroundColor", false)
            .unwrap()
            .value
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        tab.wait_for_element("button").unwrap().click().unwrap();
        tab.wait_for_element("p.status").unwrap();
        let after = tab.get_content().unwrap();
        tab.navigate_to(&refused).unwrap().wait_until_navigated().unwrap();
        let refusal = tab.get_content().unwrap();
        (before, after, colour, refusal)
    })
    .await
    .unwrap();

    assert!(before.contains("SOS: Carmen") && before.contains("I'm on my way</button>"), "{before}");
    assert_eq!(button_colour, "rgb(11, 107, 47)", "the inline style is applied");
    assert!(after.contains("Thanks, Ben: the other caregivers see you are on your way."), "{after}");
    assert!(!after.contains("<button"), "{after}");
    let stored = alerts.get(sos.id.as_str()).await.unwrap().unwrap();
    let ack = stored.acknowledged.clone().unwrap();
    assert_eq!((stored.status, ack.by.as_str(), ack.via), (AlertStatus::Acknowledged, "cg-ben", Via::Link));
    assert_eq!(stored.history.len(), 1);
    assert!(refusal.contains("This link is not valid"), "{refusal}");
    assert!(!refusal.contains("Carmen"), "{refusal}");

    // The same through plain HTTP: the statuses, and the page needs no token.
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).build());
    let status = |url: String, method: &'static str| {
        let agent = agent.clone();
        move || {
            let request = ureq::http::Request::builder().method(method).uri(url).body(()).unwrap();
            agent.run(request).unwrap().status().as_u16()
        }
    };
    assert_eq!(tokio::task::spawn_blocking(status(forged, "GET")).await.unwrap(), 404);
    assert_eq!(tokio::task::spawn_blocking(status(link, "GET")).await.unwrap(), 200);
    assert_eq!(
        tokio::task::spawn_blocking(status(format!("http://{addr}/a/{token}"), "PUT")).await.unwrap(),
        404,
        "the gateway routes GET and POST only"
    );
    server.abort();
    assert!(started.elapsed() < Duration::from_secs(30), "took {:?}", started.elapsed());
}
