//! Step 3 of the wizard: which models the integration enables, by flags or prompts.

use super::StepArgs;
use crate::api::models::{BulkUpdateModels, ModelAccessList};
use crate::commands::models::access::only_body;
use crate::commands::models::check_known;
use crate::prompt::Prompter;
use crate::registry::{ModelSpec, Registry};
use crate::services::Service;

/// Step 3's choice.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelChoice {
    All,
    Only(Vec<String>),
}

impl ModelChoice {
    /// The request that makes the integration's models this choice.
    pub fn body(&self, current: &ModelAccessList) -> BulkUpdateModels {
        match self {
            ModelChoice::All => BulkUpdateModels {
                models: Vec::new(),
                allow_all_models: Some(true),
            },
            ModelChoice::Only(list) => only_body(current, list),
        }
    }
}

/// The models from flags, or asked when the wizard runs; `None` leaves them as they are.
pub fn ask_models(
    p: &dyn Prompter,
    service: &Service,
    steps: &StepArgs,
    wizard: bool,
) -> anyhow::Result<Option<ModelChoice>> {
    if steps.skip_models {
        return Ok(None);
    }
    if steps.all_models {
        return Ok(Some(ModelChoice::All));
    }
    if !steps.models.is_empty() {
        if !steps.custom_models {
            check_known(service.id, &steps.models)?;
        }
        return Ok(Some(ModelChoice::Only(steps.models.clone())));
    }
    if !wizard {
        return Ok(None);
    }
    let registry = Registry::builtin();
    let known = registry.models(service.id);
    let mut options = vec!["all models".to_owned()];
    if !known.is_empty() {
        options.push(format!(
            "choose from the {} {} models",
            known.len(),
            service.id
        ));
    }
    options.push("type a list of model ids".to_owned());
    options.push("skip (leave models as they are)".to_owned());
    let chosen = p.select("models", "--models or --all-models", &options, 0)?;
    Ok(
        match options[chosen].split_whitespace().next().unwrap_or("") {
            "all" => Some(ModelChoice::All),
            "skip" => None,
            "choose" => Some(ModelChoice::Only(choose_models(p, known)?)),
            _ => Some(ModelChoice::Only(type_models(p, service)?)),
        },
    )
}

/// A comma-separated list, each id checked against the registry at the prompt.
fn type_models(p: &dyn Prompter, service: &Service) -> anyhow::Result<Vec<String>> {
    p.parsed(
        "models to enable, comma-separated (e.g. gpt-4o,gpt-4o-mini)",
        "--models",
        None,
        |text| {
            let list = split_models(text);
            if list.is_empty() {
                return Err("name at least one model".to_owned());
            }
            check_known(service.id, &list)
                .map(|()| list)
                .map_err(|e| crate::exit::one_line(&e))
        },
    )
}

/// A search, then a multi-select over the registry's models that match it (exact
/// matches first, then prefixes, then the rest).
fn choose_models(p: &dyn Prompter, known: &[ModelSpec]) -> anyhow::Result<Vec<String>> {
    loop {
        let filter = p
            .optional_text("search models (empty for all)", "--models")?
            .unwrap_or_default();
        let needle = filter.trim().to_ascii_lowercase();
        let mut matches: Vec<&str> = known
            .iter()
            .map(|m| m.slug.as_str())
            .filter(|s| s.to_ascii_lowercase().contains(&needle))
            .collect();
        matches.sort_by_key(|s| (*s != needle, !s.starts_with(needle.as_str()), s.len(), *s));
        if matches.is_empty() {
            p.status_line(&format!("no model matches `{filter}`; try again"));
            continue;
        }
        let items: Vec<String> = matches.iter().map(|s| (*s).to_owned()).collect();
        let picked = p.multi_select(
            "models to enable (space to toggle)",
            "--models",
            &items,
            &vec![false; items.len()],
        )?;
        if picked.is_empty() {
            p.status_line("no model was ticked; search again");
            continue;
        }
        return Ok(picked.into_iter().map(|i| items[i].clone()).collect());
    }
}

fn split_models(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_owned)
        .collect()
}

