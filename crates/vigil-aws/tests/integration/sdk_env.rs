//! `sdk::from_env`, the functions' SDK config, from variables as Lambda sets them: the
//! real clients it makes reach moto, and a service's own endpoint variable (the voice
//! stand-in's, as local runs set it) takes that service elsewhere.

use vigil_domain::alerts::Language;
use vigil_domain::config::{ConfigError, Source};

#[derive(Debug, Clone)]
struct Vars(Vec<(&'static str, String)>);

impl Source for Vars {
    fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone())
    }
}

fn lambda_vars(endpoint: &str) -> Vars {
    Vars(vec![
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_SESSION_TOKEN", "token".into()),
        ("AWS_ENDPOINT_URL", endpoint.into()),
    ])
}

#[tokio::test]
async fn lambdas_variables_make_clients_that_reach_the_endpoint_and_a_service_variable_wins_for_its_service() {
    let moto = vigil_local::endpoint::url();
    vigil_local::endpoint::check(&moto).unwrap();
    let stand_in = vigil_local::voice::VoiceStandIn::start_local().await.unwrap();
    let mut vars = lambda_vars(&moto);
    vars.0.push(("AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2", stand_in.endpoint_url()));
    let config = vigil_aws::sdk::from_env(&vars).unwrap();
    assert_eq!(config.region().map(|r| r.as_ref()), Some("us-east-1"));
    assert!(vigil_aws::sdk::has_custom_endpoint(&config));

    // moto answers; the voice stand-in would not know ListTables.
    vigil_aws::sdk::dynamodb(&config).list_tables().send().await.unwrap();

    let caller = vigil_aws::voice::VoiceCaller::new(vigil_aws::sdk::voice(&config), "+15550009999", None);
    caller.call("+5511900001111", "Vigil", Language::En).await.unwrap();
    assert_eq!(stand_in.calls().len(), 1);
}

#[test]
fn the_region_falls_back_to_aws_default_region_and_a_missing_credential_is_named() {
    let mut vars = lambda_vars("http://127.0.0.1:9");
    vars.0.retain(|(k, _)| *k != "AWS_REGION");
    vars.0.push(("AWS_DEFAULT_REGION", "eu-west-1".into()));
    let config = vigil_aws::sdk::from_env(&vars).unwrap();
    assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));

    vars.0.retain(|(k, _)| *k != "AWS_SECRET_ACCESS_KEY");
    let err = vigil_aws::sdk::from_env(&vars).unwrap_err();
    assert!(matches!(err, ConfigError::Missing { name: "AWS_SECRET_ACCESS_KEY", .. }), "{err:?}");

    vars.0.retain(|(k, _)| *k != "AWS_DEFAULT_REGION");
    let err = vigil_aws::sdk::from_env(&vars).unwrap_err();
    assert!(matches!(err, ConfigError::Missing { name: "AWS_DEFAULT_REGION", .. }), "{err:?}");
}
