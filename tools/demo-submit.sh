#!/usr/bin/env bash
# Submits (or terminates) a VM job to the demo provider the way UCloud's Core does.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${UCV_BUILD_DIR:-$top/_build}
demo=/var/tmp/ucloud-virt-demo
api=http://127.0.0.1:8889/ucloud/demo/jobs

token=$("$build/tests/fake-core/ucv-fake-core" mint --state-dir "$demo/core")
action=${1:-create}
job_id=${2:-$((RANDOM * 32768 + RANDOM))}

job=$(cat <<JSON
{"id":"$job_id","createdAt":$(date +%s000),"owner":{"createdBy":"demo-user","project":null},
 "specification":{"product":{"id":"vm-small","category":"vm","provider":"demo"},
  "application":{"name":"demo-vm","version":"1"},"name":"demo","replicas":1,
  "parameters":{"ucMetricSampleRate":{"type":"text","value":"1"}},"timeAllocation":null},
 "status":{"state":"IN_QUEUE","resolvedApplication":{"metadata":{"name":"demo-vm","version":"1"},
  "invocation":{"tool":{"name":"demo-vm","version":"1",
   "tool":{"description":{"backend":"VIRTUAL_MACHINE","image":"ucv-demo"}}},
   "applicationType":"BATCH"}}}}
JSON
)

case "$action" in
create) url=$api ;;
terminate) url=$api/terminate ;;
*) echo "usage: $0 [create | terminate JOB_ID]" >&2; exit 2 ;;
esac
echo "$action job $job_id"
curl -sS -H "Authorization: Bearer $token" --data-binary "{\"items\":[$job]}" "$url"
echo
