//! The committed Lambda events of `infra/events/`, run as `darasa-local invoke` runs them: through
//! the Lambda adapter, with the configuration `infra/env.json` gives `sam local invoke`.

use std::path::PathBuf;

use darasa::AppState;
use darasa::ai::SharedModel;
use darasa::app::{self, Function};
use darasa::config::{self, Vars};
use darasa::store::SharedTable;
use serde_json::Value;

/// `path` in the repository: the nearest folder holding `Cargo.lock` above the running test's
/// manifest directory. That directory is read when the test runs, not when it is compiled: a
/// target directory shared by two clones would otherwise send one clone's tests to the other's
/// files.
pub fn repo(path: &str) -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    let root = manifest.ancestors().find(|dir| dir.join("Cargo.lock").is_file()).unwrap_or(&manifest);
    root.join(path)
}

/// The function named `name` in the function table.
pub fn function(name: &str) -> &'static Function {
    app::functions::find(name).unwrap_or_else(|| panic!("no function {name}"))
}

/// The state `infra/env.json` gives `function`, on `table`.
pub async fn state_for(function: &Function, table: SharedTable) -> AppState {
    let env = std::fs::read_to_string(repo("infra/env.json")).expect("infra/env.json");
    let vars = config::sam_env_vars(&env, &function.logical_id()).expect("SAM env-vars JSON");
    let lookup = |name: &str| vars.get(name).cloned();
    darasa::local::invoke_state(function, &Vars(&lookup), table).await.expect("infra/env.json configures it")
}

/// Runs `event` (the JSON text) through `function` on `table`, its AI routes served by `model`
/// when given; the Lambda response JSON.
pub async fn invoke(function: &str, table: SharedTable, model: Option<SharedModel>, event: &str) -> Value {
    let function = self::function(function);
    let mut state = state_for(function, table).await;
    if let Some(model) = model {
        state = state.with_model(model);
    }
    darasa::local::invoke_lambda_event(app::serve((function.routes)(), state), event).await.expect("an event")
}

/// The committed event `file` of `infra/events/`.
pub fn read(file: &str) -> String {
    std::fs::read_to_string(repo("infra/events").join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}
