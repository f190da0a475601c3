//! The Terraform stacks (`deploy/terraform/stacks/*`) carry the constants the code and
//! `edalab aws deploy` use (issue 19): each queue, table, function, mapping, the API, the
//! bucket's notification and the state machine of the plan (`edalab::lambda::plan`) is
//! found in a stack with the same names and settings, and the stacks declare nothing the
//! plan lacks. Values are read with `hcl-rs`, templates evaluated with the stack's
//! variables (defaults, then `environments/local.tfvars`). A changed copy must fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use edalab::lambda::{PlanSettings, plan};
use edalab_aws::deploy::{
    BATCH_SIZE, CONCURRENCY_MAX, FUNCTION_MEMORY_MB, FUNCTION_TIMEOUT_SECONDS, Plan, Trigger,
};
use edalab_aws::s3_intake::ORDERS_PREFIX;
use hcl::eval::{Context, Evaluate};
use hcl::expr::ObjectKey;
use hcl::{Body, Expression, Value};

const STACKS: [&str; 3] = ["transactions", "calculator", "order-intake"];

fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/terraform")
}

/// One `module` call of a stack.
struct Module {
    stack: String,
    label: String,
    /// `sqs` for `../../modules/sqs`.
    kind: String,
    attributes: BTreeMap<String, Expression>,
}

/// A stack's module calls and the context its templates evaluate in.
struct Stack {
    modules: Vec<Module>,
    context: Context<'static>,
}

/// Parses a stack from `(file name, text)` pairs: its `.tf` files and `local.tfvars`.
fn stack(name: &str, dir: &Path, files: &[(String, String)]) -> Stack {
    let mut variables = hcl::Map::new();
    let mut modules = Vec::new();
    for (file, text) in files {
        let body: Body = hcl::parse(text).unwrap_or_else(|e| panic!("{name}/{file}: {e}"));
        if file.ends_with(".tfvars") {
            for attribute in body.attributes() {
                variables.insert(attribute.key.to_string(), literal(&attribute.expr));
            }
            continue;
        }
        for block in body.blocks() {
            let label = block.labels.first().map(|l| l.as_str().to_owned());
            match (block.identifier.as_str(), label) {
                ("variable", Some(label)) => {
                    if let Some(default) = block
                        .body
                        .attributes()
                        .find(|a| a.key.as_str() == "default")
                    {
                        variables
                            .entry(label)
                            .or_insert_with(|| literal(&default.expr));
                    }
                }
                ("module", Some(label)) => modules.push(module(name, label, &block.body)),
                _ => {}
            }
        }
    }
    let mut context = Context::new();
    context.declare_var("var", Value::Object(variables));
    let mut path = hcl::Map::new();
    path.insert("module".to_owned(), Value::from(dir.display().to_string()));
    context.declare_var("path", Value::Object(path));
    Stack { modules, context }
}

fn literal(expr: &Expression) -> Value {
    expr.evaluate(&Context::new()).unwrap_or(Value::Null)
}

fn module(stack: &str, label: String, body: &Body) -> Module {
    let attributes: BTreeMap<String, Expression> = body
        .attributes()
        .map(|a| (a.key.to_string(), a.expr.clone()))
        .collect();
    let kind = match attributes.get("source") {
        Some(Expression::String(source)) => source.rsplit('/').next().unwrap_or("").to_owned(),
        _ => String::new(),
    };
    Module {
        stack: stack.to_owned(),
        label,
        kind,
        attributes,
    }
}

/// The stacks as committed.
fn committed() -> Vec<Stack> {
    STACKS
        .iter()
        .map(|name| {
            let dir = terraform_dir().join("stacks").join(name);
            stack(name, &dir, &files(&dir))
        })
        .collect()
}

fn files(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("a stack's directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "tf"))
        .chain([dir.join("environments/local.tfvars")])
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                std::fs::read_to_string(&path).expect("a Terraform file"),
            )
        })
        .collect();
    found.sort();
    found
}

fn local_plan() -> Plan {
    plan(&PlanSettings {
        environment: "local",
        brokers: "",
        role_arn: "",
        workflow_role_arn: "",
        endpoint: None,
        bucket: "tp-orders",
        metrics_namespace: "edalab",
    })
}

/// Reads the stacks' values against the plan; every difference, named.
struct Comparison<'a> {
    stacks: &'a [Stack],
    differences: Vec<String>,
}

impl<'a> Comparison<'a> {
    fn all(&self, kind: &str) -> impl Iterator<Item = (&'a Stack, &'a Module)> + use<'a, '_> {
        let kind = kind.to_owned();
        self.stacks.iter().flat_map(move |s| {
            let kind = kind.clone();
            s.modules
                .iter()
                .filter(move |m| m.kind == kind)
                .map(move |m| (s, m))
        })
    }

    /// The `kind` module whose `key` evaluates to `want`.
    fn find(&mut self, kind: &str, key: &str, want: &str) -> Option<(&'a Stack, &'a Module)> {
        let found = self
            .all(kind)
            .find(|(s, m)| value(s, m, key) == Value::from(want));
        if found.is_none() {
            self.differences
                .push(format!("no {kind} module with {key} = {want:?}"));
        }
        found
    }

