//! Cold-start baseline: what a first DynamoDB Lambda looks like. The SDK's default configuration
//! (the endpoint from `AWS_ENDPOINT_URL_DYNAMODB`, credentials and region from the environment),
//! then one UpdateItem per request on the table `TABLE_NAME`.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table = std::env::var("TABLE_NAME")?;
    let client = &client;
    let table = &table;
    lambda_http::run(service_fn(move |_: Request| async move {
        let updated = client
            .update_item()
            .table_name(table)
            .key("pk", AttributeValue::S("BENCH#naive".into()))
            .key("sk", AttributeValue::S("COUNTER".into()))
            .update_expression("ADD hits :one")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        let status = if updated.is_ok() { 200 } else { 500 };
        Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .body(Body::from(format!(r#"{{"ok":{}}}"#, updated.is_ok())))
            .map_err(Error::from)
    }))
    .await
}
