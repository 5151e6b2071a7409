#!/usr/bin/env bash
# A third-party client: the documented call sequence with curl and jq, as publishers' own
# scripts and Microsoft's GitHub action do it (v1 token, paged product search by offer id,
# plan lookup, package upload to the SAS URI, technical configuration with If-Match), then a
# submission to preview and its promotion. Only the host names point at the simulator.
set -euo pipefail
: "${AUTHORITY:?}" "${API:?}" "${TENANT:?}" "${CLIENT_ID:?}" "${CLIENT_SECRET:?}" "${OFFER:?}" \
  "${PLAN:?}" "${CA:?}"
c() { curl -sS --fail-with-body --cacert "$CA" "$@"; }

token=$(c -X POST "$AUTHORITY/$TENANT/oauth2/token" \
  -d grant_type=client_credentials -d "client_id=$CLIENT_ID" \
  --data-urlencode "client_secret=$CLIENT_SECRET" \
  --data-urlencode "resource=https://api.partner.microsoft.com" | jq -r .access_token)
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
host="${API%/v1.0/ingestion}"

# Page through the products until the offer id matches (relative nextLink, prefixed with host).
url="$API/products"
product=""
while [ -n "$url" ]; do
  page=$(c "${auth[@]}" "$url")
  product=$(jq -r --arg o "$OFFER" '.value[] | select(.externalIDs[]?.value == $o) | .id' <<<"$page")
  [ -n "$product" ] && break
  next=$(jq -r '.nextLink // empty' <<<"$page")
  url=${next:+$host/$next}
done
[ -n "$product" ] || { echo "offer $OFFER not found" >&2; exit 1; }

variant=$(c "${auth[@]}" "$API/products/$product/variants" |
  jq -r --arg p "$PLAN" '.value[] | select(.externalID == $p) | .id')
instance=$(c "${auth[@]}" "$API/products/$product/branches/getByModule(module=Package)" |
  jq -r --arg v "$variant" '.value[] | select(.variantID == $v) | .currentDraftInstanceID')

package=$(c "${auth[@]}" -X POST "$API/products/$product/packages" \
  -d '{"resourceType":"AzureApplicationPackage","fileName":"app.zip"}')
sas=$(jq -r .fileSasUri <<<"$package")
printf 'PK-not-really-a-zip' > "$TMPDIR/app.zip"
curl -sS --fail --cacert "$CA" -X PUT -H "x-ms-blob-type: BlockBlob" \
  -H "x-ms-version: 2018-03-28" --data-binary "@$TMPDIR/app.zip" "$sas" >/dev/null
package_id=$(jq -r .id <<<"$package")
c "${auth[@]}" -X PUT "$API/products/$product/packages/$package_id" \
  -d "$(jq '.state = "Uploaded"' <<<"$package")" >/dev/null
for _ in $(seq 1 40); do
  state=$(c "${auth[@]}" "$API/products/$product/packages/$package_id" | jq -r .state)
  [ "$state" != "InProcessing" ] && [ "$state" != "Uploaded" ] && break
  sleep 0.25
done
[ "$state" = "Processed" ] || { echo "package $state" >&2; exit 1; }

config=$(c "${auth[@]}" \
  "$API/products/$product/packageConfigurations/getByInstanceID(instanceID=$instance)" |
  jq '.value[0]')
etag=$(jq -r '."@odata.etag"' <<<"$config")
c "${auth[@]}" -X PUT -H "If-Match: $etag" \
  "$API/products/$product/packageconfigurations/$(jq -r .id <<<"$config")" \
  -d "$(jq --arg p "$package_id" \
        '.packageReferences = [{"type":"AzureApplicationPackage","value":$p}] | .version = "2.0.0"' \
        <<<"$config")" >/dev/null

resources=$(for m in Availability Listing Property; do
  c "${auth[@]}" "$API/products/$product/branches/getByModule(module=$m)" |
    jq -c --arg m "$m" '.value[] | select(.variantID == null) |
      {type: $m, value: .currentDraftInstanceID}'
done | jq -sc .)
submission=$(c "${auth[@]}" -X POST "$API/products/$product/submissions" -d "$(jq -nc \
  --argjson r "$resources" --arg v "$variant" --arg i "$instance" \
  '{resourceType:"SubmissionCreationRequest", targets:[{type:"Scope",value:"preview"}],
    resources:$r, variantResources:[{variantID:$v, resources:[{type:"Package",value:$i}]}]}')")
sid=$(jq -r .id <<<"$submission")
for _ in $(seq 1 60); do
  status=$(c "${auth[@]}" "$API/products/$product/submissions/$sid" | jq -r '.state + "/" + .substate')
  [ "$status" = "Published/ReadyToPublish" ] && break
  sleep 0.25
done
c "${auth[@]}" -X POST "$API/products/$product/submissions/$sid/promote" >/dev/null
for _ in $(seq 1 60); do
  status=$(c "${auth[@]}" "$API/products/$product/submissions/$sid" | jq -r '.state + "/" + .substate')
  [ "$status" = "Published/InStore" ] && break
  sleep 0.25
done
echo "$sid $status"