    fn expect(&mut self, (stack, module): (&Stack, &Module), key: &str, want: Value) {
        let got = value(stack, module, key);
        if got != want {
            self.differences.push(format!(
                "{}: module.{}.{key} is {got}, the code uses {want}",
                module.stack, module.label
            ));
        }
    }

    /// `module.<label>.<output>` of a reference attribute (`queue_arn = module.q.queue_arn`).
    fn referenced(&self, expr: Option<&Expression>) -> Option<(&'a Stack, &'a Module)> {
        let text = reference(expr)?;
        let label = text.strip_prefix("module.")?.split('.').next()?.to_owned();
        self.stacks
            .iter()
            .find_map(|s| s.modules.iter().find(|m| m.label == label).map(|m| (s, m)))
    }
}

/// The value of `key` (or `key.inner` for an object attribute), evaluated in the stack.
fn value(stack: &Stack, module: &Module, key: &str) -> Value {
    let (outer, inner) = key
        .split_once('.')
        .map_or((key, None), |(o, i)| (o, Some(i)));
    let Some(expr) = module.attributes.get(outer) else {
        return Value::Null;
    };
    let expr = match inner {
        None => Some(expr),
        Some(inner) => entry(Some(expr), inner),
    };
    expr.and_then(|e| e.evaluate(&stack.context).ok())
        .unwrap_or(Value::Null)
}

/// The entry `key` of an object expression.
fn entry<'e>(expr: Option<&'e Expression>, key: &str) -> Option<&'e Expression> {
    let Some(Expression::Object(object)) = expr else {
        return None;
    };
    object
        .iter()
        .find(|(k, _)| match k {
            ObjectKey::Identifier(id) => id.as_str() == key,
            ObjectKey::Expression(Expression::String(s)) => s == key,
            _ => false,
        })
        .map(|(_, e)| e)
}

/// `module.q.queue_arn` for a reference expression.
fn reference(expr: Option<&Expression>) -> Option<String> {
    Some(hcl::format::to_string(expr?).ok()?.trim().to_owned())
}

fn number(n: impl Into<i64>) -> Value {
    Value::from(n.into())
}

fn differences(stacks: &[Stack], plan: &Plan) -> Vec<String> {
    let mut c = Comparison {
        stacks,
        differences: Vec::new(),
    };
    queues(&mut c, plan);
    tables(&mut c, plan);
    functions(&mut c, plan);
    c.differences
}

fn queues(c: &mut Comparison<'_>, plan: &Plan) {
    for queue in &plan.queues {
        let Some(found) = c.find("sqs", "name", &queue.name) else {
            continue;
        };
        c.expect(
            found,
            "visibility_timeout_seconds",
            number(queue.visibility_timeout_seconds),
        );
        c.expect(
            found,
            "message_retention_seconds",
            number(queue.retention_seconds),
        );
        let dlq = queue.dead_letter.as_ref();
        c.expect(
            found,
            "dlq_name",
            dlq.map_or(Value::Null, |d| Value::from(d.name.clone())),
        );
        c.expect(
            found,
            "max_receive_count",
            dlq.map_or(Value::Null, |d| number(d.receive_count_max)),
        );
        c.expect(
            found,
            "dlq_message_retention_seconds",
            dlq.map_or(Value::Null, |d| number(d.retention_seconds)),
        );
    }
    let names: Vec<Value> = plan
        .queues
        .iter()
        .map(|q| Value::from(q.name.clone()))
        .collect();
    extras(c, "sqs", "name", &names);
}

fn tables(c: &mut Comparison<'_>, plan: &Plan) {
    for table in &plan.tables {
        let Some(found) = c.find("dynamodb", "table_name", table.name) else {
            continue;
        };
        c.expect(found, "hash_key", Value::from(table.partition_key));
        c.expect(
            found,
            "range_key",
            table.sort_key.map_or(Value::Null, Value::from),
        );
    }
    let names: Vec<Value> = plan.tables.iter().map(|t| Value::from(t.name)).collect();
    extras(c, "dynamodb", "table_name", &names);
}

/// A module of `kind` whose `key` is none of `known`.
fn extras(c: &mut Comparison<'_>, kind: &str, key: &str, known: &[Value]) {
    let extra: Vec<String> = c
        .all(kind)
        .filter(|(s, m)| !known.contains(&value(s, m, key)))
        .map(|(_, m)| format!("{}: module.{} is not in the code's plan", m.stack, m.label))
        .collect();
    c.differences.extend(extra);
}

