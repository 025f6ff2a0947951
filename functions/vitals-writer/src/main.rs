// The Lambda runtime, the batch and its four write lanes nest futures deeper than the
// compiler's default layout depth.
#![recursion_limit = "256"]

use vigil_lambda::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let function = vitals_writer::build(&ProcessEnv, &sdk).await?;
    vigil_lambda::stream::serve(&function).await
}
