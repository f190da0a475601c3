//! `edalab aws deploy|destroy` (`docs/adr/026-aws-profile.md` §6): the seeds' serverless
//! side made from the same constants the code uses — queues ([`QueueSpec`]), tables
//! ([`TableSpec`]), then the functions (one zip, `provided.al2023`, the function chosen by
//! `EDALAB_FUNCTION`), their SQS event source mappings and the REST API whose `AWS_PROXY`
//! integration calls the API function, and the Step Functions state machine whose tasks are
//! functions of the plan ([`WorkflowSpec`], S0-08). Every step finds what exists first, so
//! deploying again updates the code and configuration and creates nothing twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    Architecture, Environment, FunctionCode, FunctionResponseType, LastUpdateStatus, PackageType,
    Runtime, ScalingConfig, State,
};
use edalab_bus::{QueueSpec, Queues};

use crate::SqsQueues;
use crate::dynamo::{TableSpec, ensure_tables};
use crate::s3_intake::{ORDERS_PREFIX, ensure_bucket, notify_function};

/// The variable that tells `edalab-lambda` which function it is.
pub const FUNCTION_VARIABLE: &str = "EDALAB_FUNCTION";

/// What starts a function.
#[derive(Clone, Debug)]
pub enum Trigger {
    /// `POST` on this path of the REST API (API Gateway's `AWS_PROXY`).
    Api { path: &'static str },
    /// Batches of the queue (event source mapping: 10 per batch, 10 at once, failures
    /// reported per item).
    Queue(QueueSpec),
    /// Objects created under the bucket's `orders/` prefix (S3 notification; the bucket is
    /// created if missing).
    Bucket(String),
    /// A task of the plan's state machine (invoked by Step Functions only).
    Task,
}

/// One function of the plan.
#[derive(Clone, Debug)]
pub struct FunctionSpec {
    /// The seed's role name (`submit-transaction`): the value of [`FUNCTION_VARIABLE`].
    pub role: &'static str,
    pub trigger: Trigger,
}

/// Everything `deploy` makes.
#[derive(Clone, Debug)]
pub struct Plan {
    /// `edalab` in `edalab-submit-transaction-local`.
    pub project: String,
    /// `local` in the same; also the API's stage.
    pub environment: String,
    pub queues: Vec<QueueSpec>,
    pub tables: Vec<TableSpec>,
    pub functions: Vec<FunctionSpec>,
    /// Variables every function gets besides [`FUNCTION_VARIABLE`] (`KAFKA_BROKERS` …).
    pub variables: HashMap<String, String>,
    /// The functions' execution role.
    pub role_arn: String,
    /// The state machine chaining [`Trigger::Task`] functions, if any.
    pub workflow: Option<WorkflowSpec>,
}

/// A Step Functions state machine whose tasks are functions of the plan.
#[derive(Clone, Debug)]
pub struct WorkflowSpec {
    /// `transaction-workflow` in `edalab-transaction-workflow-local`.
    pub name: &'static str,
    /// The Amazon States Language definition, `${<placeholder>}` standing for each task's
    /// function ARN.
    pub definition: &'static str,
    /// `(placeholder, function role)`: `("validate_arn", "workflow-validate")`.
    pub tasks: Vec<(&'static str, &'static str)>,
    /// The role Step Functions assumes to invoke the functions.
    pub role_arn: String,
}

/// Seconds a function may run (the queues' visibility timeout, 60 s, leaves room). This
/// and the three below are what the Terraform modules must carry too (a test compares).
pub const FUNCTION_TIMEOUT_SECONDS: i32 = 30;
pub const FUNCTION_MEMORY_MB: i32 = 256;
/// Messages per batch of an event source mapping.
pub const BATCH_SIZE: i32 = 10;
/// Most batches of one mapping handled at once.
pub const CONCURRENCY_MAX: i32 = 10;

impl Plan {
    /// `edalab-submit-transaction-local`: the seed's `${project}-${role}-${environment}`.
    pub fn function_name(&self, function: &FunctionSpec) -> String {
        format!("{}-{}-{}", self.project, function.role, self.environment)
    }

    /// The REST API's name.
    pub fn api_name(&self) -> String {
        format!("{}-api-{}", self.project, self.environment)
    }

