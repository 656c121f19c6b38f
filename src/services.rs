//! The one registry of provider services: which services exist, the settings each takes
//! (and which of them are secret), which credential it needs, where its API is and how
//! to authenticate to it, and the wire protocol the gateway speaks to it.
//!
//! Every reader asks this table: clap's `--service` values and the enum-like provider
//! flags, the server's validation of `configurations` and its split into sealed secrets,
//! every masking of secrets (dry runs, summaries, read-backs), the connect wizard, and
//! the gateway. A service's `id` is Portkey's `ai_provider_id`.

use serde_json::{Map, Value};

use crate::crypto::mask;

/// A provider service an integration can connect to.
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    /// Portkey's `ai_provider_id`, e.g. `azure-openai`.
    pub id: &'static str,
    /// The name people know it by, e.g. `Azure OpenAI`.
    pub name: &'static str,
    /// The settings of this service only; [`COMMON`] settings apply to every service.
    pub fields: &'static [Field],
    /// Settings every integration of this service needs, whatever its credentials.
    pub requires: &'static [&'static str],
    /// Which credential the service needs: one way, or one per authentication mode.
    pub credentials: Credentials,
    /// Where its API is, unless the integration sets `custom_host`.
    pub base_url: BaseUrl,
    /// How a request proves who it is.
    pub auth: Auth,
    /// The wire protocol the gateway speaks to it.
    pub protocol: Protocol,
}

/// One setting of a service's `configurations`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The key in `configurations`, e.g. `aws_region`.
    pub name: &'static str,
    pub kind: Kind,
    /// What a person is asked for, e.g. `AWS region`.
    pub label: &'static str,
    /// The answer a prompt offers first, e.g. `us-east-1`.
    pub suggested: Option<&'static str>,
}

/// What a setting holds, which decides how it is checked and whether it is secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A string that becomes part of a host name (a resource name, a region): letters,
    /// digits and hyphens ([`is_label`]).
    Label,
    /// A string that is a credential: sealed, and read back as `masked_<field>`.
    Secret,
    /// `true`/`false` (also `"true"`/`"false"`).
    Bool,
    /// An http(s) URL.
    Url,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// A JSON object.
    Object,
    /// A JSON object that is a credential (a service account key): sealed, never shown.
    SecretObject,
    /// Header names to values; every value is treated as a credential.
    Headers,
    /// Azure deployments: `[{azure_deployment_name, azure_api_version, azure_model_slug, alias?, is_default?}]`.
    Deployments,
}

impl Kind {
    /// Whether values of this kind are credentials, sealed at rest and masked wherever shown.
    pub fn is_secret(self) -> bool {
        matches!(self, Kind::Secret | Kind::SecretObject | Kind::Headers)
    }

    /// The masked form of a secret value (`None` for a setting that is not secret): a
    /// string shows its first and last characters at most, a secret object nothing, and
    /// headers keep their names with each value masked.
    pub fn masked(self, value: &Value) -> Option<Value> {
        match self {
            Kind::Secret => Some(Value::String(mask(value.as_str().unwrap_or_default()))),
            Kind::SecretObject => Some(Value::String(mask(""))),
            Kind::Headers => Some(Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), Value::String(mask(v.as_str().unwrap_or("")))))
                    .collect(),
            )),
            _ => None,
        }
    }
}

/// The credential a service needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Credentials {
    /// One way to authenticate.
    Fixed(Needs),
    /// The [`Kind::Enum`] setting `field` chooses one of `modes` by value.
    ByMode {
        field: &'static str,
        modes: &'static [Mode],
    },
}

/// One authentication mode of a service, e.g. Bedrock's `assumedRole`.
#[derive(Debug, PartialEq, Eq)]
pub struct Mode {
    /// The value of the mode setting that selects it.
    pub value: &'static str,
    pub needs: Needs,
}

/// What one way of authenticating needs.
#[derive(Debug, PartialEq, Eq)]
pub struct Needs {
    /// Settings that must be present.
    pub fields: &'static [&'static str],
    /// The provider secret.
    pub secret: Secret,
}

/// Where the provider secret of an integration goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The integration's `key` is required.
    Key,
    /// A `key` may be given; without one, requests carry no credential (self-hosted services).
    OptionalKey,
    /// The secret is this [`Kind::Secret`] setting (e.g. `aws_secret_access_key`), not `key`.
    Field(&'static str),
    /// Nothing beyond the settings (a service account, a role, an ambient identity).
    None,
}

