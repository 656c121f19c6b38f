//! Every route of the server in one table: its method, path, the scopes it requires and
//! what it does. The router, the scope checks and the OpenAPI document are built from it,
//! so none of them can forget a route.

use std::collections::BTreeMap;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;

use super::handlers::{
    alerts, api_keys, audit as audit_logs, catalog_models, check, configs, integration_models,
    integration_workspaces, integrations, organisation, policies, providers, usage, virtual_keys,
    whoami, workspaces,
};
use super::openapi::{self, Described, ParamKind, QueryParam};
use super::scopes::{self, Action, Requirement};
use super::{audit, AppState};

/// One route of the server.
pub struct Route {
    pub method: &'static str,
    /// The path under `/v1`, with `{name}` parameters.
    pub path: &'static str,
    pub requires: Requirement,
    pub summary: &'static str,
    /// Whether the route belongs to this server only (not in the Portkey Admin API).
    pub extension: bool,
    /// The query parameters the handler reads.
    pub query: &'static [QueryParam],
    /// The request body and response, from the handler's own types.
    pub describe: fn() -> Described,
    handler: fn() -> MethodRouter<AppState>,
}

macro_rules! route {
    ($method:ident $path:literal, $requires:expr, $handler:path, $summary:literal $(, $ext:ident)? $(; query $query:expr)?) => {
        Route {
            method: stringify!($method),
            path: $path,
            requires: $requires,
            summary: $summary,
            extension: route!(@ext $($ext)?),
            query: route!(@query $($query)?),
            describe: || openapi::describe($handler),
            handler: || on(MethodFilter::$method, $handler),
        }
    };
    (@query $query:expr) => { $query };
    (@query) => { &[] };
    (@ext extension) => { true };
    (@ext) => { false };
}

use Requirement::{AllOf, AnyOf, ApiKeys, Authenticated, Integrations, Scope};

const CURRENT_PAGE: QueryParam =
    QueryParam::new("current_page", ParamKind::Count, "Page number, from 0");
const PAGE_SIZE: QueryParam = QueryParam::new(
    "page_size",
    ParamKind::PageSize,
    "Items per page, 1 to 1000",
);
const WORKSPACE_ID: QueryParam = QueryParam::new(
    "workspace_id",
    ParamKind::String,
    "The workspace (id or slug); a workspace key's own by default",
);
const MODEL: QueryParam =
    QueryParam::new("model", ParamKind::String, "The model, `@provider/model`");
const API_KEY_ID: QueryParam = QueryParam::new(
    "api_key_id",
    ParamKind::String,
    "Also check this API key (its workspace, expiry and scope)",
);
const ALL_WORKSPACES: QueryParam = QueryParam::new(
    "all_workspaces",
    ParamKind::Boolean,
    "Every workspace's providers (organisation keys; an extension)",
);
const NAME: QueryParam = QueryParam::new("name", ParamKind::String, "Name contains");
const EXACT_NAME: QueryParam = QueryParam::new("exact_name", ParamKind::String, "Name equals");
const STATUS: QueryParam = QueryParam::new("status", ParamKind::String, "Comma-separated statuses");
const TYPE: QueryParam = QueryParam::new(
    "type",
    ParamKind::OneOf(&["organisation", "workspace", "all"]),
    "Which integrations",
);
const FORCE_DELETE: QueryParam = QueryParam::new(
    "force_delete",
    ParamKind::Boolean,
    "Also delete the AI providers that use it (an extension)",
);
const SLUGS: QueryParam = QueryParam::new(
    "slugs",
    ParamKind::Pattern("^[A-Za-z0-9_.:/@-]{1,255}(,[A-Za-z0-9_.:/@-]{1,255})*$"),
    "Comma-separated model slugs",
)
.required();
const PROVIDER: QueryParam =
    QueryParam::new("provider", ParamKind::String, "Only this provider's models");
