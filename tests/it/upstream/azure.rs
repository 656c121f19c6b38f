//! Azure OpenAI: `/openai/deployments/{deployment}/chat/completions|embeddings`.

use serde_json::json;

use super::{openai, Ctx, Reply};

fn error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(status, json!({"error": {"code": code, "message": message}}))
}

pub(crate) fn error_for_status(status: u16) -> Reply {
    match status {
        401 => error(401, "401", ACCESS_DENIED),
        404 => error(404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND),
        429 => error(
            429,
            "429",
            "Requests to the ChatCompletions_Create Operation under Azure OpenAI API have exceeded token rate limit of your current pricing tier. Please retry after 1 second.",
        ),
        // Azure forwards the model's own errors in OpenAI's shape.
        _ => openai::error_for_status(status),
    }
}

const ACCESS_DENIED: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
const DEPLOYMENT_NOT_FOUND: &str = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";

pub(crate) fn authenticate(ctx: &Ctx) -> Option<Reply> {
    let key = ctx.header("api-key").filter(|k| !k.trim().is_empty());
    // Entra ID tokens come as a bearer token instead of the key.
    let bearer = ctx
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .filter(|k| !k.trim().is_empty());
    match (key, bearer, &ctx.credentials.azure) {
        (None, None, _) => Some(error(401, "401", ACCESS_DENIED)),
        (Some(k), _, Some(expected)) if k != expected => Some(error(401, "401", ACCESS_DENIED)),
        (None, Some(_), Some(_)) => Some(error(401, "401", ACCESS_DENIED)),
        _ => None,
    }
}

/// The model behind a deployment, or the 404 / missing api-version answer.
fn deployment(ctx: &Ctx, deployment: &str) -> Result<String, Reply> {
    if ctx
        .query_param("api-version")
        .is_none_or(|v| v.trim().is_empty())
    {
        // What Azure answers on the deployments API without `api-version`.
        return Err(error(404, "404", "Resource not found"));
    }
    if ctx.azure_deployments.is_empty() {
        return Ok(deployment.to_owned());
    }
    ctx.azure_deployments
        .iter()
        .find(|(d, _)| d == deployment)
        .map(|(_, m)| m.clone())
        .ok_or_else(|| error(404, "DeploymentNotFound", DEPLOYMENT_NOT_FOUND))
}

pub(crate) fn chat(ctx: &Ctx, name: &str) -> Reply {
    match deployment(ctx, name) {
        Ok(model) => openai::chat(ctx, Some(&model)),
        Err(e) => e,
    }
}

pub(crate) fn embeddings(ctx: &Ctx, name: &str) -> Reply {
    match deployment(ctx, name) {
        Ok(model) => openai::embeddings(ctx, Some(&model)),
        Err(e) => e,
    }
}