/// The upstream base URL, including the version path: requests go to `{base}/chat/completions`
/// and the like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseUrl {
    /// The same for every integration.
    Fixed(&'static str),
    /// Derived from the integration's configuration: each `{field}` is replaced by that
    /// setting; `{a|b.c}` takes the first present of `a` and field `c` of the object `b`.
    FromConfig(&'static str),
}

/// How a request to the service authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <key>` (none when a custom service has no key).
    Bearer,
    /// Azure: `api-key: <key>` in mode `default`; the Entra, managed and workload modes
    /// send `Authorization: Bearer` with a Microsoft Entra ID token instead.
    AzureApiKey,
    /// `x-api-key: <key>` and `anthropic-version: <version>`.
    Anthropic { version: &'static str },
    /// AWS Signature Version 4 for service `bedrock`, from the access key pair or an
    /// assumed role; mode `apiKey` sends the Bedrock API key as `Authorization: Bearer`.
    AwsSigV4,
    /// `x-goog-api-key: <key>`.
    GoogleApiKey,
    /// `Authorization: Bearer` with a Google OAuth token: minted from the service account
    /// key (`serviceAccount`) or the ambient identity (`basic`, `workload`).
    GoogleServiceAccount,
}

impl Auth {
    /// The headers that carry `key` for the styles that send the key as it is; `None`
    /// for the styles that sign requests or mint tokens.
    pub fn key_headers(self, key: &str) -> Option<Vec<(&'static str, String)>> {
        match self {
            Auth::Bearer => Some(vec![("authorization", format!("Bearer {key}"))]),
            Auth::AzureApiKey => Some(vec![("api-key", key.to_owned())]),
            Auth::Anthropic { version } => Some(vec![
                ("x-api-key", key.to_owned()),
                ("anthropic-version", version.to_owned()),
            ]),
            Auth::GoogleApiKey => Some(vec![("x-goog-api-key", key.to_owned())]),
            Auth::AwsSigV4 | Auth::GoogleServiceAccount => None,
        }
    }
}

/// The wire protocol the gateway speaks to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// OpenAI chat completions: `POST {base}/chat/completions`.
    OpenAiChat,
    /// Azure OpenAI: `POST {base}/deployments/{deployment}/chat/completions?api-version=...`.
    AzureOpenAi,
    /// Anthropic messages: `POST {base}/messages`.
    AnthropicMessages,
    /// Bedrock Converse: `POST {base}/model/{model}/converse`.
    BedrockConverse,
    /// Gemini: `POST {base}/models/{model}:generateContent` (Vertex AI: under `publishers/google/`).
    Gemini,
    /// The gateway does not speak to this service yet.
    None,
}

/// Settings every service takes.
pub const COMMON: &[Field] = &[
    Field::new(
        "custom_host",
        Kind::Url,
        "base URL of the service (e.g. http://10.0.0.5:8000/v1)",
    ),
    Field::new("custom_headers", Kind::Headers, "headers sent upstream"),
];

impl Field {
    const fn new(name: &'static str, kind: Kind, label: &'static str) -> Field {
        Field {
            name,
            kind,
            label,
            suggested: None,
        }
    }

    const fn suggest(self, value: &'static str) -> Field {
        Field {
            suggested: Some(value),
            ..self
        }
    }
}

const KEY: Needs = Needs {
    fields: &[],
    secret: Secret::Key,
};

/// A service whose only credential is `key`, sent as a bearer token to an
/// OpenAI-compatible API at `base_url`.
const fn openai_compatible(
    id: &'static str,
    name: &'static str,
    base_url: &'static str,
) -> Service {
    Service {
        id,
        name,
        fields: &[],
        requires: &[],
        credentials: Credentials::Fixed(KEY),
        base_url: BaseUrl::Fixed(base_url),
        auth: Auth::Bearer,
        protocol: Protocol::OpenAiChat,
    }
}

