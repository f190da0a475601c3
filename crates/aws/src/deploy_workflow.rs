//! The state machine of a [`Plan`] (S0-08): its ASL definition with each task's placeholder
//! (`${validate_arn}`) replaced by the ARN of the plan's function, created or updated by
//! name (a `STANDARD` machine, the type whose history a learner can read).

use aws_sdk_sfn::types::StateMachineType;

use crate::deploy::{Clients, Plan, WorkflowSpec, failure};

/// The definition with every placeholder filled from `arns` (role → ARN); an error names
/// a task whose function the plan did not deploy, or a placeholder left over.
pub(crate) fn definition(
    workflow: &WorkflowSpec,
    arns: &[(&str, String)],
) -> Result<String, String> {
    let mut text = workflow.definition.to_owned();
    for (placeholder, role) in &workflow.tasks {
        let arn = arns
            .iter()
            .find(|(r, _)| r == role)
            .map(|(_, arn)| arn)
            .ok_or_else(|| format!("the workflow's task `{role}` is not a function of the plan"))?;
        text = text.replace(&format!("${{{placeholder}}}"), arn);
    }
    match text.find("${") {
        Some(at) => Err(format!(
            "the workflow's definition has an unfilled placeholder at byte {at}: {}",
            &text[at..text.len().min(at + 40)]
        )),
        None => Ok(text),
    }
}

/// Creates the state machine or updates its definition and role; its ARN.
pub(crate) async fn ensure_state_machine(
    clients: &Clients,
    plan: &Plan,
    workflow: &WorkflowSpec,
    definition: &str,
) -> Result<String, String> {
    let name = plan.workflow_name(workflow);
    if let Some(arn) = find_state_machine(clients, &name).await? {
        clients
            .sfn
            .update_state_machine()
            .state_machine_arn(&arn)
            .definition(definition)
            .role_arn(&workflow.role_arn)
            .send()
            .await
            .map_err(|e| failure("UpdateStateMachine", &name, e))?;
        return Ok(arn);
    }
    let created = clients
        .sfn
        .create_state_machine()
        .name(&name)
        .definition(definition)
        .role_arn(&workflow.role_arn)
        .r#type(StateMachineType::Standard)
        .send()
        .await
        .map_err(|e| failure("CreateStateMachine", &name, e))?;
    Ok(created.state_machine_arn().to_owned())
}

/// Deletes the state machine if it exists; whether it did.
pub(crate) async fn delete_state_machine(clients: &Clients, name: &str) -> Result<bool, String> {
    let Some(arn) = find_state_machine(clients, name).await? else {
        return Ok(false);
    };
    clients
        .sfn
        .delete_state_machine()
        .state_machine_arn(&arn)
        .send()
        .await
        .map_err(|e| failure("DeleteStateMachine", name, e))?;
    Ok(true)
}

/// The ARN of the state machine called `name`, following the listing's pages.
async fn find_state_machine(clients: &Clients, name: &str) -> Result<Option<String>, String> {
    let mut pages = clients.sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| failure("ListStateMachines", name, e))?;
        if let Some(found) = page.state_machines().iter().find(|m| m.name() == name) {
            return Ok(Some(found.state_machine_arn().to_owned()));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workflow(definition: &'static str) -> WorkflowSpec {
        WorkflowSpec {
            name: "flow",
            definition,
            tasks: vec![("a_arn", "step-a"), ("b_arn", "step-b")],
            role_arn: String::new(),
        }
    }

    #[test]
    fn definition_fills_each_task_and_refuses_leftovers() {
        let arns = [
            ("step-a", "arn:a".to_owned()),
            ("step-b", "arn:b".to_owned()),
        ];
        let filled = definition(&workflow(r#"{"A":"${a_arn}","B":"${b_arn}"}"#), &arns);
        assert_eq!(filled.as_deref(), Ok(r#"{"A":"arn:a","B":"arn:b"}"#));
        let leftover = definition(&workflow(r#"{"C":"${c_arn}"}"#), &arns).unwrap_err();
        assert!(leftover.contains("${c_arn}"), "{leftover}");
        let missing = definition(&workflow("{}"), &arns[..1]).unwrap_err();
        assert!(missing.contains("step-b"), "{missing}");
    }
}
