#!/usr/bin/env bash
# Refreshes the crawler-user-agents list the bot rules read (`protect/data/`) from the newest
# release on PyPI, which the project publishes to the same day as npm or sooner. Writes the
# upstream JSON and licence as they come, derives the compact `crawler-user-agents.tsv` the code
# loads (parsing 0.5 MB of JSON at every Lambda cold start costs more than the rules themselves),
# records the version in the data README, and prints it. Review the diff and run the tests after.
#
# Usage: refresh-bot-list.sh [VERSION]      (default: the newest release)
#        DATA_DIR=path/to/protect/data refresh-bot-list.sh
set -euo pipefail

# The repository's root (this script is in infra/scripts/), and the darasa crate's data in it.
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ -z "${DATA_DIR:-}" && -f "$repo_root/shared/src/protect/data/bot-categories.tsv" ]]; then
    DATA_DIR="$repo_root/shared/src/protect/data"
fi
if [[ -z "${DATA_DIR:-}" || ! -f "$DATA_DIR/bot-categories.tsv" ]]; then
    echo "refresh-bot-list: no protect/data at '${DATA_DIR:-}'; set DATA_DIR to it" >&2
    exit 1
fi

requirement="crawler-user-agents"
if [[ $# -ge 1 ]]; then
    requirement="crawler-user-agents==$1"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$work" "$requirement" >&2

python3 - "$work" "$DATA_DIR" <<'PY'
import glob, json, re, sys, zipfile

work, data_dir = sys.argv[1], sys.argv[2]
wheels = glob.glob(f"{work}/crawler_user_agents-*.whl")
if len(wheels) != 1:
    sys.exit(f"refresh-bot-list: expected one wheel, found {wheels}")
version = re.match(r".*/crawler_user_agents-([^-]+)-", wheels[0]).group(1)

with zipfile.ZipFile(wheels[0]) as wheel:
    names = wheel.namelist()
    list_name = next(n for n in names if n.endswith("/crawler-user-agents.json"))
    licence_name = next(n for n in names if n.endswith("/LICENSE"))
    raw = wheel.read(list_name)
    licence = wheel.read(licence_name)

entries = json.loads(raw)
if len(entries) < 1000:
    sys.exit(f"refresh-bot-list: only {len(entries)} entries in {version}; refusing to replace the list")

lines = [
    f"# crawler-user-agents {version}: derived from crawler-user-agents.json by refresh-bot-list.sh; do not edit.",
    "# <tags, comma-separated><TAB><pattern, JSON escapes undone, spaces kept>",
]
for entry in entries:
    pattern, tags = entry["pattern"], entry.get("tags", [])
    if any(c in pattern for c in "\t\r\n") or any("," in t or "\t" in t for t in tags):
        sys.exit(f"refresh-bot-list: cannot write {pattern!r} {tags!r} as TSV")
    lines.append(",".join(tags) + "\t" + pattern)

with open(f"{data_dir}/crawler-user-agents.json", "wb") as out:
    out.write(raw)
with open(f"{data_dir}/crawler-user-agents.LICENSE", "wb") as out:
    out.write(licence)
with open(f"{data_dir}/crawler-user-agents.tsv", "w", encoding="utf-8", newline="\n") as out:
    out.write("\n".join(lines) + "\n")

readme_path = f"{data_dir}/README.md"
with open(readme_path, encoding="utf-8") as readme:
    text = readme.read()
text, count = re.subn(r"(crawler-user-agents )\d+\.\d+\.\d+( from PyPI)", rf"\g<1>{version}\g<2>", text)
if count == 0:
    sys.exit("refresh-bot-list: README.md has no 'crawler-user-agents X.Y.Z from PyPI' line to update")
with open(readme_path, "w", encoding="utf-8") as readme:
    readme.write(text)

print(f"crawler-user-agents {version}: {len(entries)} entries written to {data_dir}")
print("Review the diff and run the protect tests: they check our category overrides still name listed patterns.")
PY