/// Every service, in the order the wizard offers them.
pub static ALL: &[Service] = &[
    Service {
        fields: &[
            Field::new("openai_organization", Kind::Text, "OpenAI organization id"),
            Field::new("openai_project", Kind::Text, "OpenAI project id"),
        ],
        ..openai_compatible("openai", "OpenAI", "https://api.openai.com/v1")
    },
    Service {
        id: "anthropic",
        name: "Anthropic",
        fields: &[Field::new(
            "anthropic_inspect_stream_for_overloaded_error",
            Kind::Bool,
            "inspect streams for overloaded errors",
        )],
        requires: &[],
        credentials: Credentials::Fixed(KEY),
        base_url: BaseUrl::Fixed("https://api.anthropic.com/v1"),
        auth: Auth::Anthropic {
            version: "2023-06-01",
        },
        protocol: Protocol::AnthropicMessages,
    },
    Service {
        id: "azure-openai",
        name: "Azure OpenAI",
        fields: &[
            Field::new("azure_auth_mode", Kind::Enum(AZURE_MODES), "Azure authentication mode"),
            Field::new("azure_resource_name", Kind::Label, "Azure resource name"),
            Field::new("azure_deployment_config", Kind::Deployments, "deployments"),
            Field::new("azure_entra_tenant_id", Kind::Text, "Entra tenant id"),
            Field::new("azure_entra_client_id", Kind::Text, "Entra client id"),
            Field::new("azure_entra_client_secret", Kind::Secret, "Entra client secret"),
            Field::new("azure_managed_client_id", Kind::Text, "managed identity client id"),
            Field::new("azure_workload_tenant_id", Kind::Text, "workload tenant id"),
            Field::new("azure_workload_client_id", Kind::Text, "workload client id"),
        ],
        requires: &["azure_resource_name", "azure_auth_mode", "azure_deployment_config"],
        credentials: Credentials::ByMode {
            field: "azure_auth_mode",
            modes: &[
                Mode {
                    value: "default",
                    needs: KEY,
                },
                Mode {
                    value: "entra",
                    needs: Needs {
                        fields: &[
                            "azure_entra_tenant_id",
                            "azure_entra_client_id",
                            "azure_entra_client_secret",
                        ],
                        secret: Secret::Field("azure_entra_client_secret"),
                    },
                },
                Mode {
                    value: "entraFederated",
                    needs: Needs {
                        fields: &["azure_entra_tenant_id", "azure_entra_client_id"],
                        secret: Secret::None,
                    },
                },
                Mode {
                    value: "managed",
                    needs: Needs {
                        fields: &[],
                        secret: Secret::None,
                    },
                },
                Mode {
                    value: "workload",
                    needs: Needs {
                        fields: &["azure_workload_tenant_id", "azure_workload_client_id"],
                        secret: Secret::None,
                    },
                },
            ],
        },
        base_url: BaseUrl::FromConfig("https://{azure_resource_name}.openai.azure.com/openai"),
        auth: Auth::AzureApiKey,
        protocol: Protocol::AzureOpenAi,
    },
    Service {
        id: "bedrock",
        name: "Amazon Bedrock",
        fields: &[
            Field::new("aws_auth_type", Kind::Enum(AWS_MODES), "AWS authentication"),
            Field::new("aws_region", Kind::Label, "AWS region").suggest("us-east-1"),
            Field::new("aws_access_key_id", Kind::Secret, "AWS access key id"),
            Field::new("aws_secret_access_key", Kind::Secret, "AWS secret access key"),
            Field::new("aws_role_arn", Kind::Text, "IAM role ARN"),
            Field::new("aws_external_id", Kind::Text, "external id of the assumed role"),
        ],
        requires: &["aws_auth_type", "aws_region"],
        credentials: Credentials::ByMode {
            field: "aws_auth_type",
            modes: &[
                Mode {
                    value: "accessKey",
                    needs: Needs {
                        fields: &["aws_access_key_id", "aws_secret_access_key"],
                        secret: Secret::Field("aws_secret_access_key"),
                    },
                },
                Mode {
                    value: "assumedRole",
                    needs: Needs {
                        fields: &["aws_role_arn"],
                        secret: Secret::None,
                    },
                },
                Mode {
                    value: "apiKey",
                    needs: KEY,
                },
            ],
        },
        base_url: BaseUrl::FromConfig("https://bedrock-runtime.{aws_region}.amazonaws.com"),
        auth: Auth::AwsSigV4,
        protocol: Protocol::BedrockConverse,
    },
    Service {
        id: "vertex-ai",
        name: "Google Vertex AI",
        fields: &[
            Field::new("vertex_auth_type", Kind::Enum(VERTEX_MODES), "Vertex AI authentication"),
            Field::new("vertex_region", Kind::Text, "Vertex AI region").suggest("us-central1"),
            Field::new("vertex_project_id", Kind::Text, "Google Cloud project id"),
            Field::new(
                "vertex_service_account_json",
                Kind::SecretObject,
                "service account JSON",
            ),
            Field::new("is_key_required", Kind::Bool, "whether a key is required"),
            Field::new(
                "vertex_skip_ptu_cost_attribution",
                Kind::Bool,
                "skip cost attribution of provisioned throughput",
            ),
            Field::new("vertex_map_metadata", Kind::Object, "metadata mapped to labels"),
        ],
        requires: &["vertex_auth_type", "vertex_region"],
        credentials: Credentials::ByMode {
            field: "vertex_auth_type",
            modes: &[
                Mode {
                    value: "serviceAccount",
                    needs: Needs {
                        fields: &["vertex_service_account_json"],
                        secret: Secret::None,
                    },
                },
                Mode {
                    value: "basic",
                    needs: Needs {
                        fields: &["vertex_project_id"],
                        secret: Secret::None,
                    },
                },
                Mode {
                    value: "workload",
                    needs: Needs {
                        fields: &["vertex_project_id"],
                        secret: Secret::None,
                    },
                },
            ],
        },
        // Region `global` is served at `aiplatform.googleapis.com`, without the prefix.
        base_url: BaseUrl::FromConfig(
            "https://{vertex_region}-aiplatform.googleapis.com/v1/projects/{vertex_project_id|vertex_service_account_json.project_id}/locations/{vertex_region}",
        ),
        auth: Auth::GoogleServiceAccount,
        protocol: Protocol::Gemini,
    },
    Service {
        auth: Auth::GoogleApiKey,
        protocol: Protocol::Gemini,
        ..openai_compatible(
            "google",
            "Google Gemini",
            "https://generativelanguage.googleapis.com/v1beta",
        )
    },
    openai_compatible("mistral-ai", "Mistral AI", "https://api.mistral.ai/v1"),
    openai_compatible("groq", "Groq", "https://api.groq.com/openai/v1"),
    openai_compatible("together-ai", "Together AI", "https://api.together.xyz/v1"),
    openai_compatible(
        "fireworks-ai",
        "Fireworks AI",
        "https://api.fireworks.ai/inference/v1",
    ),
    openai_compatible("deepseek", "DeepSeek", "https://api.deepseek.com/v1"),
    openai_compatible("x-ai", "xAI", "https://api.x.ai/v1"),
    openai_compatible("openrouter", "OpenRouter", "https://openrouter.ai/api/v1"),
    openai_compatible("deepinfra", "DeepInfra", "https://api.deepinfra.com/v1/openai"),
    openai_compatible("cerebras", "Cerebras", "https://api.cerebras.ai/v1"),
    openai_compatible("perplexity-ai", "Perplexity", "https://api.perplexity.ai"),
    Service {
        protocol: Protocol::None,
        ..openai_compatible("cohere", "Cohere", "https://api.cohere.ai/v1")
    },
    Service {
        protocol: Protocol::None,
        ..openai_compatible("ai21", "AI21 Labs", "https://api.ai21.com/studio/v1")
    },
    Service {
        id: "custom",
        name: "Custom (self-hosted, OpenAI-compatible)",
        fields: &[],
        requires: &["custom_host"],
        credentials: Credentials::Fixed(Needs {
            fields: &[],
            secret: Secret::OptionalKey,
        }),
        base_url: BaseUrl::FromConfig("{custom_host}"),
        auth: Auth::Bearer,
        protocol: Protocol::OpenAiChat,
    },
];