    /// `edalab-transaction-workflow-local`.
    pub fn workflow_name(&self, workflow: &WorkflowSpec) -> String {
        format!("{}-{}-{}", self.project, workflow.name, self.environment)
    }
}

/// What was deployed: the functions' names and where the API answers.
#[derive(Clone, Debug, Default)]
pub struct Deployed {
    pub functions: Vec<String>,
    pub mappings: usize,
    /// The API's base URL (its stage), when the plan has API functions.
    pub api_url: Option<String>,
    /// The state machine's ARN, when the plan has a workflow.
    pub workflow_arn: Option<String>,
}

/// The clients `deploy` and `destroy` use, all from one SDK configuration.
pub struct Clients {
    pub sqs: SqsQueues,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub s3: aws_sdk_s3::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub region: String,
    pub endpoint_url: Option<String>,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            sqs: SqsQueues::from_sdk_config(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            lambda: aws_sdk_lambda::Client::new(sdk),
            apigateway: aws_sdk_apigateway::Client::new(sdk),
            s3: crate::backends::s3_client(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            region: sdk.region().map(|r| r.to_string()).unwrap_or_default(),
            endpoint_url: sdk.endpoint_url().map(str::to_owned),
        }
    }
}

/// Checks every queue and table of the plan before creating any, then makes or updates
/// the functions, their mappings and the API. `zip` holds `bootstrap`.
pub async fn deploy(clients: &Clients, plan: &Plan, zip: &[u8]) -> Result<Deployed, String> {
    let mut conflicts = Vec::new();
    for queue in &plan.queues {
        let found = clients.sqs.check(queue).await.map_err(|e| e.to_string())?;
        conflicts.extend(found.into_iter().map(|e| e.to_string()));
    }
    if !conflicts.is_empty() {
        return Err(format!(
            "{} (nothing was created or changed)",
            conflicts.join("; ")
        ));
    }
    ensure_tables(&clients.dynamodb, &plan.tables).await?;
    for queue in &plan.queues {
        clients.sqs.ensure(queue).await.map_err(|e| e.to_string())?;
    }
    let mut deployed = Deployed::default();
    let mut api_functions = Vec::new();
    let mut tasks = Vec::new();
    for function in &plan.functions {
        let name = plan.function_name(function);
        let arn = put_function(clients, plan, function, &name, zip).await?;
        match &function.trigger {
            Trigger::Queue(queue) => {
                deployed.mappings += ensure_mapping(clients, &name, queue).await?;
            }
            Trigger::Api { path } => api_functions.push((*path, name.clone(), arn)),
            Trigger::Bucket(bucket) => notify(clients, bucket, &name, &arn).await?,
            Trigger::Task => tasks.push((function.role, arn)),
        }
        deployed.functions.push(name);
    }
    if !api_functions.is_empty() {
        deployed.api_url =
            Some(crate::deploy_api::ensure_api(clients, plan, &api_functions).await?);
    }
    if let Some(workflow) = &plan.workflow {
        let definition = crate::deploy_workflow::definition(workflow, &tasks)?;
        deployed.workflow_arn = Some(
            crate::deploy_workflow::ensure_state_machine(clients, plan, workflow, &definition)
                .await?,
        );
    }
    Ok(deployed)
}

/// Removes the plan's API, mappings and functions. Queues and tables hold data: they stay
/// (named in the answer) and the next deploy finds them.
pub async fn destroy(clients: &Clients, plan: &Plan) -> Result<Vec<String>, String> {
    let mut removed = Vec::new();
    if let Some(workflow) = &plan.workflow {
        let name = plan.workflow_name(workflow);
        if crate::deploy_workflow::delete_state_machine(clients, &name).await? {
            removed.push(format!("state machine {name}"));
        }
    }
    if let Some(id) = crate::deploy_api::find_api(clients, &plan.api_name()).await? {
        clients
            .apigateway
            .delete_rest_api()
            .rest_api_id(&id)
            .send()
            .await
            .map_err(|e| failure("DeleteRestApi", &plan.api_name(), e))?;
        removed.push(format!("REST API {}", plan.api_name()));
    }
    for function in &plan.functions {
        let name = plan.function_name(function);
        if let Trigger::Bucket(bucket) = &function.trigger
            && bucket_exists(clients, bucket).await
        {
            notify_function(&clients.s3, bucket, None).await?;
            removed.push(format!(
                "notification of s3://{bucket}/{ORDERS_PREFIX} to {name}"
            ));
        }
        for uuid in mappings(clients, &name, None).await? {
            clients
                .lambda
                .delete_event_source_mapping()
                .uuid(&uuid)
                .send()
                .await
                .map_err(|e| failure("DeleteEventSourceMapping", &name, e))?;
            removed.push(format!("event source mapping {uuid} of {name}"));
        }
        match clients
            .lambda
            .delete_function()
            .function_name(&name)
            .send()
            .await
        {
            Ok(_) => removed.push(format!("function {name}")),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(failure("DeleteFunction", &name, e)),
        }
    }
    Ok(removed)
}

/// Creates the bucket if missing, lets S3 invoke the function, and notifies it of
/// `orders/`.
async fn notify(clients: &Clients, bucket: &str, name: &str, arn: &str) -> Result<(), String> {
    ensure_bucket(&clients.s3, bucket).await?;
    let granted = clients
        .lambda
        .add_permission()
        .function_name(name)
        .statement_id(format!("s3-{bucket}"))
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .source_arn(format!("arn:aws:s3:::{bucket}"))
        .send()
        .await;
    match granted {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) => {}
        Err(e) => return Err(failure("AddPermission", name, e)),
    }
    notify_function(&clients.s3, bucket, Some(arn)).await
}

async fn bucket_exists(clients: &Clients, bucket: &str) -> bool {
    clients.s3.head_bucket().bucket(bucket).send().await.is_ok()
}

