//! The call a resolved target makes upstream: which wire protocol its service speaks,
//! the URL, the credentials' headers and the body in that protocol.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use super::error::GatewayError;
use super::resolve::Target;
use super::sigv4::{self, Signer};
use super::{anthropic, azure, bedrock, gemini};
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
    /// Amazon Bedrock's Converse API (`converse`, `converse-stream` in event-stream frames).
    Bedrock,
}

fn protocol(service: &Service) -> Option<Protocol> {
    match service.protocol {
        services::Protocol::OpenAiChat => Some(Protocol::OpenAi),
        services::Protocol::AzureOpenAi => Some(Protocol::Azure),
        services::Protocol::AnthropicMessages => Some(Protocol::Anthropic),
        services::Protocol::Gemini => Some(Protocol::Gemini),
        services::Protocol::BedrockConverse => Some(Protocol::Bedrock),
        services::Protocol::None => None,
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
    /// An embeddings call (its answer is translated as one).
    pub embeddings: bool,
    /// AWS SigV4: the call is signed over its exact body bytes just before it is sent.
    pub sign: Option<Signer>,
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
            "the gateway cannot call service `{}` yet (AI provider `@{}`); services it calls: OpenAI and OpenAI-compatible services, Azure OpenAI, Anthropic, Gemini and Bedrock",
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
    let mut sign = None;
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
                        "AI provider `@{}` has no `azure_resource_name`, or one that is not letters, digits and hyphens",
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
            let base = base
                .ok_or_else(|| GatewayError::internal("the registry gives Gemini no base URL"))?;
            key_headers(service, required_key(target)?, &mut headers)?;
            let model = &target.model;
            if endpoint == Endpoint::Embeddings {
                body = gemini::embed_request(&body, model)?;
                format!(
                    "{}/models/{model}:batchEmbedContents",
                    base.trim_end_matches('/')
                )
            } else if stream {
                body = gemini::request(&body)?;
                format!(
                    "{}/models/{model}:streamGenerateContent?alt=sse",
                    base.trim_end_matches('/')
                )
            } else {
                body = gemini::request(&body)?;
                format!(
                    "{}/models/{model}:generateContent",
                    base.trim_end_matches('/')
                )
            }
        }
        Protocol::Bedrock => {
            let family = match endpoint {
                Endpoint::Embeddings => Some(bedrock::EmbedFamily::of(&target.model).ok_or_else(|| {
                    GatewayError::not_implemented(format!(
                        "the gateway calls Bedrock embeddings of Amazon Titan and Cohere Embed models; `{}` is neither (AI provider `@{}`)",
                        target.model, target.slug
                    ))
                })?),
                _ => None,
            };
            let base = base.ok_or_else(|| {
                GatewayError::governance(
                    "configuration_error",
                    format!(
                        "AI provider `@{}` has no `aws_region`, or one that is not letters, digits and hyphens",
                        target.slug
                    ),
                )
            })?;
            match bedrock_auth(target)? {
                BedrockAuth::Sign(signer) => sign = Some(signer),
                BedrockAuth::ApiKey(key) => {
                    let (n, v) = secret_header("authorization", &format!("Bearer {key}"))?;
                    headers.insert(n, v);
                }
            }
            let action = match family {
                Some(family) => {
                    body = bedrock::embed_request(&body, family)?;
                    "invoke"
                }
                None => {
                    body = bedrock::request(&body)?;
                    if stream {
                        "converse-stream"
                    } else {
                        "converse"
                    }
                }
            };
            format!(
                "{}/model/{}/{action}",
                base.trim_end_matches('/'),
                sigv4::uri_encode(&target.model),
            )
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
        embeddings: endpoint == Endpoint::Embeddings,
        sign,
    })
}

enum BedrockAuth<'a> {
    Sign(Signer),
    ApiKey(&'a str),
}

