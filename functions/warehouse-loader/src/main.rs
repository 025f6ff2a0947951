// The Lambda runtime, the run and its calls, each under the run's deadline, nest futures
// deeper than the compiler's default layout depth.
#![recursion_limit = "256"]

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{LambdaEvent, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let loader = warehouse_loader::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    let loader = &loader;
    // The scheduled event carries nothing the loader needs; its clock is the input.
    run(service_fn(move |event: LambdaEvent<EventBridgeEvent>| async move {
        let time_left = event.context.deadline().duration_since(std::time::SystemTime::now()).ok();
        warehouse_loader::handler::handle(loader, chrono::Utc::now(), time_left)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
