//! Integration: the pseudonym key from Secrets Manager on moto's server (or
//! LocalStack) at AWS_ENDPOINT_URL. Start it with `bash localstack/endpoint.sh start`.

use vigil_aws::secrets::{SecretError, pseudonym_key};
use vigil_curated::Pseudonymizer;

/// The pseudonymizer as the functions build it at cold start.
async fn pseudonymizer(
    src: &impl vigil_domain::config::Source,
    client: impl FnOnce() -> aws_sdk_secretsmanager::Client,
) -> Result<Pseudonymizer, SecretError> {
    Ok(Pseudonymizer::from_key_text(&pseudonym_key(src, client).await?)?)
}

const HEX_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

#[tokio::test]
async fn the_pseudonym_key_is_read_from_the_secret_when_no_plain_key_is_set() {
    let sdk = vigil_local::endpoint::require().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let name = vigil_local::endpoint::unique_name("pseudonym-key");
    let arn = client.create_secret().name(&name).secret_string(format!("{HEX_KEY}\n")).send().await.unwrap();
    let arn = arn.arn().unwrap().to_owned();

    let src = [("PSEUDONYM_KEY_SECRET_ARN", arn.as_str())];
    let c = client.clone();
    let from_secret = pseudonymizer(&src, move || c).await.unwrap();
    let expected = Pseudonymizer::new(&hex::decode(HEX_KEY).unwrap()).unwrap();
    assert_eq!(from_secret.wearer("wearer-42"), expected.wearer("wearer-42"));

    // A weak secret is refused without showing it; a missing secret names its ARN only.
    let weak = client.create_secret().name(format!("{name}-weak")).secret_string("0011").send().await.unwrap();
    let src = [("PSEUDONYM_KEY_SECRET_ARN", weak.arn().unwrap())];
    let c = client.clone();
    let err = pseudonymizer(&src, move || c).await.unwrap_err().to_string();
    assert!(err.contains("PSEUDONYM_KEY") && err.contains("redacted") && !err.contains("0011"), "{err}");
    let missing = format!("{arn}-gone");
    let src = [("PSEUDONYM_KEY_SECRET_ARN", missing.as_str())];
    let err = pseudonymizer(&src, move || client).await.unwrap_err();
    assert!(matches!(&err, SecretError::Call { arn, .. } if *arn == missing), "{err:?}");
}