/// How a Bedrock provider authenticates, by its `aws_auth_type`.
fn bedrock_auth(target: &Target) -> Result<BedrockAuth<'_>, GatewayError> {
    let field = |name: &str| {
        target
            .config
            .get(name)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let missing = |what: &str| {
        GatewayError::governance(
            "credentials_missing_error",
            format!(
                "AI provider `@{}` has no {what} stored; an admin can add it with `catalog integrations update {}`",
                target.slug,
                target.integration.as_deref().unwrap_or(&target.slug)
            ),
        )
    };
    match field("aws_auth_type").unwrap_or("accessKey") {
        "accessKey" => {
            let region = field("aws_region").ok_or_else(|| missing("`aws_region`"))?;
            let access_key_id =
                field("aws_access_key_id").ok_or_else(|| missing("`aws_access_key_id`"))?;
            let secret = field("aws_secret_access_key")
                .or(target.key.as_deref().filter(|k| !k.is_empty()))
                .ok_or_else(|| missing("`aws_secret_access_key`"))?;
            Ok(BedrockAuth::Sign(Signer {
                credentials: sigv4::Credentials {
                    access_key_id: access_key_id.to_owned(),
                    secret_access_key: secret.to_owned(),
                    session_token: field("aws_session_token").map(str::to_owned),
                },
                region: region.to_owned(),
                service: "bedrock",
            }))
        }
        "apiKey" => Ok(BedrockAuth::ApiKey(required_key(target)?)),
        other => Err(GatewayError::not_implemented(format!(
            "the gateway cannot authenticate to Bedrock with `aws_auth_type` `{other}` yet (AI provider `@{}`); use `accessKey` or `apiKey`",
            target.slug
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bedrock(config: Value, key: Option<&str>) -> Target {
        Target {
            host_verdict: Default::default(),
            urls: Default::default(),
            expires: None,
            slug: "aws".into(),
            service: "bedrock".into(),
            integration: Some("aws".into()),
            workspace_id: "ws".into(),
            model: "anthropic.claude-3-5-sonnet-20240620-v1:0".into(),
            config: config.as_object().unwrap().clone(),
            key: key.map(str::to_owned),
            custom_host: None,
            custom_headers: Vec::new(),
            pricing: None,
            max_output_tokens: None,
            max_input_tokens: None,
            levels: Vec::new(),
        }
    }

    fn chat(stream: bool) -> Map<String, Value> {
        json!({"messages": [{"role": "user", "content": "Hi"}], "stream": stream})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn bedrock_access_keys_sign_and_the_model_id_is_encoded_in_the_path() {
        let t = bedrock(
            json!({"aws_auth_type": "accessKey", "aws_region": "eu-west-3",
                "aws_access_key_id": "AKID", "aws_secret_access_key": "SECRET"}),
            Some("SECRET"),
        );
        let p = prepare(&t, Endpoint::ChatCompletions, chat(false)).unwrap();
        assert_eq!(p.protocol, Protocol::Bedrock);
        assert_eq!(
            p.url,
            "https://bedrock-runtime.eu-west-3.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"
        );
        let s = p.sign.expect("signed");
        assert_eq!(
            (
                s.credentials.access_key_id.as_str(),
                s.region.as_str(),
                s.service
            ),
            ("AKID", "eu-west-3", "bedrock")
        );
        assert_eq!(s.credentials.secret_access_key, "SECRET");
        assert!(p.headers.get("authorization").is_none());
        assert_eq!(p.body["messages"][0]["content"][0]["text"], "Hi");
        let p = prepare(&t, Endpoint::ChatCompletions, chat(true)).unwrap();
        assert!(p.stream && p.url.ends_with("%3A0/converse-stream"));
        assert!(p.body.get("stream").is_none());
    }

    #[test]
    fn bedrock_api_keys_are_bearer_and_assumed_roles_are_not_supported_yet() {
        let t = bedrock(
            json!({"aws_auth_type": "apiKey", "aws_region": "us-east-1"}),
            Some("bedrock-api-key"),
        );
        let p = prepare(&t, Endpoint::ChatCompletions, chat(false)).unwrap();
        assert!(p.sign.is_none());
        assert_eq!(p.headers["authorization"], "Bearer bedrock-api-key");

        let t = bedrock(
            json!({"aws_auth_type": "assumedRole", "aws_region": "us-east-1",
                "aws_role_arn": "arn:aws:iam::1:role/r"}),
            None,
        );
        let Err(e) = prepare(&t, Endpoint::ChatCompletions, chat(false)) else {
            panic!("an assumed role was accepted");
        };
        assert_eq!(e.status, axum::http::StatusCode::NOT_IMPLEMENTED);
        assert!(e.message.contains("assumedRole"), "{}", e.message);

        let t = bedrock(
            json!({"aws_auth_type": "accessKey", "aws_region": "us-east-1"}),
            None,
        );
        let Err(e) = prepare(&t, Endpoint::ChatCompletions, chat(false)) else {
            panic!("missing access keys were accepted");
        };
        assert!(e.message.contains("aws_access_key_id"), "{}", e.message);
    }
}
