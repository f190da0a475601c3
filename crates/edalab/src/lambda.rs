//! `edalab-lambda`: the seeds' Lambda functions, one binary (`bootstrap` in the zip that
//! `edalab aws package` builds), the function chosen by `EDALAB_FUNCTION`, each made of the
//! pipeline's own handler (`docs/adr/026-aws-profile.md` §6):
//!
//! | `EDALAB_FUNCTION` | event | code |
//! |---|---|---|
//! | `submit-transaction` | API Gateway REST proxy | S0's routes (`POST /transactions`) |
//! | `process-transaction` | SQS `transactions` | S0-03's processor |
//! | `calculator` | SQS `calculatrice-input-queue` | S1's worker |
//!
//! S0's functions keep their state in DynamoDB and publish the topics to the Kafka-protocol
//! brokers of `KAFKA_BROKERS` (seed 000's variable); the calculator keeps its calculations in
//! DynamoDB and sends its results to `calculatrice-output-queue`. The SDK finds its region,
//! endpoint and credentials in the environment Lambda gives.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use edalab_aws::SqsQueues;
use edalab_aws::deploy::{FUNCTION_VARIABLE, FunctionSpec, Plan, Trigger};
use edalab_aws::lambda::SqsFunction;
use edalab_bus::Queues;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_services::calculator::{self, CalculatorState};
use edalab_services::pipeline::SharedClock;
use edalab_services::transactions::{self, Counters, TransactionsState};
use lambda_runtime::{LambdaEvent, service_fn};

/// The Kafka-protocol brokers of the topics (seed 000's variable).
pub const BROKERS_VARIABLE: &str = "KAFKA_BROKERS";

/// The functions this binary serves, by their `EDALAB_FUNCTION` value.
pub const FUNCTIONS: [&str; 3] = ["submit-transaction", "process-transaction", "calculator"];

/// Runs the function `EDALAB_FUNCTION` names until Lambda stops the process.
pub fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EDALAB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let ran = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(run()));
    match ran {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let function = std::env::var(FUNCTION_VARIABLE)
        .with_context(|| format!("{FUNCTION_VARIABLE} is not set: one of {FUNCTIONS:?}"))?;
    match function.as_str() {
        "submit-transaction" => {
            let state = transactions_state().await?;
            let routes = transactions::api::seed_openapi_router(state.clone())
                .merge(transactions::api::openapi_router(state))
                .split_for_parts()
                .0;
            lambda_http::run(routes).await
        }
        "process-transaction" => {
            let state = transactions_state().await?;
            run_sqs(SqsFunction::new(
                sqs().await,
                transactions::transactions_queue(),
                transactions::processor(&state),
                transactions::failed(&state),
            ))
            .await
        }
        "calculator" => {
            let state = calculator_state().await?;
            run_sqs(SqsFunction::new(
                sqs().await,
                calculator::input_queue(),
                calculator::worker(&state),
                calculator::failed(&state),
            ))
            .await
        }
        other => anyhow::bail!("{FUNCTION_VARIABLE}={other}: not one of {FUNCTIONS:?}"),
    }
    .map_err(|e| anyhow::anyhow!("{function}: {e}"))
}

/// Serves SQS batches with `function` until Lambda stops the process.
async fn run_sqs(function: SqsFunction) -> Result<(), lambda_runtime::Error> {
    let function = Arc::new(function);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let function = function.clone();
        async move { Ok::<_, lambda_runtime::Error>(function.handle(event.payload).await) }
    }))
    .await
}

async fn sdk() -> aws_config::SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    edalab_aws::client::from_chain(&region, endpoint.as_deref()).await
}

async fn sqs() -> SqsQueues {
    SqsQueues::from_sdk_config(&sdk().await)
}

/// S1's state in a function: DynamoDB, the SQS queues.
async fn calculator_state() -> anyhow::Result<CalculatorState> {
    let sdk = sdk().await;
    let store = edalab_aws::backends::calculation_store(&sdk)
        .await
        .map_err(|e| anyhow::anyhow!("S1's DynamoDB table: {e}"))?;
    Ok(CalculatorState {
        queues: Arc::new(SqsQueues::from_sdk_config(&sdk)),
        store: Arc::new(store),
        counters: Arc::new(calculator::Counters::default()),
        clock: SharedClock::system(),
    })
}

/// S0's state in a function: DynamoDB, the SQS queue, the brokers' topics.
async fn transactions_state() -> anyhow::Result<TransactionsState> {
    let sdk = sdk().await;
    let brokers = std::env::var(BROKERS_VARIABLE)
        .with_context(|| format!("{BROKERS_VARIABLE} is not set (host:port of the brokers)"))?;
    let bus = KafkaBus::new(KafkaConfig::new(&brokers))
        .with_context(|| format!("configuring the Kafka client of {brokers}"))?;
    let store = edalab_aws::backends::transaction_store(&sdk)
        .await
        .map_err(|e| anyhow::anyhow!("S0's DynamoDB tables: {e}"))?;
    let queues: Arc<dyn Queues> = Arc::new(SqsQueues::from_sdk_config(&sdk));
    Ok(TransactionsState {
        bus: Arc::new(bus),
        queues,
        store: Arc::new(store),
        counters: Arc::new(Counters::default()),
        archive_dir: std::env::temp_dir().join("archive"),
        clock: SharedClock::system(),
    })
}

/// What `edalab aws deploy` makes for these functions, from the pipelines' own constants:
/// S0's queue and tables, `submit-transaction` behind `POST /transactions`,
/// `process-transaction` on the `transactions` queue; S1's queues and table, `calculator` on
/// `calculatrice-input-queue`.
/// An emulator's `endpoint` is given to the functions too (an emulator may set its own).
pub fn plan(environment: &str, brokers: &str, role_arn: &str, endpoint: Option<&str>) -> Plan {
    let queue = transactions::transactions_queue();
    let mut variables = HashMap::from([
        (BROKERS_VARIABLE.to_owned(), brokers.to_owned()),
        // The routes are the stage's paths (`/transactions`), not `/<stage>/transactions`.
        (
            "AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH".to_owned(),
            "true".to_owned(),
        ),
    ]);
    if let Some(url) = endpoint {
        variables.insert("AWS_ENDPOINT_URL".to_owned(), url.to_owned());
    }
    Plan {
        project: "edalab".to_owned(),
        environment: environment.to_owned(),
        queues: vec![
            queue.clone(),
            calculator::input_queue(),
            calculator::output_queue(),
        ],
        tables: [
            &edalab_aws::dynamo::transaction_tables()[..],
            &edalab_aws::dynamo::calculation_tables()[..],
        ]
        .concat(),
        functions: vec![
            FunctionSpec {
                role: FUNCTIONS[0],
                trigger: Trigger::Api {
                    path: "/transactions",
                },
            },
            FunctionSpec {
                role: FUNCTIONS[1],
                trigger: Trigger::Queue(queue),
            },
            FunctionSpec {
                role: FUNCTIONS[2],
                trigger: Trigger::Queue(calculator::input_queue()),
            },
        ],
        variables,
        role_arn: role_arn.to_owned(),
    }
}
