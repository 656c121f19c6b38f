//! The OpenAPI 3.1 document of every route (`GET /v1/openapi.json`), generated from the
//! route table in [`super::routes`] and from the handlers' own types: a handler's
//! `Body<T>` argument is its request body, its `Json<T>` return its response, so the
//! document cannot drift from the code.

use std::any::TypeId;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{json, Map, Value};

use super::error::ApiResult;
use super::extract::{Body, Path, Query};
use super::json::Json;
use super::routes::{self, Route};

/// Builds a schema with a generator (for requests or for responses).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// What the document says about a handler: its request body and its response.
#[derive(Clone, Copy)]
pub struct Described {
    pub request: Option<SchemaFn>,
    pub response: SchemaFn,
}

/// A handler argument: only `Body<T>` adds to the document (its request body).
pub trait Argument {
    fn request() -> Option<SchemaFn> {
        None
    }
}

impl<T: JsonSchema> Argument for Body<T> {
    fn request() -> Option<SchemaFn> {
        Some(schema_of::<T>)
    }
}
impl<S> Argument for State<S> {}
impl<T> Argument for Extension<T> {}
impl<T> Argument for Path<T> {}
impl Argument for Query {}

/// A handler's return type: its success response.
pub trait Answer {
    fn response() -> SchemaFn;
}

impl<T: JsonSchema> Answer for ApiResult<Json<T>> {
    fn response() -> SchemaFn {
        schema_of::<T>
    }
}

impl<T: JsonSchema> Answer for ApiResult<(StatusCode, Json<T>)> {
    fn response() -> SchemaFn {
        schema_of::<T>
    }
}

/// Implemented by every handler function, over the tuple of its argument types.
pub trait Describe<Args> {
    fn describe(&self) -> Described;
}

macro_rules! describe_arity {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg,)*> Describe<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut,
            Fut: Future<Output = R>,
            R: Answer,
            $($arg: Argument,)*
        {
            fn describe(&self) -> Described {
                #[allow(unused_mut)]
                let mut request = None;
                $(request = request.or_else(<$arg as Argument>::request);)*
                Described { request, response: R::response() }
            }
        }
    };
}

describe_arity!();
describe_arity!(A1);
describe_arity!(A1, A2);
describe_arity!(A1, A2, A3);
describe_arity!(A1, A2, A3, A4);
describe_arity!(A1, A2, A3, A4, A5);

/// Describes a handler from its type.
pub fn describe<Args, H: Describe<Args>>(handler: H) -> Described {
    handler.describe()
}

/// The type of a query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamKind {
    String,
    /// A whole number of 0 or more.
    Count,
    /// `page_size`: 1 to 1000.
    PageSize,
    Boolean,
    OneOf(&'static [&'static str]),
    /// A string matching this regular expression.
    Pattern(&'static str),
}

/// A query parameter a route reads.
#[derive(Debug, Clone, Copy)]
pub struct QueryParam {
    pub name: &'static str,
    pub kind: ParamKind,
    pub required: bool,
    pub description: &'static str,
}

impl QueryParam {
    pub const fn new(name: &'static str, kind: ParamKind, description: &'static str) -> Self {
        QueryParam {
            name,
            kind,
            required: false,
            description,
        }
    }

    pub const fn required(self) -> Self {
        QueryParam {
            required: true,
            ..self
        }
    }

