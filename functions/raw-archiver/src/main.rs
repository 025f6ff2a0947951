#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    vigil_lambda::logging::init();
    let sdk = vigil_aws::sdk::from_env(&vigil_lambda::ProcessEnv)?;
    let function = raw_archiver::build(&vigil_lambda::ProcessEnv, &sdk).await?;
    vigil_lambda::stream::serve(&function).await
}
