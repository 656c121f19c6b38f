use std::io::Read;

use clap::Args;

use super::profile_name;
use crate::client::{Client, Transport};
use crate::commands::Ctx;
use crate::config::{CredentialStore, CredentialsFile, Profile};
use crate::exit::{fail, CliError, ErrorKind};
use crate::settings::{normalize_base_url, KEYRING_SERVICE};

/// Portkey's hosted Admin API, the default server for `auth login`.
pub const HOSTED_BASE_URL: &str = "https://api.portkey.ai/v1";

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Read the API key from standard input (otherwise a hidden prompt)
    #[arg(long)]
    pub api_key_stdin: bool,

    /// Store the key in a 0600 file instead of the OS keyring
    #[arg(long)]
    pub insecure_storage: bool,
}

pub fn run(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let profile = profile_name(ctx);
    if profile == super::EMBEDDED {
        return Err(CliError::usage(format!(
            "`{}` names the embedded catalog and cannot be a profile",
            super::EMBEDDED
        ))
        .with_hint("choose another name with --profile")
        .into());
    }
    let existing = settings.config.profiles.get(&profile);
    let base_url = match (&settings.target, existing) {
        (crate::settings::Target::Remote { base_url, .. }, _) => base_url.clone(),
        (_, Some(p)) => normalize_base_url(&p.base_url),
        _ => HOSTED_BASE_URL.to_owned(),
    };
    let key = if args.api_key_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        text.trim().to_owned()
    } else {
        ctx.prompter()
            .secret(&format!("API key for {base_url}"), "--api-key-stdin")?
    };
    if key.is_empty() {
        return Err(CliError::usage("the API key is empty").into());
    }

    // Check the key before storing anything, and learn whose it is.
    let client = Client::new(
        Transport::http(&base_url, key.clone())?,
        settings.printer.clone(),
    )?;
    // A server that answers `/whoami` with an error of its own (not every server has the
    // extension) gets the check below instead.
    let who = client.whoami().unwrap_or(None);
    if who.is_none() {
        // A server without `/whoami` (such as the hosted API): a read checks the key.
        let path = crate::client::with_query(
            "/admin/workspaces",
            &[("page_size".to_owned(), "1".to_owned())],
        );
        if let Err(e) = client.send(reqwest::Method::GET, &path, None) {
            let forbidden = e
                .downcast_ref::<CliError>()
                .is_some_and(|c| c.kind == ErrorKind::Auth && c.message.contains("AB03"));
            if !forbidden {
                return Err(e.context(format!("the key was not accepted by {base_url}")));
            }
            ctx.printer().warn("the key is valid but may not list workspaces (it is not an organisation admin key); pass --workspace to name its workspace");
        }
    }
    let key_workspace = who.as_ref().and_then(crate::client::WhoAmI::workspace);
    let credential = if args.insecure_storage {
        let mut file = CredentialsFile::load(&settings.paths.credentials_file)?;
        file.keys.insert(profile.clone(), key);
        file.save(&settings.paths.credentials_file)?;
        CredentialStore::File
    } else {
        crate::keyring_access::set(KEYRING_SERVICE, &profile, &key).map_err(|e| {
            fail(
                ErrorKind::Failed,
                format!("cannot store the key: {e}"),
                Some("set CATALOG_API_KEY for each command instead, or log in with `--insecure-storage` to keep the key in a 0600 file"),
            )
        })?;
        CredentialStore::Keyring
    };
    let mut config = settings.config.clone();
    config.profiles.insert(
        profile.clone(),
        Profile {
            base_url: base_url.clone(),
            workspace: settings
                .workspace
                .clone()
                .or_else(|| key_workspace.as_ref().map(|k| k.slug.clone())),
            credential,
            key_workspace: key_workspace.clone(),
        },
    );
    config.current_profile = Some(profile.clone());
    config.save(&settings.paths.config_file)?;
    let place = match credential {
        CredentialStore::Keyring => "the OS keyring".to_owned(),
        CredentialStore::File => settings.paths.credentials_file.display().to_string(),
    };
    ctx.printer().status(format!(
        "logged in to {base_url} as profile `{profile}`, now the current profile; the key is stored in {place}"
    ));
    if let Some(k) = &key_workspace {
        ctx.printer().status(format!(
            "this is a workspace key of `{}`: commands act in that workspace unless --workspace says otherwise",
            k.slug
        ));
    }
    Ok(())
}
