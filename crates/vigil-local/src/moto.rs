//! What moto's server recorded: the SMS it "sent" (`GET /moto-api/data.json`,
//! under `sns` → `SMS`). LocalStack keeps them at `/_aws/sns/sms-messages`
//! instead; the local runner reads whichever answers.

use serde::Deserialize;

/// One SMS as moto recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RecordedSms {
    pub phone_number: String,
    pub message: String,
    #[serde(default)]
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("reading moto's recorded SMS at {url}: {message}")]
pub struct MotoError {
    pub url: String,
    pub message: String,
}

/// How often `data.json` is asked again after a 500. moto builds it by checking
/// that each model attribute serializes and then serializing them all again; a
/// table another client writes to in between (a new item under a `DynamoType` key)
/// makes the second pass fail: a race of moto's, seen when tests run in parallel.
const DATA_ATTEMPTS: u32 = 5;

/// Every SMS moto has recorded since it started (or since its last reset).
/// Blocking: call it from `spawn_blocking` in async code.
pub fn recorded_sms(endpoint: &str) -> Result<Vec<RecordedSms>, MotoError> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    let err = |message: String| MotoError { url: url.clone(), message };
    let mut attempt = 1;
    let mut response = loop {
        match ureq::get(&url).call() {
            Err(ureq::Error::StatusCode(500)) if attempt < DATA_ATTEMPTS => {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            other => break other.map_err(|e| err(e.to_string()))?,
        }
    };
    let body = response
        .body_mut()
        // moto's whole state: it grows with everything a long-lived server holds
        // (tens of MB after a day of test runs), past ureq's 10 MB default.
        .with_config()
        .limit(1 << 30)
        .read_to_string()
        .map_err(|e| err(e.to_string()))?;
    let data: serde_json::Value = serde_json::from_str(&body).map_err(|e| err(e.to_string()))?;
    // The `sns` key appears only after the first publish.
    match data.get("sns").and_then(|sns| sns.get("SMS")) {
        None => Ok(Vec::new()),
        Some(list) => serde_json::from_value(list.clone()).map_err(|e| err(e.to_string())),
    }
}