const AZURE_MODES: &[&str] = &["default", "entra", "entraFederated", "managed", "workload"];
const AWS_MODES: &[&str] = &["accessKey", "assumedRole", "apiKey"];
const VERTEX_MODES: &[&str] = &["serviceAccount", "basic", "workload"];

/// The service with this `ai_provider_id`.
pub fn find(id: &str) -> Option<&'static Service> {
    ALL.iter().find(|s| s.id == id)
}

/// The service with this `ai_provider_id`, or an error that suggests the closest one.
pub fn lookup(id: &str) -> Result<&'static Service, UnknownService> {
    find(id).ok_or_else(|| UnknownService(id.to_owned()))
}

/// Every service id, in the registry's order.
pub fn ids() -> impl Iterator<Item = &'static str> {
    ALL.iter().map(|s| s.id)
}

/// The known service id closest to a misspelt one.
pub fn closest(id: &str) -> Option<&'static str> {
    crate::suggest::closest(id, ids(), 1).first().copied()
}

/// A setting of this name in any service. Field names are unique across services (a
/// test checks it), so this is how a setting is classified when the service is not known.
pub fn field_anywhere(name: &str) -> Option<&'static Field> {
    ALL.iter()
        .flat_map(|s| s.fields)
        .chain(COMMON)
        .find(|f| f.name == name)
}

