use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let detector = offline_detector::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let detector = &detector;
    // The scheduled event carries nothing the detector needs; its clock is the input.
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = vigil_lambda::Deadline::of(&event.context, offline_detector::DEADLINE_MARGIN);
        detector.handle_within(chrono::Utc::now(), Some(deadline)).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
