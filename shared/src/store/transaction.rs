//! Transactions whose guards have names. A caller labels each conditional write with the
//! [`Guard`] it stands for and, when the transaction is refused, learns which guard failed:
//! nobody decodes "write 1 failed" by position.

use super::{StoreError, Table, Write};

/// Why a conditional write in a transaction exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Guard {
    /// The item must not exist yet (a new id, a first delivery).
    Absent,
    /// A counter must stay below its limit (a plan's quota).
    Quota,
    /// The parent must exist and accept children (a job info not being deleted).
    Parent,
    /// The account must not have been deleted (no tombstone).
    AccountAlive,
    /// The item must still be as the caller read it (its version, an unset attribute).
    Unchanged,
    /// The stored copy must not be newer than the one being written.
    NotNewer,
}

/// Why a transaction did not commit.
#[derive(Debug, thiserror::Error)]
pub enum TransactionError {
    #[error("the {0:?} guard failed")]
    Refused(Guard),
    #[error(transparent)]
    Store(StoreError),
}

impl TransactionError {
    /// A refusal the caller did not expect, as the store error it is (a 500 if it reaches HTTP).
    pub fn into_store(self) -> StoreError {
        match self {
            Self::Refused(_) => StoreError::ConditionFailed { write: None },
            Self::Store(error) => error,
        }
    }
}

impl From<StoreError> for TransactionError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

/// Writes applied all together or not at all.
#[derive(Debug, Default)]
pub struct Transaction {
    writes: Vec<Write>,
    guards: Vec<Option<Guard>>,
}

impl Transaction {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a write whose condition (if any) the caller does not need to tell apart.
    pub fn write(mut self, write: Write) -> Self {
        self.writes.push(write);
        self.guards.push(None);
        self
    }

    /// Adds a write whose condition stands for `guard`.
    pub fn guarded(mut self, guard: Guard, write: Write) -> Self {
        self.writes.push(write);
        self.guards.push(Some(guard));
        self
    }

    /// Commits; a failed condition is reported as the guard it was labelled with.
    pub async fn commit(self, table: &dyn Table) -> Result<(), TransactionError> {
        let guards = self.guards;
        match table.transact(self.writes).await {
            Ok(()) => Ok(()),
            Err(StoreError::ConditionFailed { write: Some(index) }) => {
                match guards.get(index).copied().flatten() {
                    Some(guard) => Err(TransactionError::Refused(guard)),
                    None => Err(TransactionError::Store(StoreError::ConditionFailed { write: Some(index) })),
                }
            }
            Err(other) => Err(TransactionError::Store(other)),
        }
    }
}
