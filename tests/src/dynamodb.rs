//! Tables for tests: a fresh DynamoDB Local table per test (so tests never see each other's
//! items and can run in parallel) and an embedded table in a throwaway directory.

use std::path::{Path, PathBuf};

use darasa::store::dynamo::DynamoTable;
use darasa::store::embedded::EmbeddedTable;

/// Where `infra/test.sh` tells the tests DynamoDB Local listens.
pub const ENDPOINT_VARIABLE: &str = "DARASA_TEST_DYNAMODB_ENDPOINT";

/// A new, uniquely named table on DynamoDB Local, created from the schema with TTL enabled.
pub async fn test_table() -> DynamoTable {
    let endpoint = std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!(
            "{ENDPOINT_VARIABLE} is not set: run the tests through infra/test.sh, which starts \
             DynamoDB Local"
        )
    });
    let name = format!("test-{}", uuid::Uuid::now_v7());
    let table = DynamoTable::connect(Some(&endpoint), &name).await;
    table
        .create_table_if_missing()
        .await
        .unwrap_or_else(|e| panic!("creating table {name} on {endpoint} failed: {e}"));
    table
}

/// A directory under the system temp dir, removed (with its contents) on drop.
#[derive(Debug)]
pub struct TempDirGuard {
    path: PathBuf,
}

impl TempDirGuard {
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{prefix}-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A new embedded table in its own temporary directory; keep the guard alive while using it.
pub fn embedded_table() -> (EmbeddedTable, TempDirGuard) {
    let dir = TempDirGuard::new("darasa-store");
    let path = dir.path().join("store").join("darasa.redb");
    let table =
        EmbeddedTable::open(&path).unwrap_or_else(|e| panic!("opening {} failed: {e}", path.display()));
    (table, dir)
}