    /// An empty value (`?page_size=`) is the same as leaving the parameter out.
    fn schema(&self) -> Value {
        let or_empty = |typed: Value| json!({"anyOf": [typed, {"type": "string", "maxLength": 0}]});
        match self.kind {
            ParamKind::String => json!({"type": "string"}),
            ParamKind::Count => {
                or_empty(json!({"type": "integer", "minimum": 0, "maximum": u64::MAX}))
            }
            ParamKind::PageSize => {
                or_empty(json!({"type": "integer", "minimum": 1, "maximum": 1000}))
            }
            ParamKind::Boolean => json!({"anyOf": [
                {"type": "boolean"},
                {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no", ""]},
            ]}),
            ParamKind::OneOf(values) => or_empty(json!({"type": "string", "enum": values})),
            ParamKind::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
        }
    }
}

/// The routes served without authentication (outside the scope table).
pub const PUBLIC_PATHS: &[&str] = &["/openapi.json"];

const ERROR_STATUSES: &[(u16, &str)] = &[
    (
        400,
        "The request is invalid (AB01); the message names the field",
    ),
    (
        401,
        "No API key, or an unknown, expired or revoked one (AB05)",
    ),
    (
        403,
        "The key lacks a scope or may not reach this resource (AB03)",
    ),
    (404, "Not found (AB08)"),
    (409, "Conflicts with the current state (AB07)"),
    (413, "The request body is larger than the server accepts"),
];

/// Renames and rewrites `$ref`s in request schemas whose name a different response
/// schema already uses.
fn rewrite_refs(value: &mut Value, renames: &Map<String, Value>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get_mut("$ref") {
                if let Some(name) = r.strip_prefix("#/components/schemas/") {
                    if let Some(Value::String(new)) = renames.get(name) {
                        *r = format!("#/components/schemas/{new}");
                    }
                }
            }
            map.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let settings = if serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    settings.into_generator()
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match name {
                "type" => json!({"type": "string", "enum": ["organisation", "workspace"]}),
                "sub_type" => json!({"type": "string", "enum": ["service", "user"]}),
                _ => json!({"type": "string", "minLength": 1}),
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn operation_id(route: &Route) -> String {
    let mut id = route.method.to_ascii_lowercase();
    for seg in route.path.split('/').filter(|s| !s.is_empty()) {
        id.push('_');
        id.extend(seg.chars().filter(|c| !matches!(c, '{' | '}')).map(|c| {
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '_'
            }
        }));
    }
    id
}

/// The OpenAPI 3.1 document of this server, as a JSON value.
pub fn document() -> Value {
    let mut responses_gen = generator(true);
    let mut requests_gen = generator(false);
    let error = responses_gen.subschema_for::<crate::api::error::ErrorBody>();
    let error_response = |description: &str| json!({"description": description, "content": {"application/json": {"schema": error}}});
    let mut paths = Map::new();
    let mut request_bodies: Vec<Value> = Vec::new();
    let routes = routes::all();
    for route in &routes {
        let described = (route.describe)();
        let mut parameters = path_parameters(route.path);
        for q in route.query {
            parameters.push(json!({
                "name": q.name,
                "in": "query",
                "required": q.required,
                "description": q.description,
                "schema": q.schema(),
            }));
        }
        let mut responses = Map::new();
        let success = (described.response)(&mut responses_gen);
        responses.insert(
            "200".into(),
            json!({"description": "Success", "content": {"application/json": {"schema": success}}}),
        );
        for (status, description) in ERROR_STATUSES {
            if *status == 413 && described.request.is_none() {
                continue;
            }
            responses.insert(status.to_string(), error_response(description));
        }
        let mut op = json!({
            "operationId": operation_id(route),
            "summary": route.summary,
            "description": format!(
                "Requires: {}.{}",
                route.requires.describe(),
                if route.extension { " An extension of the Portkey Admin API." } else { "" }
            ),
            "tags": [if route.extension { "extensions" } else { "admin" }],
            "parameters": parameters,
            "responses": responses,
        });
        if route.extension {
            op["x-extension"] = json!(true);
        }
        if let Some(request) = described.request {
            op["requestBody"] = json!({
                "required": false,
                "content": {"application/json": {"schema": request(&mut requests_gen)}}
            });
            request_bodies.push(json!([
                format!("/v1{}", route.path),
                route.method.to_ascii_lowercase()
            ]));
        }
        let item = paths
            .entry(format!("/v1{}", route.path))
            .or_insert_with(|| json!({}));
        item[route.method.to_ascii_lowercase()] = op;
    }
    paths.insert(
        "/v1/openapi.json".into(),
        json!({"get": {
            "operationId": "get_openapi_json",
            "summary": "This document",
            "description": "Served without authentication.",
            "tags": ["extensions"],
            "x-extension": true,
            "security": [],
            "responses": {"200": {
                "description": "The OpenAPI 3.1 document of this server",
                "content": {"application/json": {"schema": {"type": "object"}}}
            }}
        }}),
    );

    // Request schemas whose name a different response schema holds get an `Input` name.
    let mut schemas = responses_gen.take_definitions(true);
    let request_defs = requests_gen.take_definitions(true);
    let mut renames = Map::new();
    for (name, schema) in &request_defs {
        if schemas.get(name).is_some_and(|s| s != schema) {
            let mut new = format!("{name}Input");
            let mut n = 2;
            while schemas.contains_key(&new) || request_defs.contains_key(&new) {
                new = format!("{name}Input{n}");
                n += 1;
            }
            renames.insert(name.clone(), Value::String(new));
        }
    }
    for (name, mut schema) in request_defs {
        rewrite_refs(&mut schema, &renames);
        let name = match renames.get(&name) {
            Some(Value::String(new)) => new.clone(),
            _ => name,
        };
        schemas.insert(name, schema);
    }
    for body in request_bodies {
        let (path, method) = (
            body[0].as_str().unwrap_or(""),
            body[1].as_str().unwrap_or(""),
        );
        if let Some(schema) = paths
            .get_mut(path)
            .and_then(|p| p.get_mut(method))
            .and_then(|op| op.pointer_mut("/requestBody/content/application~1json/schema"))
        {
            rewrite_refs(schema, &renames);
            // A body is required when its type has required fields (no body reads as `{}`).
            let required = schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                .and_then(|name| schemas.get(name))
                .and_then(|def| def.get("required"))
                .and_then(Value::as_array)
                .is_some_and(|r| !r.is_empty());
            if let Some(op) = paths.get_mut(path).and_then(|p| p.get_mut(method)) {
                op["requestBody"]["required"] = json!(required);
            }
        }
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "catalog: the Portkey Admin API and its extensions",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every route of `catalog serve`, generated from its route table and wire types.",
        },
        "servers": [{"url": "/"}],
        "security": [{"portkeyApiKey": []}, {"bearerAuth": []}],
        "tags": [
            {"name": "admin", "description": "Routes of the Portkey Admin API"},
            {"name": "extensions", "description": "Routes of this server only"},
        ],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "portkeyApiKey": {"type": "apiKey", "in": "header", "name": "x-portkey-api-key"},
                "bearerAuth": {"type": "http", "scheme": "bearer"},
            },
            "schemas": schemas,
        },
    })
}

