//! Ready-to-use code calling a model through the catalog's gateway as `@provider/model`.

use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Snippet {
    /// Portkey's Python SDK
    Python,
    /// Portkey's Node SDK
    Node,
    /// curl
    Curl,
    /// OpenAI's Python SDK pointed at the gateway
    OpenaiPython,
}

/// A string literal valid in Python, JavaScript and JSON.
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

/// The code for `snippet`, calling `model` (e.g. `@openai-prod/gpt-4o`) at `base_url`.
pub fn render(snippet: Snippet, model: &str, base_url: &str, embedding: bool) -> String {
    let m = quoted(model);
    let url = quoted(base_url);
    match (snippet, embedding) {
        (Snippet::Python, false) => format!(
            "import os\n\nfrom portkey_ai import Portkey\n\nportkey = Portkey(api_key=os.environ[\"PORTKEY_API_KEY\"], base_url={url})\n\nresponse = portkey.chat.completions.create(\n    model={m},\n    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\nprint(response.choices[0].message.content)\n"
        ),
        (Snippet::Python, true) => format!(
            "import os\n\nfrom portkey_ai import Portkey\n\nportkey = Portkey(api_key=os.environ[\"PORTKEY_API_KEY\"], base_url={url})\n\nresponse = portkey.embeddings.create(model={m}, input=\"Hello!\")\nprint(len(response.data[0].embedding))\n"
        ),
        (Snippet::OpenaiPython, false) => format!(
            "import os\n\nfrom openai import OpenAI\n\nclient = OpenAI(api_key=os.environ[\"PORTKEY_API_KEY\"], base_url={url})\n\nresponse = client.chat.completions.create(\n    model={m},\n    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\nprint(response.choices[0].message.content)\n"
        ),
        (Snippet::OpenaiPython, true) => format!(
            "import os\n\nfrom openai import OpenAI\n\nclient = OpenAI(api_key=os.environ[\"PORTKEY_API_KEY\"], base_url={url})\n\nresponse = client.embeddings.create(model={m}, input=\"Hello!\")\nprint(len(response.data[0].embedding))\n"
        ),
        (Snippet::Node, false) => format!(
            "import Portkey from \"portkey-ai\";\n\nconst portkey = new Portkey({{ apiKey: process.env.PORTKEY_API_KEY, baseURL: {url} }});\n\nconst response = await portkey.chat.completions.create({{\n  model: {m},\n  messages: [{{ role: \"user\", content: \"Hello!\" }}],\n}});\nconsole.log(response.choices[0].message.content);\n"
        ),
        (Snippet::Node, true) => format!(
            "import Portkey from \"portkey-ai\";\n\nconst portkey = new Portkey({{ apiKey: process.env.PORTKEY_API_KEY, baseURL: {url} }});\n\nconst response = await portkey.embeddings.create({{ model: {m}, input: \"Hello!\" }});\nconsole.log(response.data[0].embedding.length);\n"
        ),
        (Snippet::Curl, embedding) => {
            let (path, body) = if embedding {
                ("embeddings", serde_json::json!({"model": model, "input": "Hello!"}))
            } else {
                ("chat/completions", serde_json::json!({"model": model, "messages": [{"role": "user", "content": "Hello!"}]}))
            };
            let body = body.to_string().replace('\'', "'\\''");
            format!(
                "curl {base_url}/{path} \\\n  -H \"Content-Type: application/json\" \\\n  -H \"x-portkey-api-key: $PORTKEY_API_KEY\" \\\n  -d '{body}'\n"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_snippet_names_the_exact_model() {
        for s in Snippet::value_variants() {
            for embedding in [false, true] {
                let code = render(
                    *s,
                    "@openai-prod/gpt-4o",
                    "https://api.portkey.ai/v1",
                    embedding,
                );
                assert!(code.contains("\"@openai-prod/gpt-4o\""), "{s:?}: {code}");
            }
        }
    }
}