pub fn describe_models(m: &BulkUpdateModels) -> String {
    if m.allow_all_models == Some(true) {
        "all models enabled".to_owned()
    } else {
        let names: Vec<&str> = m
            .models
            .iter()
            .filter(|x| x.enabled)
            .map(|x| x.slug.as_str())
            .collect();
        format!("only {} enabled", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::kind_of;
    use crate::prompt::ScriptedPrompter;

    fn steps(args: &[&str]) -> StepArgs {
        let mut argv = vec!["catalog", "integrations", "connect", "x"];
        argv.extend(args);
        super::super::tests::connect_args(&argv).steps
    }

    fn only(models: &[&str]) -> Option<ModelChoice> {
        Some(ModelChoice::Only(
            models.iter().map(|m| (*m).to_owned()).collect(),
        ))
    }

    fn ask(p: &ScriptedPrompter, flags: &[&str]) -> anyhow::Result<Option<ModelChoice>> {
        ask_models(
            p,
            crate::services::find("openai").unwrap(),
            &steps(flags),
            true,
        )
    }

    #[test]
    fn a_search_then_ticks_build_an_allow_list() {
        let p = ScriptedPrompter::new()
            .choose("Models", "choose from the")
            .text("Search models", "no-such-model")
            .text("Search models", "gpt-4o")
            .tick("Models to enable", &[])
            .text("Search models", "GPT-4O")
            .tick("Models to enable", &["gpt-4o", "gpt-4o-mini"]);
        let got = ask(&p, &[]).unwrap();
        assert_eq!(got, only(&["gpt-4o", "gpt-4o-mini"]));
        assert_eq!(
            p.status_lines(),
            [
                "no model matches `no-such-model`; try again",
                "no model was ticked; search again"
            ]
        );
        // The exact match is offered first.
        let log = p.log();
        let offered = log.iter().rfind(|l| l.starts_with("multi-select")).unwrap();
        assert!(offered.contains("[gpt-4o, gpt-4o-mini"), "{offered}");
    }

    #[test]
    fn a_typed_list_is_checked_against_the_registry_and_asked_again() {
        let p = ScriptedPrompter::new()
            .choose("Models", "type a list")
            .refused("Models to enable", " , ", "name at least one model")
            .refused(
                "Models to enable",
                "gpt-4o-mnii",
                "is not a known `openai` model",
            )
            .text("Models to enable", "gpt-4o, gpt-4o-mini");
        let got = ask(&p, &[]).unwrap();
        assert_eq!(got, only(&["gpt-4o", "gpt-4o-mini"]));
    }

    #[test]
    fn all_skip_and_flags() {
        let p = ScriptedPrompter::new().enter("Models");
        assert_eq!(ask(&p, &[]).unwrap(), Some(ModelChoice::All));
        let p = ScriptedPrompter::new().choose("Models", "skip");
        assert_eq!(ask(&p, &[]).unwrap(), None);
        // Flags answer without a prompt.
        let p = ScriptedPrompter::new();
        assert_eq!(ask(&p, &["--models", "gpt-4o"]).unwrap(), only(&["gpt-4o"]));
        assert_eq!(ask(&p, &["--skip-models"]).unwrap(), None);
        assert_eq!(
            kind_of(&ask(&p, &["--models", "nope"]).unwrap_err()).exit_code(),
            2
        );
    }

    #[test]
    fn ctrl_c_at_the_models_prompt_cancels() {
        let p = ScriptedPrompter::new().interrupt("Models");
        assert_eq!(kind_of(&ask(&p, &[]).unwrap_err()).exit_code(), 130);
    }

    #[test]
    fn the_allow_list_disables_what_was_enabled_before() {
        let current: ModelAccessList = serde_json::from_value(serde_json::json!({
            "models": [{"slug": "o1", "enabled": true}],
            "allow_all_models": false
        }))
        .unwrap();
        let body = ModelChoice::Only(vec!["gpt-4o".to_owned()]).body(&current);
        assert_eq!(describe_models(&body), "only gpt-4o enabled");
        assert!(body.models.iter().any(|m| m.slug == "o1" && !m.enabled));
        assert_eq!(
            describe_models(&ModelChoice::All.body(&current)),
            "all models enabled"
        );
    }
}
