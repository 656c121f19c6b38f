//! Value types parsed at the command line (bad input fails at parse time, exit 2).

use std::str::FromStr;

/// An integration or provider slug: `^[a-zA-Z0-9_-]+$`, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(pub String);

impl FromStr for Slug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 255 {
            return Err("a slug is 1 to 255 characters".to_owned());
        }
        if let Some(bad) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "`{bad}` is not allowed in a slug; use letters, digits, `-` and `_` (e.g. azure-prod)"
            ));
        }
        Ok(Slug(s.to_owned()))
    }
}

impl std::fmt::Display for Slug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// `KEY=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl FromStr for KeyValue {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok(KeyValue {
                key: k.trim().to_owned(),
                value: v.to_owned(),
            }),
            _ => Err(format!("expected KEY=VALUE, got `{s}`")),
        }
    }
}

/// An Azure deployment: `name=NAME,model=MODEL,api-version=VERSION[,alias=ALIAS][,default]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureDeployment {
    pub name: String,
    pub model: String,
    pub api_version: String,
    pub alias: Option<String>,
    pub is_default: bool,
}

impl FromStr for AzureDeployment {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (mut name, mut model, mut version, mut alias, mut is_default) =
            (None, None, None, None, false);
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("name", v)) => name = Some(v.to_owned()),
                Some(("model", v)) => model = Some(v.to_owned()),
                Some(("api-version", v)) => version = Some(v.to_owned()),
                Some(("alias", v)) => alias = Some(v.to_owned()),
                None if part == "default" => is_default = true,
                _ => {
                    return Err(format!(
                    "unknown part `{part}`; expected name=,model=,api-version=[,alias=][,default]"
                ))
                }
            }
        }
        let need = |v: Option<String>, what: &str| {
            v.filter(|v| !v.is_empty())
                .ok_or_else(|| format!("the deployment needs `{what}=` (e.g. name=gpt4o,model=gpt-4o,api-version=2024-10-21)"))
        };
        Ok(AzureDeployment {
            name: need(name, "name")?,
            model: need(model, "model")?,
            api_version: need(version, "api-version")?,
            alias,
            is_default,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_checked_at_parse_time() {
        assert!("azure-prod_1".parse::<Slug>().is_ok());
        assert!("Azure Prod".parse::<Slug>().unwrap_err().contains("` `"));
        assert!("".parse::<Slug>().is_err());
    }

    #[test]
    fn key_values_split_on_the_first_equals() {
        let kv: KeyValue = "a=b=c".parse().unwrap();
        assert_eq!((kv.key.as_str(), kv.value.as_str()), ("a", "b=c"));
        assert!("novalue".parse::<KeyValue>().is_err());
    }

    #[test]
    fn azure_deployments_parse() {
        let d: AzureDeployment = "name=gpt4o,model=gpt-4o,api-version=2024-10-21,default"
            .parse()
            .unwrap();
        assert!(d.is_default && d.alias.is_none());
        assert!("name=x,model=y".parse::<AzureDeployment>().is_err());
    }
}
