// The Lambda runtime, the batch and its four write lanes nest futures deeper than the
// compiler's default layout depth.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let function = vitals_writer::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    vigil_lambda::stream::serve(&function).await
}
