//! `edalab-lambda`: the seeds' Lambda functions, one binary (`bootstrap` in the zip that
//! `make aws-package` builds), the function chosen by `EDALAB_FUNCTION`, each made of the
//! pipeline's own handler (`docs/adr/026-aws-profile.md` §6):
//!
//! | `EDALAB_FUNCTION` | event | code |
//! |---|---|---|
//! | `submit-transaction` | API Gateway REST proxy | S0's routes (`POST /transactions`) |
//! | `process-transaction` | SQS `transactions` | S0-03's processor |
//! | `calculator` | SQS `calculatrice-input-queue` | S1's worker |
//! | `order-validator` | S3 `orders/` of the bucket | S2's validator |
//! | `order-worker` | SQS `tp-orders-queue` | S2-03's worker |
//! | `workflow-validate`, `workflow-fraud-check`, `workflow-process`, `workflow-notify`, `workflow-alert` | Step Functions task | S0-08's steps (`transactions::workflow`) |
//!
//! S0's functions keep their state in DynamoDB and publish the topics to the Kafka-protocol
//! brokers of `KAFKA_BROKERS` (seed 000's variable); the calculator keeps its calculations in
//! DynamoDB and sends its results to `calculatrice-output-queue`; the order worker records in
//! DynamoDB `tp-orders` and counts in CloudWatch (namespace `EDALAB_METRICS_NAMESPACE`,
//! flushed before each batch is answered). The SDK finds its region,
//! endpoint and credentials in the environment Lambda gives.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use edalab_aws::SqsQueues;
use edalab_aws::deploy::{FUNCTION_VARIABLE, FunctionSpec, Plan, Trigger, WorkflowSpec};
use edalab_aws::lambda::SqsFunction;
use edalab_aws::s3_intake::validator;
use edalab_bus::Message;
use edalab_bus::Queues;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::runtime::Outcome;
use edalab_services::calculator::{self, CalculatorState};
use edalab_services::intake::{self, IntakeState, OrderCounts};
use edalab_services::pipeline::SharedClock;
use edalab_services::transactions::{self, Counters, FolderArchive, TransactionsState, workflow};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};

/// The Kafka-protocol brokers of the topics (seed 000's variable).
pub const BROKERS_VARIABLE: &str = "KAFKA_BROKERS";

/// The functions this binary serves, by their `EDALAB_FUNCTION` value.
pub const FUNCTIONS: [&str; 5] = [
    "submit-transaction",
    "process-transaction",
    "calculator",
    "order-validator",
    "order-worker",
];

/// S0-08's state machine: its definition (the one the Terraform module deploys too) and
/// each task's placeholder and function.
pub const WORKFLOW_DEFINITION: &str =
    include_str!("../../../deploy/stepfunctions/transaction-workflow.asl.json");
pub const WORKFLOW_TASKS: [(&str, &str); 5] = [
    ("validate_arn", "workflow-validate"),
    ("fraud_check_arn", "workflow-fraud-check"),
    ("process_arn", "workflow-process"),
    ("notify_arn", "workflow-notify"),
    ("alert_arn", "workflow-alert"),
];

/// The CloudWatch namespace of the S2-04 counts.
pub const NAMESPACE_VARIABLE: &str = "EDALAB_METRICS_NAMESPACE";

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
                sqs().await?,
                transactions::transactions_queue(),
                transactions::processor(&state),
                transactions::failed(&state),
            ))
            .await
        }
        "calculator" => {
            let state = calculator_state().await?;
            run_sqs(SqsFunction::new(
                sqs().await?,
                calculator::input_queue(),
                calculator::worker(&state),
                calculator::failed(&state),
            ))
            .await
        }
        "order-validator" => run_validator().await,
        step if WORKFLOW_TASKS.iter().any(|(_, role)| *role == step) => run_step(step).await,
        "order-worker" => {
            let (state, counts) = intake_state().await?;
            let function = SqsFunction::new(
                sqs().await?,
                intake::intake_queue(),
                intake::worker(&state),
                intake::dead_lettered(),
            );
            run_sqs(function.after_batch(counts)).await
        }
        other => anyhow::bail!(
            "{FUNCTION_VARIABLE}={other}: not one of {FUNCTIONS:?} or {:?}",
            WORKFLOW_TASKS.map(|(_, role)| role)
        ),
    }
    .map_err(|e| anyhow::anyhow!("{function}: {e}"))
}

/// Serves one S0-08 step as a Step Functions task: the state's JSON in, the next state's
/// out, or an error whose `errorType` the state machine's `Retry`/`Catch` match.
async fn run_step(step: &str) -> Result<(), lambda_runtime::Error> {
    let state = Arc::new(transactions_state().await?);
    let step = step.to_owned();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let (state, step) = (state.clone(), step.clone());
        async move {
            let input = &event.payload;
            let answered = match step.as_str() {
                "workflow-validate" => workflow::validate(&state, input).await,
                "workflow-fraud-check" => workflow::fraud_check(input).await,
                "workflow-process" => workflow::process(&state, input).await,
                "workflow-notify" => workflow::notify(&state, input).await,
                _ => workflow::alert(&state, input).await,
            };
            answered.map_err(|e| {
                tracing::warn!(step = %step, error = %e, "workflow step failed");
                Diagnostic {
                    error_type: e.error_type().to_owned(),
                    error_message: e.to_string(),
                }
            })
        }
    }))
    .await
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

