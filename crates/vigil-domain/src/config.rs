//! Reading typed configuration from an environment, with errors that name the variable.
//! The process environment itself is `vigil_lambda::ProcessEnv`; tests and the local
//! runner give a map.

use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required ({what})")]
    Missing { name: &'static str, what: &'static str },
    #[error("environment variable {name}={value:?} is not valid: expected {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// Where configuration comes from: the process environment in Lambda, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

impl<const N: usize> Source for [(&str, &str); N] {
    fn get(&self, name: &str) -> Option<String> {
        self.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }
}

pub fn required(src: &impl Source, name: &'static str, what: &'static str) -> Result<String, ConfigError> {
    src.get(name).ok_or(ConfigError::Missing { name, what })
}

pub fn parsed_or<T: FromStr>(
    src: &impl Source,
    name: &'static str,
    default: T,
    expected: &'static str,
) -> Result<T, ConfigError> {
    match src.get(name) {
        None => Ok(default),
        Some(value) => value.parse().map_err(|_| ConfigError::Invalid { name, value, expected }),
    }
}

/// Like [`parsed_or`], for settings where zero makes no sense (a count, a number of days).
pub fn positive_or<T: FromStr + Default + PartialEq + ToString>(
    src: &impl Source,
    name: &'static str,
    default: T,
    expected: &'static str,
) -> Result<T, ConfigError> {
    let value = parsed_or(src, name, default, expected)?;
    if value == T::default() {
        return Err(ConfigError::Invalid { name, value: value.to_string(), expected });
    }
    Ok(value)
}

pub fn millis_or(src: &impl Source, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let ms =
        parsed_or(src, name, u64::try_from(default.as_millis()).unwrap_or(u64::MAX), "milliseconds as an integer")?;
    Ok(Duration::from_millis(ms))
}

pub fn secs_or(src: &impl Source, name: &'static str, default: Duration) -> Result<Duration, ConfigError> {
    let s = parsed_or(src, name, default.as_secs(), "seconds as an integer")?;
    Ok(Duration::from_secs(s))
}
