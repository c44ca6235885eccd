//! The one table definition: attribute names, the local secondary indexes and the TTL attribute.
//! The DynamoDB adapter creates tables from it (tests, the local host), and `template.yaml`
//! mirrors it (a test compares the two). See `docs/data-model.md` for why each index exists.

/// Partition key: `USER#<userId>` for everything a user owns.
pub const PK: &str = "pk";
/// Sort key: separates kinds (`PROFILE`, `USAGE`, `JOBINFO#<id>`, `QUESTION#<id>`, ...).
pub const SK: &str = "sk";
/// TTL attribute (epoch seconds); DynamoDB removes expired items within days, so reads also
/// filter them.
pub const EXPIRES_AT: &str = "expiresAt";

/// Local secondary indexes: same partition as the table (so still one user's data only), with
/// strongly consistent reads, another sort order. Sparse: only items carrying the attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    /// Job infos by `updatedAt` (the dashboard's newest-first list).
    ByUpdated,
    /// A job info's children (questions, interviews, analyses), grouped under the job's id.
    ByParent,
}

impl Index {
    pub const ALL: [Index; 2] = [Index::ByUpdated, Index::ByParent];

    /// The index's name in DynamoDB.
    pub fn name(self) -> &'static str {
        match self {
            Index::ByUpdated => "byUpdated",
            Index::ByParent => "byParent",
        }
    }

    /// The item attribute holding the index's sort key.
    pub fn attribute(self) -> &'static str {
        match self {
            Index::ByUpdated => "updatedKey",
            Index::ByParent => "parentKey",
        }
    }
}
