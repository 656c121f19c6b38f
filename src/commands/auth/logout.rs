use clap::Args;

use super::profile_name;
use crate::commands::Ctx;
use crate::config::{CredentialStore, CredentialsFile};
use crate::exit::{fail, ErrorKind};
use crate::settings::KEYRING_SERVICE;

#[derive(Debug, Args)]
pub struct LogoutArgs {}

pub fn run(ctx: &Ctx, _args: LogoutArgs) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let profile = profile_name(ctx);
    let mut config = settings.config.clone();
    let Some(stored) = config.profiles.remove(&profile) else {
        return Err(fail(
            ErrorKind::NotFound,
            format!("no profile `{profile}` is logged in"),
            Some("see `catalog auth status`"),
        ));
    };
    match stored.credential {
        CredentialStore::Keyring => crate::keyring_access::delete(KEYRING_SERVICE, &profile)
            .map_err(|e| {
                fail(
                    ErrorKind::Failed,
                    format!(
                        "cannot remove the key of profile `{profile}` from the OS keyring: {e}"
                    ),
                    None,
                )
            })?,
        CredentialStore::File => {
            let mut file = CredentialsFile::load(&settings.paths.credentials_file)?;
            file.keys.remove(&profile);
            file.save(&settings.paths.credentials_file)?;
        }
    }
    if config.current_profile.as_deref() == Some(profile.as_str()) {
        config.current_profile = None;
    }
    config.save(&settings.paths.config_file)?;
    ctx.printer().status(format!(
        "logged out of profile `{profile}` ({})",
        stored.base_url
    ));
    Ok(())
}
