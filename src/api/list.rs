//! The list envelope `{object:"list", total, data}`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListEnvelope<T> {
    #[serde(default = "list_object")]
    pub object: String,
    #[serde(default)]
    pub total: u64,
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
}

fn list_object() -> String {
    "list".to_owned()
}

impl<T> ListEnvelope<T> {
    pub fn new(total: u64, data: Vec<T>) -> Self {
        ListEnvelope {
            object: list_object(),
            total,
            data,
        }
    }
}

/// `{object: "list", total, data: [T]}`, as the server writes it.
impl<T: schemars::JsonSchema> schemars::JsonSchema for ListEnvelope<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("ListOf{}", T::schema_name()).into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let item = generator.subschema_for::<T>();
        schemars::json_schema!({
            "type": "object",
            "properties": {
                "object": {"const": "list"},
                "total": {"type": "integer", "minimum": 0},
                "data": {"type": "array", "items": item},
            },
            "required": ["object", "total", "data"],
        })
    }
}
