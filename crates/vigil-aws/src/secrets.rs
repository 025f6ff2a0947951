//! Secrets Manager: a secret's string value, read once per cold start (never per
//! invocation, never logged).
//!
//! Used for the pseudonym key: a function reads `PSEUDONYM_KEY` when it is set
//! (local runs, or a CloudFormation dynamic reference resolved at deploy time)
//! and otherwise fetches `PSEUDONYM_KEY_SECRET_ARN` ([`value_or_secret`]), which
//! lets the key rotate without a redeploy of the template.

use vigil_domain::config::{ConfigError, Source};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The secret could not be read (access, missing, throttled): the ARN names
    /// it, the value is never shown.
    #[error("GetSecretValue on {arn} failed")]
    Call {
        arn: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    #[error("secret {arn} has no string value")]
    NotString { arn: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The current string value of the secret `arn`.
pub async fn secret_string(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, SecretError> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| SecretError::Call { arn: arn.to_owned(), source: e.into() })?;
    out.secret_string.ok_or_else(|| SecretError::NotString { arn: arn.to_owned() })
}

/// `name`'s value when it is set; else the secret named by `arn_name`; else
/// [`ConfigError::Missing`] naming both.
pub async fn value_or_secret(
    src: &impl Source,
    name: &'static str,
    arn_name: &'static str,
    what: &'static str,
    client: impl FnOnce() -> aws_sdk_secretsmanager::Client,
) -> Result<String, SecretError> {
    if let Some(value) = src.get(name) {
        return Ok(value);
    }
    match src.get(arn_name) {
        Some(arn) => secret_string(&client(), &arn).await,
        None => Err(ConfigError::Missing { name, what }.into()),
    }
}

/// The text of the curated data's pseudonym key: `PSEUDONYM_KEY`, or else the secret
/// `PSEUDONYM_KEY_SECRET_ARN` (fetched once: call this at cold start). Never logged;
/// `vigil_curated::Pseudonymizer::from_key_text` reads it.
pub async fn pseudonym_key(
    src: &impl Source,
    client: impl FnOnce() -> aws_sdk_secretsmanager::Client,
) -> Result<String, SecretError> {
    value_or_secret(
        src,
        "PSEUDONYM_KEY",
        "PSEUDONYM_KEY_SECRET_ARN",
        "the secret key of the curated data's pseudonyms (or PSEUDONYM_KEY_SECRET_ARN)",
        client,
    )
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly on broken fixtures")]

    use super::*;
    use aws_sdk_secretsmanager::Client;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    #[tokio::test]
    async fn the_plain_value_wins_and_the_secret_is_read_only_without_it() {
        let get = mock!(Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some("arn:secret:k"))
            .then_output(|| GetSecretValueOutput::builder().secret_string("from-secret").build());
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, [&get]);
        let both = [("KEY", "plain"), ("KEY_ARN", "arn:secret:k")];
        let c = client.clone();
        assert_eq!(value_or_secret(&both, "KEY", "KEY_ARN", "k", move || c).await.unwrap(), "plain");
        assert_eq!(get.num_calls(), 0);
        let arn_only = [("KEY_ARN", "arn:secret:k")];
        let c = client.clone();
        assert_eq!(value_or_secret(&arn_only, "KEY", "KEY_ARN", "k", move || c).await.unwrap(), "from-secret");
        assert_eq!(get.num_calls(), 1);
        let none: [(&str, &str); 0] = [];
        let err = value_or_secret(&none, "KEY", "KEY_ARN", "k", move || client).await.unwrap_err();
        assert!(err.to_string().contains("KEY"), "{err}");
    }
}
