use std::time::Duration;

use vigil_domain::config::{self as env, ConfigError, Source};

/// What ack-link reads from its environment besides the link key and the curated
/// alerts (see `build`), once, at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckLinkConfig {
    /// `ALERTS_TABLE`: alerts with their lifecycle.
    pub alerts_table: String,
    /// `WEARERS_TABLE`: wearer profiles (the caregiver a link names, their language).
    pub wearers_table: String,
    /// `CAREGIVERS_TABLE`: caregiver records (language) the profiles link to.
    pub caregivers_table: String,
    /// `REQUEST_BUDGET_MS` (default 4000): time for one request's store calls
    /// before it is answered 503; also capped by the invocation deadline.
    pub budget: Duration,
}

impl AckLinkConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            caregivers_table: env::required(src, "CAREGIVERS_TABLE", "the caregivers DynamoDB table")?,
            budget: env::millis_or(src, "REQUEST_BUDGET_MS", Duration::from_millis(4_000))?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    const ALL: [(&str, &str); 3] = [("ALERTS_TABLE", "a"), ("WEARERS_TABLE", "w"), ("CAREGIVERS_TABLE", "c")];

    #[test]
    fn defaults_apply_and_missing_variables_are_named() {
        let cfg = AckLinkConfig::from_source(&ALL).unwrap();
        assert_eq!((cfg.alerts_table.as_str(), cfg.budget), ("a", Duration::from_secs(4)));
        let set = AckLinkConfig::from_source(&[ALL[0], ALL[1], ALL[2], ("REQUEST_BUDGET_MS", "250")]);
        assert_eq!(set.unwrap().budget, Duration::from_millis(250));
        for skip in 0..ALL.len() {
            let mut partial = ALL;
            partial[skip].0 = "UNRELATED";
            let err = AckLinkConfig::from_source(&partial).unwrap_err();
            assert!(err.to_string().contains(ALL[skip].0), "{err}");
        }
    }
}