/// Creates the function, or updates its code and configuration; its ARN.
async fn put_function(
    clients: &Clients,
    plan: &Plan,
    function: &FunctionSpec,
    name: &str,
    zip: &[u8],
) -> Result<String, String> {
    let mut variables = plan.variables.clone();
    variables.insert(FUNCTION_VARIABLE.to_owned(), function.role.to_owned());
    let environment = Environment::builder()
        .set_variables(Some(variables))
        .build();
    let lambda = &clients.lambda;
    let exists = match lambda.get_function().function_name(name).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(failure("GetFunction", name, e)),
    };
    if exists {
        lambda
            .update_function_code()
            .function_name(name)
            .zip_file(Blob::new(zip))
            .send()
            .await
            .map_err(|e| failure("UpdateFunctionCode", name, e))?;
        // Lambda refuses a second update while the first is in progress.
        wait_settled(lambda, name).await?;
        let updated = lambda
            .update_function_configuration()
            .function_name(name)
            .role(&plan.role_arn)
            .environment(environment)
            .timeout(FUNCTION_TIMEOUT_SECONDS)
            .memory_size(FUNCTION_MEMORY_MB)
            .send()
            .await
            .map_err(|e| failure("UpdateFunctionConfiguration", name, e))?;
        wait_settled(lambda, name).await?;
        return Ok(updated.function_arn().unwrap_or_default().to_owned());
    }
    let created = lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .architectures(Architecture::X8664)
        .package_type(PackageType::Zip)
        .role(&plan.role_arn)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .environment(environment)
        .timeout(FUNCTION_TIMEOUT_SECONDS)
        .memory_size(FUNCTION_MEMORY_MB)
        .send()
        .await
        .map_err(|e| failure("CreateFunction", name, e))?;
    wait_settled(lambda, name).await?;
    Ok(created.function_arn().unwrap_or_default().to_owned())
}

/// Longest wait for a function to leave `Pending` or an update in progress.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(120);

/// Waits until the function is neither `Pending` nor being updated (an emulator answers at
/// once; AWS takes seconds); a `Failed` function is an error with Lambda's reason.
async fn wait_settled(lambda: &aws_sdk_lambda::Client, name: &str) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    loop {
        let configuration = lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|e| failure("GetFunctionConfiguration", name, e))?;
        let (state, update) = (configuration.state(), configuration.last_update_status());
        if state == Some(&State::Failed) || update == Some(&LastUpdateStatus::Failed) {
            return Err(format!(
                "function `{name}` failed: {}",
                configuration
                    .state_reason()
                    .or(configuration.last_update_status_reason())
                    .unwrap_or("(no reason given)")
            ));
        }
        if state != Some(&State::Pending) && update != Some(&LastUpdateStatus::InProgress) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "function `{name}` still {state:?} / {update:?} after {} s",
                SETTLE_WAIT_MAX.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Maps `queue` to the function unless a mapping exists; how many were created (0 or 1).
async fn ensure_mapping(clients: &Clients, name: &str, queue: &QueueSpec) -> Result<usize, String> {
    let arn = clients
        .sqs
        .queue_arn(&queue.name)
        .await
        .map_err(|e| e.to_string())?;
    if !mappings(clients, name, Some(&arn)).await?.is_empty() {
        return Ok(0);
    }
    clients
        .lambda
        .create_event_source_mapping()
        .function_name(name)
        .event_source_arn(&arn)
        .batch_size(BATCH_SIZE)
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .scaling_config(
            ScalingConfig::builder()
                .maximum_concurrency(CONCURRENCY_MAX)
                .build(),
        )
        .enabled(true)
        .send()
        .await
        .map_err(|e| failure("CreateEventSourceMapping", name, e))?;
    Ok(1)
}

/// The mappings of function `name` (of one source when given), by UUID.
async fn mappings(
    clients: &Clients,
    name: &str,
    source_arn: Option<&str>,
) -> Result<Vec<String>, String> {
    let listed = clients
        .lambda
        .list_event_source_mappings()
        .function_name(name)
        .set_event_source_arn(source_arn.map(str::to_owned))
        .send()
        .await;
    match listed {
        Ok(out) => Ok(out
            .event_source_mappings()
            .iter()
            .filter_map(|m| m.uuid().map(str::to_owned))
            .collect()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(Vec::new())
        }
        Err(e) => Err(failure("ListEventSourceMappings", name, e)),
    }
}

/// `operation on `resource`: code: message` for a service's answer, else the whole error
/// (a connection failure, a timeout).
pub(crate) fn failure<E>(
    operation: &str,
    resource: &str,
    error: aws_sdk_lambda::error::SdkError<E>,
) -> String
where
    E: std::error::Error + aws_sdk_lambda::error::ProvideErrorMetadata + 'static,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{operation} on `{resource}`: {}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("(no message)")
        ),
        None => format!(
            "{operation} on `{resource}`: {}",
            aws_sdk_lambda::error::DisplayErrorContext(error)
        ),
    }
}
