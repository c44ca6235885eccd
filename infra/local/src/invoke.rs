//! `darasa-local invoke`: one function on one Lambda event, through the same adapter the Lambda
//! runtime uses, configured from a SAM `--env-vars` file: `sam local invoke` without Docker.

use std::path::Path;

use anyhow::{Context, bail};
use darasa::app;
use darasa::config::{self, Vars};
use darasa::webhooks;

use crate::serve::table;
use crate::webhook::{first_secret, resign_event};

pub async fn invoke(
    data_dir: &Path,
    function: &str,
    event: &Path,
    env_vars: &Path,
    resign: bool,
) -> anyhow::Result<()> {
    let Some(function) = app::functions::find(function) else {
        let names: Vec<&str> = app::FUNCTIONS.iter().map(|function| function.name).collect();
        bail!("no function {function:?}; the functions are {}", names.join(", "));
    };
    let env =
        std::fs::read_to_string(env_vars).with_context(|| format!("cannot read {}", env_vars.display()))?;
    let env = config::sam_env_vars(&env, &function.logical_id())?;
    // The env file's variables first (as `sam local invoke` sees them), then the shell's.
    let lookup = |name: &str| env.get(name).cloned().or_else(|| std::env::var(name).ok());
    let vars = Vars(&lookup);
    let (table, _) = table(data_dir).await?;
    let event = std::fs::read_to_string(event).with_context(|| format!("cannot read {}", event.display()))?;
    let state = darasa::local::invoke_state(function, &vars, table)
        .await
        .with_context(|| format!("configuring {} from {}", function.name, env_vars.display()))?;
    let secret = config::webhook_secrets(&vars).await?;
    let event = match (resign, &secret) {
        (false, _) => event,
        (true, Some(secret)) => resign_event(&event, first_secret(secret)?)?,
        (true, None) => bail!(
            "--resign needs {} for {} in {}",
            webhooks::SECRET_VARIABLE,
            function.logical_id(),
            env_vars.display()
        ),
    };
    let response = darasa::local::invoke_lambda_event(app::serve((function.routes)(), state), &event).await?;
    println!("{}", serde_json::to_string_pretty(&response)?);
    Ok(())
}
