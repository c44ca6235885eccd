"""Creates the table template.yaml declares on a local DynamoDB endpoint, unless it exists.

The deployed functions never create their table (the stack does), so `cargo lambda watch` and
`sam local invoke` against a fresh DynamoDB Local need it made first. Uses what `pip install
aws-sam-cli` brings: boto3, and SAM's own YAML reader (which understands `!Ref` and friends).

    python3 infra/scripts/local-table.py http://127.0.0.1:8000 darasa-local
"""

import sys

import boto3
from samcli.yamlhelper import yaml_parse


def main(endpoint: str, name: str) -> None:
    with open("template.yaml", encoding="utf-8") as file:
        table = yaml_parse(file.read())["Resources"]["Table"]["Properties"]
    client = boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    try:
        client.create_table(
            TableName=name,
            BillingMode=table["BillingMode"],
            AttributeDefinitions=table["AttributeDefinitions"],
            KeySchema=table["KeySchema"],
            LocalSecondaryIndexes=table["LocalSecondaryIndexes"],
        )
        client.get_waiter("table_exists").wait(TableName=name)
        print(f"created table {name} on {endpoint}")
    except client.exceptions.ResourceInUseException:
        print(f"table {name} already on {endpoint}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: local-table.py ENDPOINT TABLE_NAME")
    main(sys.argv[1], sys.argv[2])
