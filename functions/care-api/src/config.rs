use std::time::Duration;

use vigil_domain::config::{self as env, ConfigError, Source};

/// Everything care-api reads from its environment, once, at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareConfig {
    /// `WEARERS_TABLE`: wearer profiles (caregivers, snoozes).
    pub wearers_table: String,
    /// `CAREGIVERS_TABLE`: caregiver records (contact details) the profiles link to.
    pub caregivers_table: String,
    /// `CAREGIVER_LINKS_TABLE`: caregiver account → wearers.
    pub links_table: String,
    /// `ALERTS_TABLE`: alerts with their lifecycle and by-wearer index.
    pub alerts_table: String,
    /// `VITALS_TABLE`: half-hour vitals items; the newest give the wearer's latest state.
    pub vitals_table: String,
    /// `DAYS_TABLE`: each wearer's daily picture, per local date.
    pub days_table: String,
    /// `REQUEST_BUDGET_MS` (default 4000): time for one request's store calls
    /// before it is answered 503; also capped by the invocation deadline.
    pub budget: Duration,
}

impl CareConfig {
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        Ok(Self {
            wearers_table: env::required(src, "WEARERS_TABLE", "the wearer profiles DynamoDB table")?,
            caregivers_table: env::required(src, "CAREGIVERS_TABLE", "the caregivers DynamoDB table")?,
            links_table: env::required(src, "CAREGIVER_LINKS_TABLE", "the caregiver links DynamoDB table")?,
            alerts_table: env::required(src, "ALERTS_TABLE", "the alerts DynamoDB table")?,
            vitals_table: env::required(src, "VITALS_TABLE", "the vitals DynamoDB table")?,
            days_table: env::required(src, "DAYS_TABLE", "the wearers' days DynamoDB table")?,
            budget: env::millis_or(src, "REQUEST_BUDGET_MS", Duration::from_millis(4_000))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(&str, &str); 6] = [
        ("WEARERS_TABLE", "w"),
        ("CAREGIVERS_TABLE", "c"),
        ("CAREGIVER_LINKS_TABLE", "l"),
        ("ALERTS_TABLE", "a"),
        ("VITALS_TABLE", "v"),
        ("DAYS_TABLE", "d"),
    ];

    #[test]
    fn defaults_apply_and_missing_variables_are_named() {
        let cfg = CareConfig::from_source(&ALL).unwrap();
        assert_eq!((cfg.links_table.as_str(), cfg.budget), ("l", Duration::from_secs(4)));
        for skip in 0..ALL.len() {
            let mut partial = ALL;
            partial[skip].0 = "UNRELATED";
            let err = CareConfig::from_source(&partial).unwrap_err();
            assert!(err.to_string().contains(ALL[skip].0), "{err}");
        }
    }
}
