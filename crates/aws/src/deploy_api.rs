//! The REST API of a [`Plan`]: one resource per API function's path, `POST` with an
//! `AWS_PROXY` integration, the permission for API Gateway to invoke the function, and a
//! deployment to the stage named after the environment.

use aws_sdk_apigateway::types::IntegrationType;

use crate::deploy::{Clients, Plan, failure};

/// Finds or creates the API, routes each `(path, function name, function ARN)`, deploys the
/// stage; the stage's base URL.
pub(crate) async fn ensure_api(
    clients: &Clients,
    plan: &Plan,
    routes: &[(&str, String, String)],
) -> Result<String, String> {
    let api_name = plan.api_name();
    let api = match find_api(clients, &api_name).await? {
        Some(id) => id,
        None => create_api(clients, &api_name).await?,
    };
    for (path, name, arn) in routes {
        let resource = ensure_resource(clients, &api, path).await?;
        route(clients, &api, &resource, arn).await?;
        allow_invoke(clients, name, &api).await?;
    }
    clients
        .apigateway
        .create_deployment()
        .rest_api_id(&api)
        .stage_name(&plan.environment)
        .send()
        .await
        .map_err(|e| failure("CreateDeployment", &api_name, e))?;
    Ok(stage_url(clients, &api, &plan.environment))
}

/// The API's id by name.
pub(crate) async fn find_api(clients: &Clients, name: &str) -> Result<Option<String>, String> {
    let apis = clients
        .apigateway
        .get_rest_apis()
        .limit(500)
        .send()
        .await
        .map_err(|e| failure("GetRestApis", name, e))?;
    Ok(apis
        .items()
        .iter()
        .find(|api| api.name() == Some(name))
        .and_then(|api| api.id().map(str::to_owned)))
}

async fn create_api(clients: &Clients, name: &str) -> Result<String, String> {
    let created = clients
        .apigateway
        .create_rest_api()
        .name(name)
        .description("edalab: the seeds' API Gateway (docs/adr/026-aws-profile.md)")
        .send()
        .await
        .map_err(|e| failure("CreateRestApi", name, e))?;
    created
        .id()
        .map(str::to_owned)
        .ok_or_else(|| format!("CreateRestApi on `{name}` answered no id"))
}

/// The id of `/path` (one level under the root), created if missing.
async fn ensure_resource(clients: &Clients, api: &str, path: &str) -> Result<String, String> {
    let resources = clients
        .apigateway
        .get_resources()
        .rest_api_id(api)
        .limit(500)
        .send()
        .await
        .map_err(|e| failure("GetResources", api, e))?;
    let found = |p: &str| {
        resources
            .items()
            .iter()
            .find(|r| r.path() == Some(p))
            .and_then(|r| r.id().map(str::to_owned))
    };
    if let Some(id) = found(path) {
        return Ok(id);
    }
    let root = found("/").ok_or_else(|| format!("REST API {api} has no root resource"))?;
    let created = clients
        .apigateway
        .create_resource()
        .rest_api_id(api)
        .parent_id(root)
        .path_part(path.trim_start_matches('/'))
        .send()
        .await
        .map_err(|e| failure("CreateResource", path, e))?;
    created
        .id()
        .map(str::to_owned)
        .ok_or_else(|| format!("CreateResource {path} answered no id"))
}

/// `POST` on the resource, proxied to the function (both replaced when they exist).
async fn route(clients: &Clients, api: &str, resource: &str, arn: &str) -> Result<(), String> {
    let gateway = &clients.apigateway;
    let method = gateway
        .put_method()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method("POST")
        .authorization_type("NONE")
        .send()
        .await;
    if let Err(e) = method
        && !e
            .as_service_error()
            .is_some_and(|s| s.is_conflict_exception())
    {
        return Err(failure("PutMethod", resource, e));
    }
    let uri = format!(
        "arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{arn}/invocations",
        clients.region
    );
    gateway
        .put_integration()
        .rest_api_id(api)
        .resource_id(resource)
        .http_method("POST")
        .r#type(IntegrationType::AwsProxy)
        .integration_http_method("POST")
        .uri(uri)
        .send()
        .await
        .map_err(|e| failure("PutIntegration", resource, e))?;
    Ok(())
}

/// Lets API Gateway invoke the function from this API (once: a second grant is a conflict).
async fn allow_invoke(clients: &Clients, function: &str, api: &str) -> Result<(), String> {
    let granted = clients
        .lambda
        .add_permission()
        .function_name(function)
        .statement_id(format!("apigateway-{api}"))
        .action("lambda:InvokeFunction")
        .principal("apigateway.amazonaws.com")
        .send()
        .await;
    match granted {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_conflict_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(failure("AddPermission", function, e)),
    }
}

/// The stage's base URL: the emulator's user-request path, or AWS's `execute-api` host.
fn stage_url(clients: &Clients, api: &str, stage: &str) -> String {
    match &clients.endpoint_url {
        Some(endpoint) => format!(
            "{}/restapis/{api}/{stage}/_user_request_",
            endpoint.trim_end_matches('/')
        ),
        None => format!(
            "https://{api}.execute-api.{}.amazonaws.com/{stage}",
            clients.region
        ),
    }
}
