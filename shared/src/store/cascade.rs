//! Cascading deletes built only on the port: page through a query and delete what it finds.
//! Deletes are unconditional and idempotent, so a cascade that failed halfway is finished by
//! running it again.

use super::{Key, Query, StoreResult, Table, Write};

/// How many deletes go into one transaction.
const DELETES_PER_TRANSACTION: usize = 25;

/// Deletes every item the query matches, page by page; returns how many were deleted.
pub async fn delete_matching(table: &dyn Table, query: Query) -> StoreResult<usize> {
    let mut deleted = 0;
    // Deleting shifts what later pages would hold, so always restart from the first page.
    let query = query.after(None);
    loop {
        let page = table.query(&query).await?;
        if page.items.is_empty() {
            return Ok(deleted);
        }
        let keys: Vec<Key> = page.items.iter().filter_map(Key::of).collect();
        for chunk in keys.chunks(DELETES_PER_TRANSACTION) {
            let writes =
                chunk.iter().map(|key| Write::Delete { key: key.clone(), condition: None }).collect();
            table.transact(writes).await?;
            deleted += chunk.len();
        }
        if page.cursor.is_none() {
            return Ok(deleted);
        }
    }
}

/// Deletes every item the query matches except those keyed in `keep` (a whole-partition sweep
/// that must leave a marker behind), following the query's key-based cursor. Passes repeat until
/// one finds nothing to delete, so an item written behind the cursor during a pass is caught by
/// the next; returns how many were deleted.
pub async fn delete_matching_except(table: &dyn Table, query: Query, keep: &[Key]) -> StoreResult<usize> {
    let mut deleted = 0;
    loop {
        let mut deleted_this_pass = 0;
        let mut cursor = None;
        loop {
            let page = table.query(&query.clone().after(cursor)).await?;
            let keys: Vec<Key> =
                page.items.iter().filter_map(Key::of).filter(|key| !keep.contains(key)).collect();
            for chunk in keys.chunks(DELETES_PER_TRANSACTION) {
                let writes =
                    chunk.iter().map(|key| Write::Delete { key: key.clone(), condition: None }).collect();
                table.transact(writes).await?;
                deleted_this_pass += chunk.len();
            }
            match page.cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        deleted += deleted_this_pass;
        if deleted_this_pass == 0 {
            return Ok(deleted);
        }
    }
}