/// The setting `name` as the registry knows it: `service`'s own when it has it, else
/// the one of that name in any service (a setting the service does not take is refused
/// by the server, but a dry run or summary still must not show it if it is a secret).
pub fn classify(service: Option<&Service>, name: &str) -> Option<&'static Field> {
    service
        .and_then(|s| s.field(name))
        .or_else(|| field_anywhere(name))
}

/// Whether the setting `name` holds a secret (see [`classify`]).
pub fn is_secret(service: Option<&Service>, name: &str) -> bool {
    classify(service, name).is_some_and(|f| f.kind.is_secret())
}

/// A configuration with every secret setting masked in place (see [`Kind::masked`]).
pub fn masked_config(service: Option<&Service>, config: &Map<String, Value>) -> Map<String, Value> {
    config
        .iter()
        .map(|(name, value)| {
            let shown = classify(service, name)
                .and_then(|f| f.kind.masked(value))
                .unwrap_or_else(|| value.clone());
            (name.clone(), shown)
        })
        .collect()
}

/// An `ai_provider_id` this registry does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownService(pub String);

impl UnknownService {
    /// The closest known id.
    pub fn suggestion(&self) -> Option<&'static str> {
        closest(&self.0)
    }
}

impl std::fmt::Display for UnknownService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown service `{}`", self.0)?;
        if let Some(s) = self.suggestion() {
            write!(f, "; did you mean `{s}`?")?;
        }
        write!(
            f,
            " known services: {}",
            ids().collect::<Vec<_>>().join(", ")
        )
    }
}

impl std::error::Error for UnknownService {}

impl Service {
    /// Every setting the service takes: its own, then the common ones.
    pub fn all_fields(&self) -> impl Iterator<Item = &'static Field> {
        self.fields.iter().chain(COMMON)
    }

    /// The setting `name` of this service.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.all_fields().find(|f| f.name == name)
    }

    /// The authentication mode a configuration chose, or `None` when the service has
    /// modes and the configuration names none of them.
    pub fn needs(&self, config: &Map<String, Value>) -> Option<&Needs> {
        match &self.credentials {
            Credentials::Fixed(needs) => Some(needs),
            Credentials::ByMode { field, modes } => {
                let chosen = config.get(*field).and_then(Value::as_str)?;
                modes.iter().find(|m| m.value == chosen).map(|m| &m.needs)
            }
        }
    }

    /// Where the provider secret of this configuration goes. Without a chosen mode: the
    /// secret every mode shares, else `key`.
    pub fn secret(&self, config: &Map<String, Value>) -> Secret {
        if let Some(needs) = self.needs(config) {
            return needs.secret;
        }
        match &self.credentials {
            Credentials::ByMode { modes, .. }
                if modes
                    .iter()
                    .all(|m| m.needs.secret == modes[0].needs.secret) =>
            {
                modes[0].needs.secret
            }
            _ => Secret::Key,
        }
    }

    /// The settings this configuration must have: the service's, then its mode's.
    pub fn required(&self, config: &Map<String, Value>) -> Vec<&'static str> {
        let mut all = self.requires.to_vec();
        if let Some(needs) = self.needs(config) {
            all.extend(needs.fields);
        }
        all
    }

    /// The base URL requests of this configuration go to: `custom_host` when set, else
    /// the service's, filled from the configuration (plaintext, secrets opened). `None`
    /// when a setting it is derived from is missing.
    pub fn upstream(&self, config: &Map<String, Value>) -> Option<String> {
        if let Some(host) = config.get("custom_host").and_then(Value::as_str) {
            return Some(host.trim_end_matches('/').to_owned());
        }
        match self.base_url {
            BaseUrl::Fixed(url) => Some(url.to_owned()),
            BaseUrl::FromConfig(template) => fill(template, config),
        }
    }
}

