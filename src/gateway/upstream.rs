//! The call a resolved target makes upstream: which wire protocol its service speaks,
//! the URL, the credentials' headers and the body in that protocol.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::error::GatewayError;
use super::resolve::Target;
use super::{anthropic, azure, gemini};
use crate::services::{self, Service};

/// What the caller asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Embeddings,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat/completions",
            Endpoint::Embeddings => "embeddings",
        }
    }
}

/// The wire protocol the gateway speaks to an upstream (those of the service registry
/// it can speak today).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI's chat completions and embeddings, as OpenAI and compatible services speak it.
    OpenAi,
    /// OpenAI's protocol on Azure deployment URLs with an `api-key` header.
    Azure,
    /// Anthropic's messages API.
    Anthropic,
    /// Google's Gemini API (`generateContent`).
    Gemini,
}

fn protocol(service: &Service) -> Option<Protocol> {
    match service.protocol {
        services::Protocol::OpenAiChat => Some(Protocol::OpenAi),
        services::Protocol::AzureOpenAi => Some(Protocol::Azure),
        services::Protocol::AnthropicMessages => Some(Protocol::Anthropic),
        services::Protocol::Gemini => Some(Protocol::Gemini),
        services::Protocol::BedrockConverse | services::Protocol::None => None,
    }
}

/// A request ready to send.
pub struct Prepared {
    pub protocol: Protocol,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Value,
    pub stream: bool,
    /// Whether the caller asked for the usage chunk at the end of a stream.
    pub caller_wants_usage: bool,
}

fn secret_header(
    name: &'static str,
    value: &str,
) -> Result<(HeaderName, HeaderValue), GatewayError> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        GatewayError::internal(format!(
            "the stored credential cannot be sent in the `{name}` header (it holds characters a header cannot)"
        ))
    })?;
    v.set_sensitive(true);
    Ok((HeaderName::from_static(name), v))
}

/// The registry's headers carrying the service's key.
fn key_headers(service: &Service, key: &str, headers: &mut HeaderMap) -> Result<(), GatewayError> {
    for (name, value) in service.auth.key_headers(key).unwrap_or_default() {
        let (n, v) = secret_header(name, &value)?;
        headers.insert(n, v);
    }
    Ok(())
}

fn required_key(target: &Target) -> Result<&str, GatewayError> {
    target.key.as_deref().ok_or_else(|| {
        GatewayError::governance(
            "credentials_missing_error",
            format!(
                "AI provider `@{}` has no API key stored; an admin can add one with `catalog integrations rotate-key {}`",
                target.slug,
                target.integration.as_deref().unwrap_or(&target.slug)
            ),
        )
    })
}

/// Builds the upstream call for `body` (the caller's parameters, model already bare).
pub fn prepare(
    target: &Target,
    endpoint: Endpoint,
    mut body: Map<String, Value>,
) -> Result<Prepared, GatewayError> {
    let cannot = || {
        GatewayError::not_implemented(format!(
            "the gateway cannot call service `{}` yet (AI provider `@{}`); services it calls: OpenAI and OpenAI-compatible services, Azure OpenAI and Anthropic",
            target.service, target.slug
        ))
    };
    let service = services::find(&target.service).ok_or_else(cannot)?;
    let protocol = protocol(service).ok_or_else(cannot)?;
    let stream = body.get("stream").and_then(Value::as_bool) == Some(true);
    let caller_wants_usage = body
        .get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        == Some(true);
    let mut headers = HeaderMap::new();
    let base = target
        .custom_host
        .clone()
        .or_else(|| service.upstream(&target.config));
    let url = match protocol {
        Protocol::OpenAi => {
            let base = base.ok_or_else(|| {
                GatewayError::governance(
                    "custom_host_missing_error",
                    format!(
                        "AI provider `@{}` has no `custom_host` to call",
                        target.slug
                    ),
                )
            })?;
            if let Some(key) = target.key.as_deref() {
                let (n, v) = secret_header("authorization", &format!("Bearer {key}"))?;
                headers.insert(n, v);
            }
            for (field, header) in [
                ("openai_organization", "openai-organization"),
                ("openai_project", "openai-project"),
            ] {
                if let Some(v) = target.config.get(field).and_then(Value::as_str) {
                    let (n, v) = secret_header(header, v)?;
                    headers.insert(n, v);
                }
            }
            body.insert("model".into(), Value::String(target.model.clone()));
            format!("{}/{}", base.trim_end_matches('/'), endpoint.path())
        }
        Protocol::Azure => {
            let mode = target
                .config
                .get("azure_auth_mode")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if mode != "default" {
                return Err(GatewayError::not_implemented(format!(
                    "the gateway cannot authenticate to Azure OpenAI with `azure_auth_mode` `{mode}` yet (AI provider `@{}`); use an API key (`default`)",
                    target.slug
                )));
            }
            let deployment = azure::deployment(&target.config, &target.model).ok_or_else(|| {
                GatewayError::invalid(format!(
                    "No azure alias passed/default config found: model `{}` matches no deployment alias of AI provider `@{}` and it has no default deployment",
                    target.model, target.slug
                ))
            })?;
            let base = base.ok_or_else(|| {
                GatewayError::governance(
                    "configuration_error",
                    format!(
                        "AI provider `@{}` has no `azure_resource_name`",
                        target.slug
                    ),
                )
            })?;
            key_headers(service, required_key(target)?, &mut headers)?;
            body.remove("model");
            format!(
                "{base}/deployments/{}/{}?api-version={}",
                deployment.name,
                endpoint.path(),
                deployment.api_version
            )
        }
        Protocol::Anthropic => {
            if endpoint == Endpoint::Embeddings {
                return Err(GatewayError::invalid(format!(
                    "AI provider `@{}` is an Anthropic provider, and Anthropic has no embeddings",
                    target.slug
                )));
            }
            let base = base.ok_or_else(|| {
                GatewayError::internal("the registry gives Anthropic no base URL")
            })?;
            key_headers(service, required_key(target)?, &mut headers)?;
            body = anthropic::request(body, &target.model, target.max_output_tokens)?;
            format!("{}/messages", base.trim_end_matches('/'))
        }
        Protocol::Gemini => {
            if endpoint == Endpoint::Embeddings {
                return Err(GatewayError::not_implemented(format!(
                    "the gateway cannot call Gemini embeddings yet (AI provider `@{}`)",
                    target.slug
                )));
            }
            let base = base
                .ok_or_else(|| GatewayError::internal("the registry gives Gemini no base URL"))?;
            key_headers(service, required_key(target)?, &mut headers)?;
            body = gemini::request(&body)?;
            let model = &target.model;
            if stream {
                format!(
                    "{}/models/{model}:streamGenerateContent?alt=sse",
                    base.trim_end_matches('/')
                )
            } else {
                format!(
                    "{}/models/{model}:generateContent",
                    base.trim_end_matches('/')
                )
            }
        }
    };
    if stream && matches!(protocol, Protocol::OpenAi | Protocol::Azure) {
        // The usage chunk meters the stream; it is removed again if the caller did not ask.
        let options = body
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(o) = options.as_object_mut() {
            o.insert("include_usage".into(), Value::Bool(true));
        }
    }
    for (name, value) in &target.custom_headers {
        if let (Ok(n), Ok(mut v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            v.set_sensitive(true);
            headers.insert(n, v);
        }
    }
    Ok(Prepared {
        protocol,
        url,
        headers,
        body: Value::Object(body),
        stream,
        caller_wants_usage,
    })
}
