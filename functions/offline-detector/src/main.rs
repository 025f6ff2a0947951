use lambda_runtime::{LambdaEvent, run, service_fn, tracing};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let detector = offline_detector::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let detector = &detector;
    // The scheduled event carries nothing the detector needs; its clock is the input.
    run(service_fn(move |_: LambdaEvent<serde_json::Value>| async move {
        detector.handle(chrono::Utc::now()).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
