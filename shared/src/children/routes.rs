//! What every route listing a job's children starts with.

use uuid::Uuid;

use crate::error::ApiResult;
use crate::http::{self, PageParams};
use crate::store::{Cursor, Table};
use crate::{job_infos, users};

/// The job id from the path (the caller's job, else 404) and the requested page.
pub async fn page_request(
    table: &dyn Table,
    user_id: &str,
    raw_job_id: &str,
    page: &PageParams,
) -> ApiResult<(Uuid, usize, Option<Cursor>)> {
    let job_id = http::parse_id("jobInfoId", raw_job_id)?;
    let (limit, cursor) = page.resolve(&users::partition(user_id))?;
    job_infos::get_owned(table, user_id, job_id).await?;
    Ok((job_id, limit, cursor))
}