async fn sdk() -> edalab_aws::client::SdkConfig {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    edalab_aws::client::from_chain(&region, endpoint.as_deref()).await
}

/// The queues of a consuming function, recording why it dead-letters a message.
async fn sqs() -> anyhow::Result<SqsQueues> {
    edalab_aws::backends::sqs_queues(&sdk().await)
        .await
        .map_err(|e| anyhow::anyhow!("the dead letters' reasons table: {e}"))
}

/// S2's validator on S3 events: each event is handled as the in-process validator handles
/// the same JSON from its queue. A retry is the invocation's error (Lambda retries an
/// asynchronous event twice); a rejected event is logged.
async fn run_validator() -> Result<(), lambda_runtime::Error> {
    let sdk = sdk().await;
    let queues: Arc<dyn Queues> = Arc::new(SqsQueues::from_sdk_config(&sdk));
    let validator = validator(edalab_aws::backends::s3_client(&sdk), queues);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let validator = validator.clone();
        async move {
            let message = Message {
                topic: Arc::from("s3-event"),
                partition: 0,
                offset: 0,
                key: None,
                value: serde_json::to_vec(&event.payload)?,
                headers: Vec::new(),
                timestamp_ms: 0,
            };
            match validator.handle(&message).await {
                Outcome::Done => Ok(()),
                Outcome::Retry(reason) => Err(reason.into()),
                Outcome::Reject(reason) => {
                    tracing::error!(%reason, "S3 event refused");
                    Ok::<(), lambda_runtime::Error>(())
                }
            }
        }
    }))
    .await
}

/// S2's worker state in a function: DynamoDB `tp-orders`, the SQS queues, CloudWatch.
async fn intake_state() -> anyhow::Result<(IntakeState, Arc<dyn OrderCounts>)> {
    let sdk = sdk().await;
    let store = edalab_aws::backends::intake_store(&sdk)
        .await
        .map_err(|e| anyhow::anyhow!("S2's DynamoDB tables: {e}"))?;
    let namespace = std::env::var(NAMESPACE_VARIABLE).unwrap_or_else(|_| "edalab".to_owned());
    let counts: Arc<dyn OrderCounts> =
        Arc::new(edalab_aws::backends::order_counts(&sdk, &namespace));
    let state = IntakeState {
        queues: Arc::new(SqsQueues::from_sdk_config(&sdk)),
        store: Arc::new(store),
        counters: Arc::new(intake::Counters::default()),
        inbox: std::env::temp_dir().join("inbox"),
        clock: SharedClock::system(),
        counts: Some(counts.clone()),
    };
    Ok((state, counts))
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
        // The function runs the processor only; the archive is the S0-05 consumers'.
        archive: Arc::new(FolderArchive::new(std::env::temp_dir().join("archive"))),
        clock: SharedClock::system(),
    })
}

/// What `edalab aws deploy` makes for these functions, from the pipelines' own constants:
/// S0's queue and tables, `submit-transaction` behind `POST /transactions`,
/// `process-transaction` on the `transactions` queue, the S0-08 steps and their state
/// machine; S1's queues and table, `calculator` on `calculatrice-input-queue`; S2's queue
/// and tables, `order-validator` on the bucket's `orders/`, `order-worker` on
/// `tp-orders-queue`.
/// The settings of a deployment besides the pipelines' constants.
pub struct PlanSettings<'a> {
    pub environment: &'a str,
    /// The Kafka-protocol brokers of S0's topics.
    pub brokers: &'a str,
    pub role_arn: &'a str,
    /// The role Step Functions assumes to run S0-08's state machine.
    pub workflow_role_arn: &'a str,
    /// An emulator's endpoint, given to the functions too (an emulator may set its own).
    pub endpoint: Option<&'a str>,
    /// S2's bucket (`orders/` notifies `order-validator`).
    pub bucket: &'a str,
    /// The CloudWatch namespace of S2-04's counts.
    pub metrics_namespace: &'a str,
}

pub fn plan(settings: &PlanSettings<'_>) -> Plan {
    let PlanSettings {
        environment,
        brokers,
        role_arn,
        workflow_role_arn,
        endpoint,
        bucket,
        metrics_namespace,
    } = *settings;
    let queue = transactions::transactions_queue();
    let mut variables = HashMap::from([
        (BROKERS_VARIABLE.to_owned(), brokers.to_owned()),
        (NAMESPACE_VARIABLE.to_owned(), metrics_namespace.to_owned()),
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
            intake::intake_queue(),
        ],
        tables: [
            &edalab_aws::dynamo::transaction_tables()[..],
            &edalab_aws::dynamo::calculation_tables()[..],
            &edalab_aws::dynamo::intake_tables()[..],
            &edalab_aws::dynamo::reason_tables()[..],
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
            FunctionSpec {
                role: FUNCTIONS[3],
                trigger: Trigger::Bucket(bucket.to_owned()),
            },
            FunctionSpec {
                role: FUNCTIONS[4],
                trigger: Trigger::Queue(intake::intake_queue()),
            },
        ]
        .into_iter()
        .chain(WORKFLOW_TASKS.map(|(_, role)| FunctionSpec {
            role,
            trigger: Trigger::Task,
        }))
        .collect(),
        variables,
        role_arn: role_arn.to_owned(),
        workflow: Some(WorkflowSpec {
            name: "transaction-workflow",
            definition: WORKFLOW_DEFINITION,
            tasks: WORKFLOW_TASKS.to_vec(),
            role_arn: workflow_role_arn.to_owned(),
        }),
    }
}
