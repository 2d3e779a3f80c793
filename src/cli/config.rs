//! `sekimori config check`.

use clap::Subcommand;

use crate::config::{CommonConfig, ServeConfig};

#[derive(Subcommand, Debug)]
pub(super) enum ConfigCommand {
    /// Validate the settings (file, environment, flags) and print the effective configuration,
    /// with the database password redacted.
    Check {
        #[command(flatten)]
        serve: ServeConfig,
    },
}

impl ConfigCommand {
    /// The serve settings the configuration file layers onto.
    pub(super) fn serve_mut(&mut self) -> &mut ServeConfig {
        match self {
            Self::Check { serve } => serve,
        }
    }
}

pub(super) fn run(common: &CommonConfig, command: ConfigCommand) -> anyhow::Result<()> {
    match command {
        ConfigCommand::Check { serve } => check(common, &serve),
    }
}

/// `config check`: the effective configuration on stdout (a usable configuration file), the
/// startup warnings on stderr.
fn check(common: &CommonConfig, serve: &ServeConfig) -> anyhow::Result<()> {
    print!(
        "{}",
        crate::config::effective_config(common, serve).map_err(anyhow::Error::msg)?
    );
    super::print_warnings(&crate::config::startup_warnings(common, serve));
    Ok(())
}
