//! raw-archiver's configuration, read once per container from the environment.
//!
//! `PSEUDONYM_KEY` is the secret behind every pseudonym in the warehouse. In AWS
//! it lives in Secrets Manager: either the function gets
//! `PSEUDONYM_KEY_SECRET_ARN` and reads the secret once at cold start
//! ([`Config::load`], `vigil_aws::secrets`), or `PSEUDONYM_KEY` itself through
//! a CloudFormation dynamic reference (`{{resolve:secretsmanager:…}}`):
//! resolved at deploy time, never in the template or the code. It is
//! never logged: [`Config`]'s `Debug` and every error here leave it out.
//! Rotating it changes every pseudonym, so it is rotated only with a rebuild of
//! the warehouse.

use aws_config::SdkConfig;
use vigil_aws::archive::S3ObjectStore;
use vigil_aws::curated_files::DynamoCuratedFiles;
use vigil_aws::quarantine::S3Quarantine;
use vigil_aws::secrets::SecretError;
use vigil_curated::Pseudonymizer;
use vigil_domain::config::{self as env, ConfigError, Source};

use crate::Archiver;

/// raw-archiver on S3 and DynamoDB.
pub type AwsArchiver = Archiver<S3ObjectStore, DynamoCuratedFiles, S3Quarantine>;

#[derive(Debug, Clone)]
pub struct Config {
    /// `DATA_BUCKET`: the data lake; raw archives under `raw/`, curated Parquet
    /// under `curated/readings/`.
    pub data_bucket: String,
    /// `CURATED_FILES_TABLE`: curated files registered for the warehouse loader
    /// (keyed `file_key`).
    pub curated_files_table: String,
    /// `QUARANTINE_BUCKET`: poison stream records.
    pub quarantine_bucket: String,
    /// `PSEUDONYM_KEY`: at least 32 bytes, as hex (64+ hex digits) or base64
    /// (standard or URL-safe, padded or not). Required; see the module docs.
    pub pseudonymizer: Pseudonymizer,
}

impl Config {
    /// Reads the configuration with the key from `PSEUDONYM_KEY` only (tests,
    /// local runs). Lambda uses [`Config::load`].
    pub fn from_source(src: &impl Source) -> Result<Self, ConfigError> {
        let key = env::required(src, "PSEUDONYM_KEY", "the secret key of the curated data's pseudonyms")?;
        Self::with_pseudonymizer(src, Pseudonymizer::from_key_text(&key)?)
    }

    /// Reads the configuration at cold start: the key from `PSEUDONYM_KEY`, or
    /// else from the Secrets Manager secret `PSEUDONYM_KEY_SECRET_ARN` (fetched
    /// once, here).
    pub async fn load(src: &impl Source, sdk: &SdkConfig) -> Result<Self, SecretError> {
        let key = vigil_aws::secrets::pseudonym_key(src, || vigil_aws::sdk::secrets(sdk)).await?;
        Ok(Self::with_pseudonymizer(src, Pseudonymizer::from_key_text(&key)?)?)
    }

    fn with_pseudonymizer(src: &impl Source, pseudonymizer: Pseudonymizer) -> Result<Self, ConfigError> {
        Ok(Self {
            data_bucket: env::required(src, "DATA_BUCKET", "the S3 data lake bucket")?,
            curated_files_table: env::required(
                src,
                "CURATED_FILES_TABLE",
                "the DynamoDB table of curated files for the warehouse loader",
            )?,
            quarantine_bucket: env::required(src, "QUARANTINE_BUCKET", "the S3 bucket for poison records")?,
            pseudonymizer,
        })
    }

    /// The archiver on this config's resources.
    pub fn archiver(&self, sdk: &SdkConfig) -> AwsArchiver {
        let s3 = vigil_aws::sdk::s3(sdk);
        Archiver {
            objects: S3ObjectStore::new(s3.clone(), &self.data_bucket),
            registry: DynamoCuratedFiles::new(vigil_aws::sdk::dynamodb(sdk), &self.curated_files_table),
            quarantine: S3Quarantine::new(s3, &self.quarantine_bucket),
            pseudonymizer: self.pseudonymizer.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    const HEX_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn full(key: &'static str) -> [(&'static str, &'static str); 4] {
        [("DATA_BUCKET", "data"), ("CURATED_FILES_TABLE", "files"), ("QUARANTINE_BUCKET", "q"), ("PSEUDONYM_KEY", key)]
    }

    #[test]
    fn every_setting_is_required_by_name() {
        let cfg = Config::from_source(&full(HEX_KEY)).unwrap();
        assert_eq!((cfg.data_bucket.as_str(), cfg.curated_files_table.as_str()), ("data", "files"));
        for missing in ["DATA_BUCKET", "CURATED_FILES_TABLE", "QUARANTINE_BUCKET", "PSEUDONYM_KEY"] {
            let src: Vec<(&str, &str)> = full(HEX_KEY).into_iter().filter(|(k, _)| *k != missing).collect();
            let src: [(&str, &str); 3] = src.try_into().unwrap();
            let err = Config::from_source(&src).unwrap_err();
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn hex_and_base64_keys_give_the_same_pseudonyms() {
        let b64 = STANDARD.encode(hex::decode(HEX_KEY).unwrap());
        let b64: &'static str = Box::leak(format!("  {b64}\n").into_boxed_str());
        let a = Config::from_source(&full(HEX_KEY)).unwrap();
        let b = Config::from_source(&full(b64)).unwrap();
        assert_eq!(a.pseudonymizer.wearer("w-1"), b.pseudonymizer.wearer("w-1"));
        assert_eq!(vigil_curated::parse_key("not base64 at all!"), None);
    }

    #[test]
    fn a_weak_or_garbled_key_is_refused_without_showing_it() {
        for key in ["00112233445566778899aabbccddeeff", "s3cr3t-but-not-base64-!!"] {
            let err = Config::from_source(&full(key)).unwrap_err().to_string();
            assert!(err.contains("PSEUDONYM_KEY") && err.contains("redacted"), "{err}");
            assert!(!err.contains(key), "the key leaked: {err}");
        }
        let cfg = Config::from_source(&full(HEX_KEY)).unwrap();
        assert!(!format!("{cfg:?}").contains("00112233"));
    }
}
