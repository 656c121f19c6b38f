//! `catalog auth use PROFILE|embedded`: switch the current target.

use clap::Args;

use super::EMBEDDED;
use crate::commands::Ctx;
use crate::exit::{fail, ErrorKind};

#[derive(Debug, Args)]
pub struct UseArgs {
    /// A logged-in profile, or `embedded` for the embedded catalog
    #[arg(value_name = "PROFILE")]
    pub target: String,
}

pub fn run(ctx: &Ctx, args: UseArgs) -> anyhow::Result<()> {
    let settings = &ctx.settings;
    let mut config = settings.config.clone();
    if args.target == EMBEDDED {
        config.current_profile = None;
        config.save(&settings.paths.config_file)?;
        ctx.printer()
            .status("now using the embedded catalog (no profile is current)");
        return Ok(());
    }
    let Some(profile) = config.profiles.get(&args.target) else {
        let known: Vec<&str> = config.profiles.keys().map(String::as_str).collect();
        return Err(fail(
            ErrorKind::NotFound,
            format!("no profile `{}`", args.target),
            Some(&if known.is_empty() {
                "log in first: `catalog auth login --profile NAME --base-url URL`".to_owned()
            } else {
                format!("the profiles are: {}, and `{EMBEDDED}`", known.join(", "))
            }),
        ));
    };
    let url = profile.base_url.clone();
    config.current_profile = Some(args.target.clone());
    config.save(&settings.paths.config_file)?;
    ctx.printer()
        .status(format!("now using profile `{}` ({url})", args.target));
    Ok(())
}