/// Whether `text` may be part of a host name: letters, digits and hyphens only. Anything
/// else (`.`, `:`, `/`, `#`, `@`) could move a call to another host.
pub fn is_label(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Replaces each `{a|b.c}` in `template` with the first present of the settings named.
/// A setting that fills part of a URL (a resource name, a region) must be
/// [`is_label`], whatever was stored before that was checked.
fn fill(template: &str, config: &Map<String, Value>) -> Option<String> {
    let whole = template.starts_with('{') && template.find('}') == Some(template.len() - 1);
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = start + rest[start..].find('}')?;
        let value = rest[start + 1..end].split('|').find_map(|path| {
            let mut parts = path.split('.');
            let first = config.get(parts.next()?)?;
            parts
                .try_fold(first, |v, p| v.get(p))?
                .as_str()
                .filter(|s| !s.trim().is_empty())
        })?;
        if !whole && !is_label(value) {
            return None;
        }
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn settings_that_fill_a_host_name_cannot_move_the_call_elsewhere() {
        let azure = find("azure-openai").unwrap();
        let url = |name: &str| azure.upstream(&obj(json!({"azure_resource_name": name})));
        assert_eq!(
            url("my-resource").as_deref(),
            Some("https://my-resource.openai.azure.com/openai")
        );
        for bad in [
            "10.0.0.5:8000/x#",
            "evil.example",
            "a/b",
            "a b",
            "x@10.0.0.5",
        ] {
            assert_eq!(url(bad), None, "{bad}");
        }
        let bedrock = find("bedrock").unwrap();
        let region = |r: &str| bedrock.upstream(&obj(json!({"aws_region": r})));
        assert!(region("eu-west-3").is_some());
        assert_eq!(region("127.0.0.1:9000/#"), None);
        // A whole URL is a `custom_host`, checked where it is called.
        let custom = find("custom").unwrap();
        let host = custom.upstream(&obj(json!({"custom_host": "http://10.0.0.5:8000/v1"})));
        assert_eq!(host.as_deref(), Some("http://10.0.0.5:8000/v1"));
    }

    #[test]
    fn ids_are_unique_and_every_field_name_has_one_kind() {
        let mut seen = std::collections::BTreeSet::new();
        for s in ALL {
            assert!(seen.insert(s.id), "{} twice", s.id);
        }
        let mut fields = std::collections::BTreeMap::new();
        for f in ALL.iter().flat_map(|s| s.all_fields()) {
            if let Some(kind) = fields.insert(f.name, f.kind) {
                assert_eq!(kind, f.kind, "{} has two kinds", f.name);
            }
        }
        // Settings of two services never share a name: `field_anywhere` is unambiguous.
        let own: Vec<&str> = ALL.iter().flat_map(|s| s.fields).map(|f| f.name).collect();
        let distinct: std::collections::BTreeSet<&str> = own.iter().copied().collect();
        assert_eq!(own.len(), distinct.len());
    }

    #[test]
    fn modes_match_their_enum_and_name_real_settings() {
        for s in ALL {
            for r in s.requires {
                assert!(s.field(r).is_some(), "{}: requires unknown {r}", s.id);
            }
            let needs: Vec<&Needs> = match &s.credentials {
                Credentials::Fixed(n) => vec![n],
                Credentials::ByMode { field, modes } => {
                    let Some(Field {
                        kind: Kind::Enum(allowed),
                        ..
                    }) = s.field(field)
                    else {
                        panic!("{}: mode setting {field} is not an enum", s.id)
                    };
                    let values: Vec<&str> = modes.iter().map(|m| m.value).collect();
                    assert_eq!(&values, allowed, "{}", s.id);
                    modes.iter().map(|m| &m.needs).collect()
                }
            };
            for n in needs {
                for f in n.fields {
                    assert!(s.field(f).is_some(), "{}: needs unknown {f}", s.id);
                }
                if let Secret::Field(f) = n.secret {
                    assert_eq!(s.field(f).map(|f| f.kind), Some(Kind::Secret), "{}", s.id);
                    assert!(n.fields.contains(&f), "{}: {f} is not required", s.id);
                }
            }
        }
    }

    #[test]
    fn every_service_knows_where_its_api_is() {
        for s in ALL {
            match s.base_url {
                BaseUrl::Fixed(url) => assert!(url.starts_with("https://"), "{}", s.id),
                BaseUrl::FromConfig(t) => assert!(t.contains('{'), "{}", s.id),
            }
        }
        let azure = find("azure-openai").unwrap();
        assert_eq!(
            azure
                .upstream(&obj(json!({"azure_resource_name": "acme"})))
                .as_deref(),
            Some("https://acme.openai.azure.com/openai")
        );
        assert_eq!(azure.upstream(&Map::new()), None);
        let vertex = find("vertex-ai").unwrap();
        let sa = obj(json!({"vertex_region": "europe-west4",
            "vertex_service_account_json": {"project_id": "p1", "private_key": "k"}}));
        assert_eq!(
            vertex.upstream(&sa).as_deref(),
            Some("https://europe-west4-aiplatform.googleapis.com/v1/projects/p1/locations/europe-west4")
        );
        let groq = find("groq").unwrap();
        assert_eq!(
            groq.upstream(&Map::new()).as_deref(),
            Some("https://api.groq.com/openai/v1")
        );
        assert_eq!(
            groq.upstream(&obj(json!({"custom_host": "http://10.0.0.5:8000/v1/"})))
                .as_deref(),
            Some("http://10.0.0.5:8000/v1")
        );
        assert_eq!(
            find("anthropic").unwrap().auth.key_headers("k").unwrap()[1],
            ("anthropic-version", "2023-06-01".to_owned())
        );
    }

    #[test]
    fn the_secret_follows_the_mode() {
        let bedrock = find("bedrock").unwrap();
        let mode = |m: &str| obj(json!({"aws_auth_type": m}));
        assert_eq!(
            bedrock.secret(&mode("accessKey")),
            Secret::Field("aws_secret_access_key")
        );
        assert_eq!(bedrock.secret(&mode("assumedRole")), Secret::None);
        assert_eq!(bedrock.secret(&mode("apiKey")), Secret::Key);
        assert_eq!(bedrock.secret(&Map::new()), Secret::Key);
        assert_eq!(find("vertex-ai").unwrap().secret(&Map::new()), Secret::None);
        assert_eq!(
            find("custom").unwrap().secret(&Map::new()),
            Secret::OptionalKey
        );
        assert_eq!(
            bedrock.required(&mode("assumedRole")),
            ["aws_auth_type", "aws_region", "aws_role_arn"]
        );
    }

    #[test]
    fn unknown_services_get_the_closest_id() {
        let e = lookup("deepsek").unwrap_err();
        assert_eq!(e.suggestion(), Some("deepseek"));
        assert!(e.to_string().contains("did you mean `deepseek`?"), "{e}");
        assert!(lookup("deepseek").is_ok());
    }

    #[test]
    fn every_secret_kind_is_masked() {
        let bedrock = find("bedrock");
        let vertex = find("vertex-ai");
        let config = obj(json!({
            "aws_secret_access_key": "abcdefghijklmnopqrst",
            "vertex_service_account_json": {"private_key": "PRIVATE-KEY-0123456789"},
            "custom_headers": {"x-api-key": "HEADER-SECRET-0123456789"},
            "aws_region": "eu-west-1",
        }));
        for service in [bedrock, vertex, None] {
            let shown = Value::Object(masked_config(service, &config)).to_string();
            assert!(!shown.contains("PRIVATE-KEY") && !shown.contains("HEADER-SECRET"));
            assert!(
                shown.contains("eu-west-1") && shown.contains("x-api-key"),
                "{shown}"
            );
        }
        let shown = Value::Object(masked_config(vertex, &config)).to_string();
        assert!(!shown.contains("abcdefghijklmnopqrst"), "{shown}");
        assert!(is_secret(None, "aws_secret_access_key"));
        assert!(is_secret(find("openai"), "aws_secret_access_key"));
        assert!(!is_secret(bedrock, "aws_region"));
    }
}
