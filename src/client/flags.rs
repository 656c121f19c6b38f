//! The server names the fields of the request it refused (`workspaces[0].usage_limits[0].alert_threshold`);
//! the person typed flags. Error messages of refused requests name the flags instead.

/// The flag that sets an API field, by the field's own name.
const FLAGS: &[(&str, &str)] = &[
    ("credit_limit", "--budget"),
    ("alert_threshold", "--alert"),
    ("periodic_reset", "--reset"),
    ("periodic_reset_days", "--reset"),
    ("usage_limits", "--budget"),
    ("rate_limits", "--rate-limit"),
    ("expires_at", "--expires"),
    ("custom_host", "--custom-host"),
    ("custom_headers", "--header"),
    ("azure_resource_name", "--azure-resource-name"),
    ("azure_deployment_config", "--azure-deployment"),
    ("azure_auth_mode", "--azure-auth-mode"),
    ("aws_auth_type", "--aws-auth-type"),
    ("aws_access_key_id", "--aws-access-key-id-env"),
    ("aws_region", "--aws-region"),
    ("aws_role_arn", "--aws-role-arn"),
    ("vertex_region", "--vertex-region"),
    ("vertex_project_id", "--vertex-project-id"),
    ("vertex_auth_type", "--vertex-auth-type"),
    (
        "vertex_service_account_json",
        "--vertex-service-account-file",
    ),
    ("pricing_adjustments", "--price-multiplier"),
    ("default_provider_slug", "--provider-slug"),
    ("scopes", "--scope"),
];

/// The flag that sets the API field `name`, where it is one of the table's.
pub fn flag_of(name: &str) -> Option<&'static str> {
    FLAGS
        .iter()
        .find(|(f, _)| *f == name)
        .map(|(_, flag)| *flag)
}

/// The flag for an API field path such as `workspaces[0].usage_limits[0].type`.
fn flag_for(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect();
    let last = *parts.last()?;
    let parent = parts.iter().rev().nth(1).copied();
    match (parent, last) {
        // A policy's budget and its matching (`policy.credit_limit`, `conditions[0].key`).
        (Some("policy"), "credit_limit") => Some("--limit"),
        (Some("conditions"), _) => Some("--when"),
        (Some("group_by"), _) => Some("--group-by"),
        (Some("usage_limits"), "type") => Some("--budget-type"),
        (Some("rate_limits"), _) => Some("--rate-limit"),
        _ => flag_of(last),
    }
}

/// Rewrites every backticked API field path in `message` that a flag sets.
pub fn name_flags(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(start) = rest.find('`') {
        let Some(len) = rest[start + 1..].find('`') else {
            break;
        };
        let inner = &rest[start + 1..start + 1 + len];
        out.push_str(&rest[..start]);
        match flag_for(inner) {
            Some(flag) => out.push_str(&format!("`{flag}`")),
            None => out.push_str(&format!("`{inner}`")),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn api_paths_become_flags() {
        assert_eq!(
            super::name_flags(
                "`workspaces[0].usage_limits[0].alert_threshold` must be below `credit_limit` (800)"
            ),
            "`--alert` must be below `--budget` (800)"
        );
        assert_eq!(
            super::name_flags("`usage_limits.type` is wrong; `name` too"),
            "`--budget-type` is wrong; `name` too"
        );
        assert_eq!(super::name_flags("no ticks"), "no ticks");
        assert_eq!(super::name_flags("odd ` tick"), "odd ` tick");
    }
}
