use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let daily = daily_summary::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let daily = &daily;
    // The scheduled event carries nothing the job needs; its clock is the input.
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let deadline = vigil_lambda::Deadline::of(&event.context, daily_summary::DEADLINE_MARGIN);
        daily.handle_within(chrono::Utc::now(), Some(deadline)).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
