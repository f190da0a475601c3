//! The SDK clients' configuration: our HTTPS client (rustls over ring, `docs/adr/026-aws-profile.md`
//! §5: the SDK's default, rustls over aws-lc, is not built) and the two ways to configure a
//! client — from the usual AWS chain (environment, profile files, instance roles) for the
//! profile, or fully explicit (endpoint, region, static credentials) for tests, so that no
//! global environment variable can point a test elsewhere.

use aws_config::BehaviorVersion;
pub use aws_config::SdkConfig;
use aws_sdk_sqs::config::{Credentials, Region, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The HTTPS (and plain HTTP, for emulators) client every SDK client uses.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The SDK configuration from the usual AWS chain, with an explicit region and, for an
/// emulator, an explicit endpoint. Credentials are never passed in code.
pub async fn from_chain(region: &str, endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .region(Region::new(region.to_owned()));
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Whether the AWS chain of `sdk` yields credentials within `within`; when not, the error
/// says how to give them (the chain's own message follows).
pub async fn check_credentials(sdk: &SdkConfig, within: std::time::Duration) -> Result<(), String> {
    use aws_sdk_sqs::config::ProvideCredentials;
    const HOW: &str = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE with \
                       ~/.aws/credentials (an emulator takes any, e.g. test and test)";
    let Some(provider) = sdk.credentials_provider() else {
        return Err(format!("no AWS credentials provider: {HOW}"));
    };
    match tokio::time::timeout(within, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "no AWS credentials found: {HOW} ({})",
            aws_sdk_sqs::error::DisplayErrorContext(e)
        )),
        Err(_) => Err(format!(
            "no AWS credentials within {} s: {HOW}",
            within.as_secs()
        )),
    }
}

/// An SQS client configured explicitly: `endpoint_url`, `region` and static credentials
/// (an emulator takes any). Reads no environment variable and no file.
pub fn sqs_explicit(
    endpoint_url: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .credentials_provider(Credentials::new(
            access_key_id,
            secret_access_key,
            None,
            None,
            "edalab-explicit",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// An SDK configuration given explicitly (endpoint, region, static credentials), for every
/// service's client in tests; reads no environment variable and no file.
pub fn explicit_sdk_config(
    endpoint_url: &str,
    region: &str,
    access_key_id: &str,
    secret_access_key: &str,
) -> aws_config::SdkConfig {
    let credentials = Credentials::new(
        access_key_id,
        secret_access_key,
        None,
        None,
        "edalab-explicit",
    );
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint_url)
        .credentials_provider(aws_sdk_sqs::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build()
}
