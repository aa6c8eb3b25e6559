#!/bin/bash
# LocalStack "ready" hook (mounted into /etc/localstack/init/ready.d): makes
# the bucket Folio uses, with the CORS rule a browser origin needs (downloads,
# and direct multipart uploads from Uppy: docs/uploads.md) and a
# lifecycle rule that drops unfinished multipart uploads after a day (Folio's
# sweeper does the same; this is the second line of defence).
set -euo pipefail

BUCKET="${FOLIO_S3_BUCKET:-folio}"
ORIGINS="${FOLIO_ALLOWED_ORIGINS:-http://localhost:5173,http://localhost:8080}"

awslocal s3api head-bucket --bucket "$BUCKET" 2>/dev/null || awslocal s3api create-bucket --bucket "$BUCKET"

origins_json=$(printf '%s' "$ORIGINS" | awk -F, '{for (i = 1; i <= NF; i++) printf "%s\"%s\"", (i > 1 ? "," : ""), $i}')
awslocal s3api put-bucket-cors --bucket "$BUCKET" --cors-configuration "{
  \"CORSRules\": [{
    \"AllowedOrigins\": [${origins_json}],
    \"AllowedMethods\": [\"GET\", \"HEAD\", \"PUT\", \"POST\", \"DELETE\"],
    \"AllowedHeaders\": [\"*\"],
    \"ExposeHeaders\": [\"ETag\", \"Content-Disposition\"],
    \"MaxAgeSeconds\": 3600
  }]
}"

awslocal s3api put-bucket-lifecycle-configuration --bucket "$BUCKET" --lifecycle-configuration '{
  "Rules": [{
    "ID": "abort-incomplete-multipart-uploads",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}
  }]
}'

echo "folio: bucket ${BUCKET} ready (CORS for ${ORIGINS}, abort incomplete uploads after 1 day)"
