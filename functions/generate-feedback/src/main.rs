//! The `generate-feedback` Lambda. What it serves and needs is its entry in `darasa::app::functions`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    darasa::lambda::run(&darasa::app::functions::GENERATE_FEEDBACK).await
}
