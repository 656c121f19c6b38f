//! JSON Schemas of the wire types for the OpenAPI document (`GET /v1/openapi.json`).
//!
//! Wire types derive `schemars::JsonSchema`; fields read by a custom serde function name
//! one of the functions here with `#[schemars(schema_with = ...)]`, so that the document
//! says what the server really accepts: loose booleans and numbers in requests, bounded
//! names without control characters, `null` for "clear". Each function looks at the
//! generator's contract: requests (deserialize) are described as the server reads them,
//! responses (serialize) as it writes them.

use schemars::{json_schema, Schema, SchemaGenerator};
use serde::Serialize;
use serde_json::json;

use super::text::{DESCRIPTION_MAX, NAME_MAX};

/// Characters a name or description may not hold: control characters (Unicode `Cc`) and
/// bidirectional formatting characters.
const FORBIDDEN: &str = "\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b\\u200e\\u200f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069\\ufeff";

/// Unicode white space (what `str::trim` removes) beyond the control characters.
const SPACE: &str = "\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

fn reading(generator: &SchemaGenerator) -> bool {
    generator.contract().is_deserialize()
}

fn nullable(schema: Schema) -> Schema {
    json_schema!({"anyOf": [schema, {"type": "null"}]})
}

/// A display name: 1 to 255 characters, not only white space, no control characters.
pub fn name(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": "string"});
    }
    json_schema!({
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX,
        "pattern": format!("^[^{FORBIDDEN}]*[^{FORBIDDEN}{SPACE}][^{FORBIDDEN}]*$"),
    })
}

/// An optional name; `null` is the same as leaving it out.
pub fn opt_name(generator: &mut SchemaGenerator) -> Schema {
    nullable(name(generator))
}

/// A description or note: at most 1,024 characters, no control characters; `null` clears.
pub fn opt_description(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["string", "null"]});
    }
    nullable(json_schema!({
        "type": "string",
        "maxLength": DESCRIPTION_MAX,
        "pattern": format!("^[^{FORBIDDEN}]*$"),
    }))
}

/// A boolean that requests may also send as `1`/`0` or `"true"`/`"false"`/`"1"`/`"0"`.
pub fn flex_bool(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": "boolean"});
    }
    json_schema!({
        "anyOf": [
            {"type": "boolean"},
            {"type": "number"},
            {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]},
        ]
    })
}

pub fn opt_flex_bool(generator: &mut SchemaGenerator) -> Schema {
    nullable(flex_bool(generator))
}

/// A number that requests may also send as a decimal string (`"10.5"`).
pub fn flex_number(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": "number"});
    }
    json_schema!({
        "anyOf": [
            {"type": "number"},
            {"type": "string", "pattern": "^-?[0-9]{1,15}(\\.[0-9]{1,15})?$"},
        ]
    })
}

pub fn opt_flex_number(generator: &mut SchemaGenerator) -> Schema {
    nullable(flex_number(generator))
}

/// A concurrency limit: a whole number of requests in flight, 1 to 1,000,000; requests
/// may also send it as a string of digits.
pub fn concurrency_limit(generator: &mut SchemaGenerator) -> Schema {
    let max = super::limits::ConcurrencyLimit::MAX;
    if !reading(generator) {
        return json_schema!({"type": "integer", "minimum": 1, "maximum": max});
    }
    json_schema!({
        "anyOf": [
            {"type": "integer", "minimum": 1, "maximum": max},
            {"type": "string", "pattern": "^0*([1-9][0-9]{0,5}|1000000)$"},
        ],
        "description": "Extension: the most requests in flight at once; null (or leaving it out) is no limit.",
    })
}

/// The empty object `{}` that deletes and bulk updates answer with.
#[derive(Debug, Clone, Copy, Default, Serialize, schemars::JsonSchema)]
pub struct Empty {}

/// A field of the Admin API that this server does not implement yet: it is refused
/// unless left out or `null`.
pub fn unimplemented(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "null",
        "description": "Part of the Admin API that this server does not implement yet: leave it out.",
    })
}

/// A switch of the Admin API that this server does not implement yet: only off is taken.
pub fn unimplemented_switch(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "enum": [false, 0, "false", "0", "no", null],
        "description": "Part of the Admin API that this server does not implement yet: only false.",
    })
}

/// An optional slug: 1 to 255 letters, digits, `-` and `_`.
pub fn opt_slug(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["string", "null"]});
    }
    nullable(json_schema!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,255}$"}))
}

/// A base model's slug: anything but blank.
pub fn opt_model_slug(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["string", "null"]});
    }
    nullable(json_schema!({"type": "string", "pattern": "\\S"}))
}

/// An optional RFC 3339 timestamp; `null` clears where the field may be cleared.
pub fn opt_timestamp(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["string", "null"]});
    }
    nullable(json_schema!({"type": "string", "format": "date-time"}))
}

/// A custom model's host: an http(s) URL.
pub fn opt_custom_host(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["string", "null"]});
    }
    nullable(json_schema!({
        "type": "string",
        "pattern": "^https?://[a-z0-9]+(\\.[a-z0-9]+)*(:[0-9]{1,4})?(/[A-Za-z0-9._~-]*)*$",
    }))
}

/// Header names to string values.
pub fn opt_string_map(_: &mut SchemaGenerator) -> Schema {
    nullable(json_schema!({"type": "object", "additionalProperties": {"type": "string"}}))
}

/// An AI service this server knows (`openai`, `anthropic`, ...).
pub fn service(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": "string"});
    }
    json_schema!({"type": "string", "enum": crate::services::ids().collect::<Vec<_>>()})
}

/// API key scopes: at least one, each a scope this server knows.
pub fn scopes(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": "array", "items": {"type": "string"}});
    }
    json_schema!({
        "type": "array",
        "minItems": 1,
        "items": {"type": "string", "enum": crate::server::scopes::all_scopes()},
    })
}

pub fn opt_scopes(generator: &mut SchemaGenerator) -> Schema {
    nullable(scopes(generator))
}

/// `pricing_adjustments`: `{multiplier: {...}}` with factors of 0 or more, or `null`.
pub fn pricing_adjustments(generator: &mut SchemaGenerator) -> Schema {
    if !reading(generator) {
        return json_schema!({"type": ["object", "null"]});
    }
    let factor = json!({"type": ["number", "null"], "minimum": 0});
    let mut multipliers = serde_json::Map::new();
    for field in crate::server::handlers::integrations::MULTIPLIER_FIELDS {
        multipliers.insert((*field).to_owned(), factor.clone());
    }
    multipliers.insert(
        "image".to_owned(),
        json!({"type": "object", "properties": {"default": factor}, "additionalProperties": false}),
    );
    multipliers.insert(
        "additional_units".to_owned(),
        json!({"type": "object", "additionalProperties": factor}),
    );
    json_schema!({
        "type": ["object", "null"],
        "properties": {
            "multiplier": {
                "type": "object",
                "properties": multipliers,
                "additionalProperties": false,
            }
        },
        "additionalProperties": false,
    })
}

/// The only pricing type: `static`.
pub fn pricing_type(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "enum": ["static"]})
}