const AI_SERVICE: QueryParam = QueryParam::new(
    "ai_service",
    ParamKind::String,
    "Only this service's models",
);
const SORT: QueryParam = QueryParam::new(
    "sort",
    ParamKind::OneOf(&["name", "provider", "ai_service"]),
    "Sort order",
);
const ORDER: QueryParam = QueryParam::new("order", ParamKind::OneOf(&["asc", "desc"]), "Direction");
const OFFSET: QueryParam = QueryParam::new("offset", ParamKind::Count, "Models to skip");
const INTEGRATION: QueryParam = QueryParam::new(
    "integration",
    ParamKind::String,
    "Only this integration's limits (slug or id)",
);
const USAGE_PROVIDER: QueryParam = QueryParam::new(
    "provider",
    ParamKind::String,
    "The limits a call through this AI provider counts at (slug, with `workspace_id`)",
);
const LIMIT: QueryParam = QueryParam::new("limit", ParamKind::Count, "At most this many");
const ALERT_KIND: QueryParam = QueryParam::new(
    "kind",
    ParamKind::OneOf(&["threshold", "limit"]),
    "Only alerts of this kind",
);
const DELIVERED: QueryParam = QueryParam::new(
    "delivered",
    ParamKind::Boolean,
    "Only alerts every webhook acknowledged (`true`), or the others (`false`)",
);
const RFC3339: &str = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$";
const SINCE: QueryParam = QueryParam::new(
    "since",
    ParamKind::Pattern(RFC3339),
    "Only alerts raised at or after this RFC 3339 time",
);

const START_TIME: QueryParam = QueryParam::new(
    "start_time",
    ParamKind::Pattern(RFC3339),
    "Only records at or after this RFC 3339 time",
);
const END_TIME: QueryParam = QueryParam::new(
    "end_time",
    ParamKind::Pattern(RFC3339),
    "Only records before this RFC 3339 time",
);
const ACTOR: QueryParam = QueryParam::new(
    "actor",
    ParamKind::String,
    "Only changes by this API key (id or name), `embedded` or `system`",
);
const RESOURCE_TYPE: QueryParam = QueryParam::new(
    "resource_type",
    ParamKind::OneOf(crate::domain::audit::RESOURCE_TYPES),
    "Only changes to objects of this type",
);
const RESOURCE_ID: QueryParam = QueryParam::new(
    "resource_id",
    ParamKind::String,
    "Only changes to this object (id or slug)",
);
const AUDIT_WORKSPACE: QueryParam = QueryParam::new(
    "workspace_id",
    ParamKind::String,
    "Only changes touching this workspace (id or slug); a workspace key's own always",
);
const AUDIT_ACTION: QueryParam = QueryParam::new(
    "action",
    ParamKind::OneOf(crate::domain::audit::ACTIONS),
    "Only changes of this kind",
);

const POLICY_WORKSPACE: QueryParam = QueryParam::new(
    "workspace_id",
    ParamKind::String,
    "Only this workspace's policies (id or slug); a workspace key's own always",
);
const POLICY_STATUS: QueryParam = QueryParam::new(
    "status",
    ParamKind::OneOf(&["active", "archived", "all"]),
    "Which policies (default `active`)",
);
const USAGE_POLICY_TYPE: QueryParam = QueryParam::new(
    "type",
    ParamKind::OneOf(&["cost", "tokens", "requests"]),
    "Only policies of this type",
);
const RATE_POLICY_TYPE: QueryParam = QueryParam::new(
    "type",
    ParamKind::OneOf(&["requests", "tokens"]),
    "Only policies of this type",
);
const RATE_POLICY_UNIT: QueryParam = QueryParam::new(
    "unit",
    ParamKind::OneOf(&["rpm", "rph", "rpd", "rpw"]),
    "Only policies of this window",
);
const INCLUDE_USAGE: QueryParam = QueryParam::new(
    "include_usage",
    ParamKind::Boolean,
    "Add `value_key_usage_map`: each value key's usage",
);
const ENTITY_STATUS: QueryParam = QueryParam::new(
    "status",
    ParamKind::OneOf(&["active", "exhausted"]),
    "Only value keys in this state",
);
const SEARCH: QueryParam = QueryParam::new("search", ParamKind::String, "Value key contains");