/// `GET /v1/openapi.json`, built once.
pub async fn serve() -> Response {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = DOCUMENT.get_or_init(|| {
        crate::api::json::to_vec(&document()).expect("the document encodes as JSON")
    });
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes.clone(),
    )
        .into_response()
}

/// The request schema of `T` and the definitions it refers to, built once per type.
type RequestSchema = Arc<(Value, Map<String, Value>)>;

fn request_schema<T: JsonSchema + 'static>() -> RequestSchema {
    static CACHE: OnceLock<Mutex<HashMap<TypeId, RequestSchema>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(TypeId::of::<T>())
        .or_insert_with(|| {
            let mut generator = generator(false);
            let root = generator.subschema_for::<T>().to_value();
            Arc::new((root, generator.take_definitions(true)))
        })
        .clone()
}

/// Refuses an array where `T`'s schema has an object with fields: serde reads a struct
/// from an array of its fields in order (`"defaults": [null, null]`), which no client
/// means and the document does not allow. Returns the path of the first such value.
pub fn arrays_for_objects<T: JsonSchema + 'static>(value: &Value) -> Result<(), String> {
    let schema = request_schema::<T>();
    let (root, definitions) = &*schema;
    walk(value, root, definitions, String::new())
}

fn walk(
    value: &Value,
    schema: &Value,
    defs: &Map<String, Value>,
    at: String,
) -> Result<(), String> {
    let Some(schema) = schema.as_object() else {
        return Ok(());
    };
    if let Some(name) = schema
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        if let Some(def) = defs.get(name) {
            walk(value, def, defs, at.clone())?;
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        if !value.is_null() {
            let mut first = None;
            for branch in branches.iter().filter(|b| admits(b, value)) {
                match walk(value, branch, defs, at.clone()) {
                    Ok(()) => {
                        first = None;
                        break;
                    }
                    Err(e) => {
                        first.get_or_insert(e);
                    }
                }
            }
            if let Some(e) = first {
                return Err(e);
            }
        }
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    match value {
        Value::Array(items) => {
            if properties.is_some() {
                return Err(if at.is_empty() { "the body".into() } else { at });
            }
            if let Some(item) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(v, item, defs, format!("{at}[{i}]"))?;
                }
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                let sub = properties
                    .and_then(|p| p.get(k))
                    .or_else(|| schema.get("additionalProperties"));
                if let Some(sub) = sub {
                    let path = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    walk(v, sub, defs, path)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a branch's `type` (if it has one) admits the value's JSON type.
fn admits(schema: &Value, value: &Value) -> bool {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed = |t: &Value| {
        t.as_str()
            .is_some_and(|t| t == kind || (kind == "number" && t == "integer"))
    };
    match schema.get("type") {
        None => true,
        Some(Value::Array(types)) => types.iter().any(allowed),
        Some(t) => allowed(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::workspace::UpdateWorkspace;

    #[test]
    fn arrays_are_refused_where_objects_belong() {
        let ok = json!({"defaults": {"metadata": {"a": "b"}}, "usage_limits": null,
            "rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]});
        assert_eq!(arrays_for_objects::<UpdateWorkspace>(&ok), Ok(()));
        let bad = json!({"defaults": [null, null]});
        assert_eq!(
            arrays_for_objects::<UpdateWorkspace>(&bad),
            Err("defaults".to_owned())
        );
        let bad = json!({"usage_limits": [{"type": "cost", "credit_limit": 1}, ["cost", 1]]});
        assert_eq!(
            arrays_for_objects::<UpdateWorkspace>(&bad),
            Err("usage_limits[1]".to_owned())
        );
        assert_eq!(
            arrays_for_objects::<UpdateWorkspace>(&json!([null])),
            Err("the body".to_owned())
        );
    }

    #[test]
    fn the_document_is_stable_and_names_every_operation_once() {
        let doc = document();
        assert_eq!(doc, document());
        let mut ids: Vec<&str> = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .map(|op| op["operationId"].as_str().unwrap())
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "operation ids must be unique");
        assert_eq!(count, routes::all().len() + 1);
    }
}