fn functions(c: &mut Comparison<'_>, plan: &Plan) {
    for function in &plan.functions {
        let name = plan.function_name(function);
        let Some(found) = c.find("lambda", "function_name", &name) else {
            continue;
        };
        c.expect(found, "timeout", number(FUNCTION_TIMEOUT_SECONDS));
        c.expect(found, "memory_size", number(FUNCTION_MEMORY_MB));
        c.expect(
            found,
            "environment_variables.EDALAB_FUNCTION",
            Value::from(function.role),
        );
        trigger(c, plan, found, &function.trigger);
    }
    let names: Vec<Value> = plan
        .functions
        .iter()
        .map(|f| Value::from(plan.function_name(f)))
        .collect();
    extras(c, "lambda", "function_name", &names);
}

/// What starts the function `found`, as the plan says.
fn trigger(c: &mut Comparison<'_>, plan: &Plan, found: (&Stack, &Module), trigger: &Trigger) {
    let label = &found.1.label;
    let refers = |m: &Module, key: &str, output: &str| {
        reference(m.attributes.get(key)).is_some_and(|r| r == format!("module.{label}.{output}"))
    };
    match trigger {
        Trigger::Queue(queue) => {
            c.expect(found, "sqs_trigger.batch_size", number(BATCH_SIZE));
            c.expect(
                found,
                "sqs_trigger.maximum_concurrency",
                number(CONCURRENCY_MAX),
            );
            let source = entry(found.1.attributes.get("sqs_trigger"), "queue_arn");
            match c.referenced(source) {
                Some(queue_module) => {
                    c.expect(queue_module, "name", Value::from(queue.name.clone()))
                }
                None => c.differences.push(format!(
                    "module.{label}: no sqs_trigger.queue_arn of a queue module"
                )),
            }
        }
        Trigger::Api { path } => match c.find("api-gateway", "api_name", &plan.api_name()) {
            Some(api) if refers(api.1, "lambda_function_name", "function_name") => {
                c.expect(api, "path_part", Value::from(path.trim_start_matches('/')));
            }
            _ => c.differences.push(format!(
                "no REST API named {} calling module.{label}",
                plan.api_name()
            )),
        },
        Trigger::Bucket(bucket) => {
            if let Some(b) = c.find("s3-intake", "bucket_name", bucket) {
                c.expect(b, "notification.prefix", Value::from(ORDERS_PREFIX));
                let arn = entry(b.1.attributes.get("notification"), "function_arn");
                if c.referenced(arn).map(|m| &m.1.label) != Some(label) {
                    c.differences.push(format!(
                        "s3://{bucket}/{ORDERS_PREFIX} does not notify module.{label}"
                    ));
                }
            }
        }
        Trigger::Task => workflow_task(c, plan, label),
    }
}

/// The state machine names the function `label` for its placeholder, and its definition is
/// the code's.
fn workflow_task(c: &mut Comparison<'_>, plan: &Plan, label: &str) {
    let Some(workflow) = &plan.workflow else {
        return;
    };
    let Some(machine) = c.find("step-functions", "name", &plan.workflow_name(workflow)) else {
        return;
    };
    let Value::String(path) = value(machine.0, machine.1, "definition_path") else {
        c.differences
            .push("the state machine has no definition_path".to_owned());
        return;
    };
    if std::fs::read_to_string(&path).ok().as_deref() != Some(workflow.definition) {
        c.differences
            .push(format!("{path} is not the definition the code deploys"));
    }
    let role = c
        .stacks
        .iter()
        .flat_map(|s| s.modules.iter().map(move |m| (s, m)))
        .find(|(_, m)| m.label == label)
        .map(|(s, m)| value(s, m, "environment_variables.EDALAB_FUNCTION"));
    let Some((placeholder, _)) = workflow
        .tasks
        .iter()
        .find(|(_, r)| role == Some(Value::from(*r)))
    else {
        c.differences
            .push(format!("module.{label} is no task of the workflow"));
        return;
    };
    let arn = entry(machine.1.attributes.get("task_arns"), placeholder);
    if c.referenced(arn).map(|m| m.1.label.as_str()) != Some(label) {
        c.differences.push(format!(
            "task_arns.{placeholder} is not module.{label}.function_arn"
        ));
    }
}

#[test]
fn the_stacks_carry_the_codes_constants() {
    let stacks = committed();
    let found = differences(&stacks, &local_plan());
    assert!(
        found.is_empty(),
        "the Terraform stacks differ from the code:\n{}",
        found.join("\n")
    );
}

#[test]
fn a_changed_value_is_named() {
    let dir = terraform_dir().join("stacks/calculator");
    let changed: Vec<(String, String)> = files(&dir)
        .into_iter()
        .map(|(name, text)| {
            let text = text.replacen("batch_size          = 10", "batch_size          = 5", 1);
            (
                name,
                text.replacen(
                    "visibility_timeout_seconds    = 60",
                    "visibility_timeout_seconds    = 61",
                    1,
                ),
            )
        })
        .collect();
    let mut stacks = committed();
    stacks[1] = stack("calculator", &dir, &changed);
    let found = differences(&stacks, &local_plan());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].contains("visibility_timeout_seconds is 61, the code uses 60"),
        "{found:#?}"
    );
    assert!(
        found[1].contains("sqs_trigger.batch_size is 5, the code uses 10"),
        "{found:#?}"
    );
}