/// The routes, in the order the OpenAPI document lists them.
pub fn all() -> Vec<Route> {
    vec![
        route!(GET "/admin/workspaces", Scope("workspaces.list"), workspaces::list, "List workspaces"; query &[CURRENT_PAGE, PAGE_SIZE, NAME, EXACT_NAME, STATUS]),
        route!(POST "/admin/workspaces", Scope("workspaces.create"), workspaces::create, "Create a workspace"),
        route!(GET "/admin/workspaces/{id}", Scope("workspaces.read"), workspaces::retrieve, "Retrieve a workspace"),
        route!(PUT "/admin/workspaces/{id}", Scope("workspaces.update"), workspaces::update, "Update a workspace"),
        route!(DELETE "/admin/workspaces/{id}", Scope("workspaces.delete"), workspaces::delete, "Delete a workspace"),
        route!(GET "/integrations", Integrations(Action::List), integrations::list, "List integrations"; query &[TYPE, WORKSPACE_ID, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/integrations", Integrations(Action::Create), integrations::create, "Create an integration"),
        route!(GET "/integrations/{slug}", Integrations(Action::Read), integrations::retrieve, "Retrieve an integration"),
        route!(PUT "/integrations/{slug}", Integrations(Action::Update), integrations::update, "Update an integration"),
        route!(DELETE "/integrations/{slug}", Integrations(Action::Delete), integrations::delete, "Delete an integration"; query &[FORCE_DELETE]),
        route!(GET "/integrations/{slug}/workspaces", Integrations(Action::Read), integration_workspaces::list, "List an integration's workspace access"),
        route!(PUT "/integrations/{slug}/workspaces", Integrations(Action::Update), integration_workspaces::update, "Provision an integration to workspaces"),
        route!(GET "/integrations/{slug}/models", Integrations(Action::Read), integration_models::list, "List an integration's models"),
        route!(PUT "/integrations/{slug}/models", Integrations(Action::Update), integration_models::update, "Provision an integration's models"),
        route!(DELETE "/integrations/{slug}/models", Integrations(Action::Update), integration_models::delete, "Remove custom models or disable built-in ones"; query &[SLUGS]),
        route!(GET "/models", AnyOf(&["completions.write", "models.list", "virtual_keys.list"]), catalog_models::list, "List the models a key may call"; query &[WORKSPACE_ID, PROVIDER, AI_SERVICE, SORT, ORDER, OFFSET, LIMIT]),
        route!(GET "/providers", Scope("providers.list"), providers::list, "List AI providers"; query &[WORKSPACE_ID, ALL_WORKSPACES, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/providers", Scope("providers.create"), providers::create, "Create an AI provider"),
        route!(GET "/providers/{slug}", Scope("providers.read"), providers::retrieve, "Retrieve an AI provider"; query &[WORKSPACE_ID]),
        route!(PUT "/providers/{slug}", Scope("providers.update"), providers::update, "Update an AI provider"; query &[WORKSPACE_ID]),
        route!(DELETE "/providers/{slug}", Scope("providers.delete"), providers::delete, "Delete an AI provider"; query &[WORKSPACE_ID]),
        route!(GET "/organisation/settings", Authenticated, organisation::get, "Read the organisation's settings", extension),
        route!(PUT "/organisation/settings", Scope("organisation_settings.update"), organisation::update, "Update the organisation's settings", extension),
        route!(GET "/virtual-keys", Scope("virtual_keys.list"), virtual_keys::list, "List virtual keys"; query &[WORKSPACE_ID, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/virtual-keys", Scope("virtual_keys.create"), virtual_keys::create, "Create a virtual key"),
        route!(GET "/virtual-keys/migration-plan", Scope("virtual_keys.list"), virtual_keys::migration_plan, "Plan the migration of virtual keys to integrations", extension; query &[WORKSPACE_ID]),
        route!(POST "/virtual-keys/migrate", AllOf(&["virtual_keys.update", "organisation_integrations.create"]), virtual_keys::migrate, "Migrate one group of virtual keys", extension),
        route!(GET "/virtual-keys/{slug}", Scope("virtual_keys.read"), virtual_keys::retrieve, "Retrieve a virtual key"; query &[WORKSPACE_ID]),
        route!(PUT "/virtual-keys/{slug}", Scope("virtual_keys.update"), virtual_keys::update, "Update a virtual key"; query &[WORKSPACE_ID]),
        route!(DELETE "/virtual-keys/{slug}", Scope("virtual_keys.delete"), virtual_keys::delete, "Delete a virtual key"; query &[WORKSPACE_ID]),
        route!(GET "/api-keys", ApiKeys(Action::List), api_keys::list, "List API keys"; query &[WORKSPACE_ID, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/api-keys/{type}/{sub_type}", ApiKeys(Action::Create), api_keys::create, "Create an API key"),
        route!(GET "/api-keys/{id}", ApiKeys(Action::Read), api_keys::retrieve, "Retrieve an API key"),
        route!(PUT "/api-keys/{id}", ApiKeys(Action::Update), api_keys::update, "Update an API key"),
        route!(DELETE "/api-keys/{id}", ApiKeys(Action::Delete), api_keys::delete, "Delete an API key"),
        route!(GET "/check", AnyOf(&["completions.write", "models.list", "virtual_keys.list"]), check::get, "Explain whether a workspace can call a model", extension; query &[MODEL, WORKSPACE_ID, API_KEY_ID]),
        route!(GET "/usage", Scope("analytics.view"), usage::list, "List every limit in a scope with its live usage", extension; query &[WORKSPACE_ID, INTEGRATION, USAGE_PROVIDER, CURRENT_PAGE, PAGE_SIZE]),
        route!(GET "/configs", Scope("configs.list"), configs::list, "List saved gateway configs"; query &[WORKSPACE_ID, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/configs", Scope("configs.create"), configs::create, "Save a gateway config"),
        route!(GET "/configs/{slug}", Scope("configs.read"), configs::retrieve, "Retrieve a saved gateway config"; query &[WORKSPACE_ID]),
        route!(PUT "/configs/{slug}", Scope("configs.update"), configs::update, "Update a saved gateway config (a changed config is a new version)"; query &[WORKSPACE_ID]),
        route!(DELETE "/configs/{slug}", Scope("configs.delete"), configs::delete, "Delete a saved gateway config and its versions"; query &[WORKSPACE_ID]),
        route!(GET "/configs/{slug}/versions", Scope("configs.read"), configs::versions, "List a saved gateway config's versions, newest first"; query &[WORKSPACE_ID, CURRENT_PAGE, PAGE_SIZE]),
        route!(GET "/policies/usage-limits", Scope("policies.list"), policies::list_usage, "List usage-limit policies"; query &[POLICY_WORKSPACE, POLICY_STATUS, USAGE_POLICY_TYPE, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/policies/usage-limits", Scope("policies.create"), policies::create_usage, "Create a usage-limit policy"),
        route!(GET "/policies/usage-limits/{id}", Scope("policies.read"), policies::retrieve_usage, "Retrieve a usage-limit policy"; query &[INCLUDE_USAGE]),
        route!(PUT "/policies/usage-limits/{id}", Scope("policies.update"), policies::update_usage, "Update a usage-limit policy"),
        route!(DELETE "/policies/usage-limits/{id}", Scope("policies.delete"), policies::delete_usage, "Archive a usage-limit policy"),
        route!(GET "/policies/usage-limits/{id}/entities", Scope("policies.read"), policies::usage_entities, "List a usage-limit policy's value keys with their usage"; query &[ENTITY_STATUS, SEARCH, CURRENT_PAGE, PAGE_SIZE]),
        route!(PUT "/policies/usage-limits/{id}/entities/{entity_id}/reset", Scope("policies.update"), policies::reset_usage_entity, "Start one value key's usage over"),
        route!(GET "/policies/rate-limits", Scope("policies.list"), policies::list_rate, "List rate-limit policies"; query &[POLICY_WORKSPACE, POLICY_STATUS, RATE_POLICY_TYPE, RATE_POLICY_UNIT, CURRENT_PAGE, PAGE_SIZE]),
        route!(POST "/policies/rate-limits", Scope("policies.create"), policies::create_rate, "Create a rate-limit policy"),
        route!(GET "/policies/rate-limits/{id}", Scope("policies.read"), policies::retrieve_rate, "Retrieve a rate-limit policy"),
        route!(PUT "/policies/rate-limits/{id}", Scope("policies.update"), policies::update_rate, "Update a rate-limit policy"),
        route!(DELETE "/policies/rate-limits/{id}", Scope("policies.delete"), policies::delete_rate, "Archive a rate-limit policy"),
        route!(GET "/policies/rate-limits/{id}/entities", Scope("policies.read"), policies::rate_entities, "List a rate-limit policy's value keys with their usage in the window (an extension)"; query &[ENTITY_STATUS, SEARCH, CURRENT_PAGE, PAGE_SIZE]),
        route!(GET "/alerts", Scope("alerts.list"), alerts::list, "List budget alerts, newest first, with their webhook deliveries", extension; query &[ALERT_KIND, DELIVERED, SINCE, CURRENT_PAGE, PAGE_SIZE]),
        route!(GET "/audit-logs", Scope("audit_logs.list"), audit_logs::list, "List the changes made through the Admin API, newest first", extension; query &[START_TIME, END_TIME, ACTOR, RESOURCE_TYPE, RESOURCE_ID, AUDIT_WORKSPACE, AUDIT_ACTION, CURRENT_PAGE, PAGE_SIZE]),
        route!(GET "/audit-logs/{id}", Scope("audit_logs.list"), audit_logs::retrieve, "Retrieve one audit record", extension),
        route!(GET "/whoami", Authenticated, whoami::get, "Describe the calling API key", extension),
    ]
}

/// The README's table of routes and the scopes they require.
pub fn scope_table_markdown() -> String {
    let mut out = String::from("| method | path | requires |\n|---|---|---|\n");
    for r in all() {
        let ext = if r.extension { " (extension)" } else { "" };
        out.push_str(&format!(
            "| {} | `/v1{}`{ext} | {} |\n",
            r.method,
            r.path,
            r.requires.describe()
        ));
    }
    out
}

/// The `/v1` router: each route behind its scope check.
/// A query parameter the route does not read is refused (as the OpenAPI document says),
/// rather than silently ignored: a misspelt filter would otherwise list everything.
/// The SDK's `currentPage`/`pageSize` spellings are read wherever paging is.
fn unknown_query(query: &[QueryParam], request: &Request) -> Option<super::error::ApiError> {
    request.uri().query()?;
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(request.uri()).ok()?;
    let pages = query.iter().any(|q| q.name == "current_page");
    for (name, _) in pairs {
        let known = query.iter().any(|q| q.name == name)
            || (pages && (name == "currentPage" || name == "pageSize"));
        if !known {
            let reads: Vec<String> = query.iter().map(|q| format!("`{}`", q.name)).collect();
            let hint = if reads.is_empty() {
                "this route reads no query parameters".to_owned()
            } else {
                format!("this route reads {}", reads.join(", "))
            };
            return Some(super::error::ApiError::invalid(format!(
                "unknown query parameter `{}`: {hint}",
                name.chars().take(64).collect::<String>()
            )));
        }
    }
    None
}

pub fn v1() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in all() {
        let (requires, query, path) = (r.requires, r.query, r.path);
        let method_router = (r.handler)().route_layer(middleware::from_fn(
            move |request: Request, next: Next| async move {
                if let Some(e) = unknown_query(query, &request) {
                    return axum::response::IntoResponse::into_response(e);
                }
                let context = audit::context(path, &request);
                audit::within(context, scopes::enforce(requires, request, next)).await
            },
        ));
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(method_router),
            None => method_router,
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, mr)| router.route(path, mr))
}
