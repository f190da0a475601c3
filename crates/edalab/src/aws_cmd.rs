//! `edalab aws deploy|destroy`: the seeds' serverless side on an emulator or an account
//! (`edalab_aws::deploy`), made from the plan of `crate::lambda::plan`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::config::Config;

#[derive(Subcommand, Debug)]
pub enum AwsCommand {
    /// Create or update the seeds' queues, tables and functions (from the zip of `make
    /// aws-package`), the queues' event source mappings, the bucket's notification, the REST
    /// API (`POST /transactions`) and S0-08's state machine; prints the API's URL and the
    /// state machine's ARN. --aws-endpoint for an
    /// emulator, --brokers for the Kafka-protocol brokers the functions publish to.
    Deploy(DeployArgs),
    /// Remove the REST API, the event source mappings and the functions (queues and tables
    /// hold data: they stay).
    Destroy(PlanArgs),
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The environment in the names (`edalab-submit-transaction-<ENV>`) and the API's stage.
    #[arg(long, default_value = "local", value_name = "ENV")]
    pub environment: String,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// The functions' zip (`bootstrap` inside, built for provided.al2023).
    #[arg(
        long,
        default_value = "target/lambda/edalab-lambda/bootstrap.zip",
        value_name = "PATH"
    )]
    pub zip: PathBuf,
    /// The functions' execution role [default: a role name emulators accept; on an account,
    /// the role of the Terraform modules].
    #[arg(
        long,
        default_value = "arn:aws:iam::000000000000:role/edalab-lambda",
        value_name = "ARN"
    )]
    pub role: String,
    /// The role Step Functions assumes to run S0-08's state machine [default: a role name
    /// emulators accept; on an account, the role of the step-functions module].
    #[arg(
        long,
        default_value = "arn:aws:iam::000000000000:role/edalab-workflow",
        value_name = "ARN"
    )]
    pub workflow_role: String,
}

/// Runs one `edalab aws` command.
pub async fn run(config: &Config, command: &AwsCommand) -> anyhow::Result<()> {
    imp::run(config, command).await
}

#[cfg(feature = "aws")]
mod imp {
    use anyhow::Context;
    use edalab_aws::deploy::{self, Clients};
    use edalab_bus::kafka::{KafkaBus, KafkaConfig};

    use crate::lambda::PlanSettings;

    use super::{AwsCommand, Config};

    /// S0's topics on the brokers the functions publish to (S0-04; idempotent).
    async fn create_topics(brokers: &str) -> anyhow::Result<()> {
        let bus = KafkaBus::new(KafkaConfig::new(brokers))
            .with_context(|| format!("configuring the Kafka client of {brokers}"))?;
        edalab_services::transactions::create_topics(&bus)
            .await
            .with_context(|| format!("creating S0's topics on the brokers {brokers} (--brokers)"))
    }

    pub async fn run(config: &Config, command: &AwsCommand) -> anyhow::Result<()> {
        let (sdk, place) = crate::profile::aws_sdk(&config.aws).await?;
        let clients = Clients::new(&sdk);
        match command {
            AwsCommand::Deploy(args) => {
                let zip = std::fs::read(&args.zip).with_context(|| {
                    format!(
                        "--zip {}: cannot read the functions' zip (make aws-package builds it)",
                        args.zip.display()
                    )
                })?;
                let brokers = config.bus.brokers.trim();
                create_topics(brokers).await?;
                let plan = crate::lambda::plan(&PlanSettings {
                    environment: &args.plan.environment,
                    brokers,
                    role_arn: &args.role,
                    workflow_role_arn: &args.workflow_role,
                    endpoint: Some(config.aws.endpoint_url.trim()).filter(|u| !u.is_empty()),
                    bucket: &config.aws.bucket,
                    metrics_namespace: &config.aws.metrics_namespace,
                });
                let deployed = deploy::deploy(&clients, &plan, &zip)
                    .await
                    .map_err(|e| anyhow::anyhow!("deploying to {place}: {e}"))?;
                for function in &deployed.functions {
                    println!("function  {function}");
                }
                println!("mappings  {} created", deployed.mappings);
                if let Some(url) = deployed.api_url {
                    println!("api       {url}/transactions");
                }
                if let Some(arn) = deployed.workflow_arn {
                    println!("workflow  {arn}");
                }
                println!("brokers   {brokers}");
            }
            AwsCommand::Destroy(args) => {
                let plan = crate::lambda::plan(&PlanSettings {
                    environment: &args.environment,
                    brokers: "",
                    role_arn: "",
                    workflow_role_arn: "",
                    endpoint: None,
                    bucket: &config.aws.bucket,
                    metrics_namespace: "",
                });
                let removed = deploy::destroy(&clients, &plan)
                    .await
                    .map_err(|e| anyhow::anyhow!("destroying at {place}: {e}"))?;
                for what in removed {
                    println!("removed   {what}");
                }
                println!("kept      queues and tables (they hold data)");
            }
        }
        Ok(())
    }
}

#[cfg(not(feature = "aws"))]
mod imp {
    use super::{AwsCommand, Config};

    pub async fn run(_: &Config, _: &AwsCommand) -> anyhow::Result<()> {
        Err(crate::profile::needs_aws_feature("edalab aws"))
    }
}
