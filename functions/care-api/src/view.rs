//! What the caregivers' API answers: alerts, steps of their history and wearers
//! as JSON (the schemas of `docs/care-api.yaml`). Caregivers are shown by their
//! profile id and the name the profile gives them; nothing else about them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use vigil_domain::alerts::RuleKind;
use vigil_domain::care::WearerProfile;
use vigil_domain::lifecycle::{AlertRecord, SYSTEM_ACTOR, Transition};
use vigil_domain::vitals::Shadow;

/// The wearer's first name: what the caregivers' app shows in a list.
pub fn first_name(profile: &WearerProfile) -> &str {
    profile.name.split_whitespace().next().unwrap_or("")
}

/// Who took a step, as other caregivers see them.
fn actor(profile: &WearerProfile, id: &str) -> Value {
    if id == SYSTEM_ACTOR {
        return json!({"caregiver_id": id, "name": "Vigil"});
    }
    let name = profile.caregiver(id).and_then(|c| c.name.clone());
    json!({"caregiver_id": id, "name": name})
}

fn step(profile: &WearerProfile, t: &Transition) -> Value {
    let mut v = json!({"status": t.to.as_str(), "at": t.at, "by": actor(profile, &t.by), "via": t.via.as_str()});
    if let Some(outcome) = t.outcome {
        v["outcome"] = json!(outcome.as_str());
    }
    v
}

/// A map link for where an SOS or a fall happened.
fn place(record: &AlertRecord) -> Value {
    let located = matches!(record.alert.rule, RuleKind::Sos | RuleKind::Fall);
    match record.alert.location.filter(|_| located) {
        Some(l) => json!({
            "lat": l.lat, "lon": l.lon, "accuracy_m": l.accuracy_m,
            "map": format!("https://www.openstreetmap.org/?mlat={}&mlon={}#map=17/{}/{}", l.lat, l.lon, l.lat, l.lon),
        }),
        None => Value::Null,
    }
}

pub fn alert(profile: &WearerProfile, record: &AlertRecord) -> Value {
    let a = &record.alert;
    let resolved = record.resolved.as_ref().map(|t| {
        let mut v = step(profile, t);
        v["note"] = json!(record.note);
        v
    });
    json!({
        "alert_id": a.id.as_str(),
        "wearer_id": a.wearer_id,
        "rule": a.rule.as_str(),
        "severity": a.severity.as_str(),
        "raised_at": a.raised_at,
        "episode_start": a.episode_start,
        "value": a.value,
        "where": place(record),
        "status": record.status.as_str(),
        "snoozed": record.snoozed,
        "acknowledged": record.acknowledged.as_ref().map(|t| step(profile, t)),
        "resolved": resolved,
        "history": record.history.iter().map(|t| step(profile, t)).collect::<Vec<_>>(),
    })
}

/// The shadow's measurements, as of `last_seen`.
pub fn vitals(shadow: &Shadow) -> Value {
    json!({
        "heart_rate_bpm": shadow.heart_rate_bpm,
        "spo2_pct": shadow.spo2_pct,
        "skin_temp_c": shadow.skin_temp_c,
        "battery_pct": shadow.battery_pct,
        "worn": shadow.worn,
        "activity": shadow.activity.map(|a| a.as_str()),
        "sleep_stage": shadow.sleep_stage.map(|s| s.as_str()),
        "app_version": shadow.app_version,
    })
}

pub fn snoozes(profile: &WearerProfile, now: DateTime<Utc>) -> Value {
    let active: Vec<Value> = profile
        .active_snoozes(now)
        .map(|(rule, s)| json!({"rule": rule.as_str(), "until": s.until, "by": actor(profile, &s.by)}))
        .collect();
    Value::Array(active)
}
