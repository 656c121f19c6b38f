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
