use vigil_lambda::ProcessEnv;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let sdk = vigil_aws::sdk::load().await;
    let function = raw_archiver::build(&ProcessEnv, &sdk).await?;
    vigil_lambda::stream::serve(&function).await
}
