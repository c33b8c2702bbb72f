#!/usr/bin/env bash
# Replays the example requests of the API documentation sipbridge follows
# (../shared/seeds: Burki's telephony providers, purchase and SMS pages,
# TalkifAI's BYOC page) against a running sipbridge, and fails naming every
# example whose answer differs from what its page shows (status, documented
# fields).
#
#   BASE_URL=http://127.0.0.1:8080 API_KEY=sb_… scripts/doc-examples.sh [name …]
#
# Use the key of a throwaway organization: the examples create assistants,
# numbers and trunks, change the organization's SIP settings, and the bulk
# migration rewrites every assistant's provider credentials, as the page does.
#
# Environment:
#   BASE_URL       the server (default http://127.0.0.1:8080)
#   API_KEY        an API key of the organization (required)
#   PROVIDERS      providers the server may call, e.g. "twilio telnyx": the
#                  examples that buy numbers or send SMS run only for these
#                  (point the server at fakes with TWILIO_API_BASE_URL, … or
#                  at an account you are willing to spend on); others skip
#   KNOWN_PENDING  examples waiting for work in progress (default below): they
#                  run, a failure is reported as PENDING and does not fail the
#                  script, a pass is reported so the name can leave the list
#
# Needs bash, curl and jq. Each documented example is one function ex_<name>,
# under a comment naming the page and section it follows; it creates what it
# needs with fresh phone numbers, so the script can run again on one server.
# The pages' placeholders are replaced: ids of assistants by ids this script
# created, sample numbers by fresh valid ones. To add an example, write its
# function and add its name to EXAMPLES.
set -uo pipefail

BASE_URL=${BASE_URL:-http://127.0.0.1:8080}
BASE_URL=${BASE_URL%/}
PROVIDERS=${PROVIDERS:-}
KNOWN_PENDING=${KNOWN_PENDING-""}

EXAMPLES=(
  providers_twilio_assistant_credentials
  providers_telnyx_assistant_credentials
  providers_geographic_assistants
  providers_cost_optimization
  providers_gradual_migration
  providers_bulk_migration
  providers_org_sip_config
  providers_register_byo_number
  providers_outbound_call
  purchase_twilio
  purchase_telnyx
  sms_send_first
  sms_text_message
  sms_mms_message
  talkifai_byoc_create
  talkifai_byoc_update
  talkifai_byoc_delete
  talkifai_byoc_refresh
  talkifai_byoc_refresh_all
)

for tool in curl jq; do
  command -v "$tool" >/dev/null || { echo "doc-examples: $tool is required (Debian: apt-get install $tool)" >&2; exit 2; }
done
[ -n "${API_KEY:-}" ] || { echo "doc-examples: set API_KEY (and BASE_URL)" >&2; exit 2; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo 0 >"$WORK/counter"
# Fresh numbers differ between runs: a base from the clock and the pid.
NUMBER_BASE=$(( ($(date +%s) + $$ * 7919) % 9000 ))

# ---- helpers (an example runs in a subshell: fail ends it) ----

# api METHOD PATH [JSON]: one request with the API key. Sets STATUS and
# REQUEST; the answer's body is in $WORK/body, its headers in $WORK/headers.
api() {
  local args=(-sS -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $API_KEY")
  if [ $# -ge 3 ]; then
    args+=(-H 'Content-Type: application/json' --data-binary "$3")
  fi
  REQUEST="$1 $2"
  : >"$WORK/body"
  STATUS=$(curl "${args[@]}" "$BASE_URL$2" 2>"$WORK/curl.err") || STATUS="000 ($(head -c 200 "$WORK/curl.err"))"
}

# fail WHY: ends the example, saying what differs (stderr: an example's
# helpers also run inside $(…)).
fail() {
  {
    echo "  $REQUEST: $*"
    if [ -s "$WORK/body" ]; then
      echo "  answer: $(head -c 800 "$WORK/body")"
    fi
  } >&2
  exit 1
}

# skip REASON: the example cannot run here (exit 3 tells the runner).
skip() {
  echo "$*" >"$WORK/skip"
  exit 3
}

need_provider() {
  case " $PROVIDERS " in
    *" $1 "*) ;;
    *) skip "needs PROVIDERS to name $1" ;;
  esac
}

# want_status CODE…: the answer's status is one of these.
want_status() {
  local c
  for c in "$@"; do
    [ "$STATUS" = "$c" ] && return 0
  done
  fail "status $STATUS, want $*"
}

# want FILTER: the answer's JSON satisfies the jq filter.
want() {
  jq -e "$1" "$WORK/body" >/dev/null 2>&1 || fail "the answer does not satisfy: $1"
}

# absent TEXT: the answer does not contain TEXT (a secret sent in).
absent() {
  if grep -qF -- "$1" "$WORK/body"; then
    fail "the answer shows $1"
  fi
}

field() { jq -r "$1" "$WORK/body"; }

# header NAME: the last value of a response header.
header() { grep -i "^$1:" "$WORK/headers" | tail -n1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'; }

# fresh_number: an E.164 number no earlier run used (New York, +1 212 849 …:
# the organization's default country, where calls and SMS may go).
fresh_number() {
  local n
  n=$(($(cat "$WORK/counter") + 1))
  echo "$n" >"$WORK/counter"
  printf '+1212849%04d\n' $(((NUMBER_BASE + n) % 10000))
}

# new_assistant NAME [JSON fields]: creates an assistant, prints its id.
new_assistant() {
  api POST /api/v1/assistants "{\"name\":\"$1\"${2:+,$2}}"
  want_status 201
  field .id
}

# ---- Burki, "Telephony Providers" page ----

# Twilio Setup, 3. Credentials: the per-assistant twilio_config.
ex_providers_twilio_assistant_credentials() {
  api POST /api/v1/assistants '{
    "name": "Twilio credentials",
    "twilio_config": {
      "account_sid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "auth_token": "your_twilio_auth_token"
    }
  }'
  want_status 201
  want '.twilio_config.account_sid == "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"'
  want '.resolved_provider == {"provider":"twilio","level":"assistant"}'
  absent your_twilio_auth_token
}

# Telnyx Setup, 3. Credentials: the per-assistant telnyx_config.
ex_providers_telnyx_assistant_credentials() {
  api POST /api/v1/assistants '{
    "name": "Telnyx credentials",
    "telnyx_config": {
      "api_key": "KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "connection_id": "1234567890"
    }
  }'
  want_status 201
  want '.telnyx_config.connection_id == "1234567890"'
  want '.resolved_provider == {"provider":"telnyx","level":"assistant"}'
  absent KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx
}

# Mixed Environment Examples, Use Case 2 (Geographic Optimization): one
# assistant per provider, each resolving to its own.
ex_providers_geographic_assistants() {
  api POST /api/v1/assistants '{
    "name": "North America Bot",
    "telnyx_config": {
      "api_key": "KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "connection_id": "1234567890"
    }
  }'
  want_status 201
  want '.name == "North America Bot" and .resolved_provider.provider == "telnyx"'
  api POST /api/v1/assistants '{
    "name": "Global Support Bot",
    "twilio_config": {
      "account_sid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "auth_token": "your_twilio_auth_token"
    }
  }'
  want_status 201
  want '.name == "Global Support Bot" and .resolved_provider.provider == "twilio"'
}

# Mixed Environment Examples, Use Case 1 (Cost Optimization): assistants
# created with their numbers, one number per provider. The numbers are the
# organization's first (registered here: a byo-sip-trunk one on a trunk).
ex_providers_cost_optimization() {
  local trunk byo telnyx twilio
  api POST /api/v1/sip-trunks "{\"name\":\"cost-$(fresh_number | tr -d +)\",\"gateway\":\"sip.example.com\",\"register\":true,\"username\":\"cost\",\"password\":\"cost-secret\"}"
  want_status 201
  trunk=$(field .id)
  byo=$(fresh_number); telnyx=$(fresh_number); twilio=$(fresh_number)
  api POST /api/v1/phone-numbers "{\"phone_number\":\"$byo\",\"provider\":\"byo-sip-trunk\",\"sip_trunk_id\":\"$trunk\"}"
  want_status 201
  api POST /api/v1/phone-numbers "{\"phone_number\":\"$telnyx\",\"provider\":\"telnyx\"}"
  want_status 201
  api POST /api/v1/phone-numbers "{\"phone_number\":\"$twilio\",\"provider\":\"twilio\"}"
  want_status 201
  api POST /api/v1/assistants "{
    \"name\": \"Sales Dialer Bot\",
    \"phone_numbers\": [
      {
        \"phone_number\": \"$byo\",
        \"provider\": \"byo-sip-trunk\"
      }
    ]
  }"
  want_status 201
  want ".phone_numbers == [{\"id\": .phone_numbers[0].id, \"phone_number\": \"$byo\", \"provider\": \"byo-sip-trunk\"}]"
  api POST /api/v1/assistants "{
    \"name\": \"Support Bot\",
    \"phone_numbers\": [
      {
        \"phone_number\": \"$telnyx\",
        \"provider\": \"telnyx\"
      }
    ]
  }"
  want_status 201
  want ".phone_numbers[0].phone_number == \"$telnyx\""
  api POST /api/v1/assistants "{
    \"name\": \"VIP Support Bot\",
    \"phone_numbers\": [
      {
        \"phone_number\": \"$twilio\",
        \"provider\": \"twilio\"
      }
    ]
  }"
  want_status 201
  want ".phone_numbers[0].phone_number == \"$twilio\""
  api GET "/api/v1/phone-numbers?q=${twilio#+}"
  want_status 200
  want "length == 1 and .[0].assistant_id != null"
}

# Provider Migration, Gradual Migration: an assistant on Twilio.
ex_providers_gradual_migration() {
  api POST /api/v1/assistants '{
    "name": "Customer Service Bot",
    "twilio_config": {
      "account_sid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      "auth_token": "your_twilio_auth_token"
    }
  }'
  want_status 201
  want '.resolved_provider.provider == "twilio"'
}

# Provider Migration, Bulk Migration: list the assistants, iterate the decoded
# body directly, PUT each by its id (Telnyx in, Twilio cleared by nulls).
ex_providers_bulk_migration() {
  local a b ids id path next
  a=$(new_assistant "Bulk one" '"twilio_config":{"account_sid":"ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","auth_token":"tok"}') || exit 1
  b=$(new_assistant "Bulk two" '"twilio_config":{"account_sid":"ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","auth_token":"tok"}') || exit 1
  ids=()
  path=/api/v1/assistants
  while [ -n "$path" ]; do
    api GET "$path"
    want_status 200
    want 'type == "array" and all(.[]; .id | type == "string")'
    [ -n "$(header X-Total-Count)" ] || fail "no X-Total-Count header"
    mapfile -t -O "${#ids[@]}" ids < <(field '.[].id')
    # Past the first page (a busy organization), follow rel="next".
    next=$(header Link | tr ',' '\n' | sed -n 's/.*<\([^>]*\)>; *rel="next".*/\1/p')
    path=${next#"$BASE_URL"}
  done
  for id in "$a" "$b"; do
    case " ${ids[*]} " in *" $id "*) ;; *) fail "the list lacks the assistant $id just created" ;; esac
  done
  for id in "${ids[@]}"; do
    api PUT "/api/v1/assistants/$id" '{
      "telnyx_config": {
        "api_key": "KEYxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "connection_id": "1234567890"
      },
      "twilio_config": {
        "account_sid": null,
        "auth_token": null
      }
    }'
    want_status 200
  done
  for id in "$a" "$b"; do
    api GET "/api/v1/assistants/$id"
    want_status 200
    want '.telnyx_config.connection_id == "1234567890" and .resolved_provider.provider == "telnyx"'
    want '(.twilio_config.account_sid // "") == "" and (.twilio_config.auth_token_set | not)'
  done
}

# The documented organization-level SIP configuration (BYO SIP Trunk Setup,
# 4. Organization-Level Configuration, API Configuration).
org_sip_config() {
  local org
  api GET /api/v1/organization
  want_status 200
  org=$(field .id)
  api PUT "/api/v1/organizations/$org" '{
    "sip_gateway": "sip.zadarma.com",
    "sip_username": "15551234567",
    "sip_password": "your_sip_password",
    "sip_trunk_config": {
      "sip_domain": "zadarma.com",
      "inbound_enabled": true,
      "outbound_leading_plus_enabled": true,
      "auth_plan": {
        "type": "credentials",
        "username": "15551234567",
        "password": "your_sip_password"
      }
    }
  }'
  want_status 200
  absent your_sip_password
}

# BYO SIP Trunk Setup, 4. Organization-Level Configuration: the organization's
# SIP settings become a trunk.
ex_providers_org_sip_config() {
  org_sip_config
  api GET /api/v1/sip-trunks
  want_status 200
  want 'any(.[]; .gateway == "sip.zadarma.com" and .username == "15551234567")'
  absent your_sip_password
}

# BYO SIP Trunk Setup, 5. Register Phone Numbers (after step 4).
ex_providers_register_byo_number() {
  local asst number
  asst=$(new_assistant "BYO number") || exit 1
  org_sip_config
  number=$(fresh_number)
  api POST /api/v1/phone-numbers/purchase "{
    \"phone_number\": \"$number\",
    \"provider\": \"byo-sip-trunk\",
    \"friendly_name\": \"My SIP Number\",
    \"assistant_id\": \"$asst\"
  }"
  want_status 200
  want ".success == true and .phone_number == \"$number\" and .provider == \"byo-sip-trunk\""
}

# BYO SIP Trunk Setup, 7. Outbound Calls: placed through the trunk, answered
# at once with the call's sid.
ex_providers_outbound_call() {
  local asst number
  asst=$(new_assistant "BYO caller" '"stream_url":"wss://ai.example.com/stream"') || exit 1
  org_sip_config
  number=$(fresh_number)
  api POST /api/v1/phone-numbers/purchase "{\"phone_number\":\"$number\",\"provider\":\"byo-sip-trunk\",\"assistant_id\":\"$asst\"}"
  want_status 200
  # The page's callee, +1 555 765 4321, is a fictional number with no
  # country: the outbound allow-list refuses it (403 naming
  # to_phone_number), so a real-format New York number stands in.
  api POST /api/v1/calls/initiate "{
    \"to_phone_number\": \"+12125557654\",
    \"from_phone_number\": \"$number\",
    \"assistant_id\": \"$asst\"
  }"
  want_status 200
  want '(.message | type == "string") and (.call_sid | type == "string" and length > 0)'
}

# ---- Burki, "Purchase Phone Number" page ----

# The request fields and the 200 answer, Twilio's purchase_details.
ex_purchase_twilio() {
  need_provider twilio
  local asst number
  asst=$(new_assistant "Purchased Twilio") || exit 1
  number=$(fresh_number)
  api POST /api/v1/phone-numbers/purchase "{
    \"phone_number\": \"$number\",
    \"provider\": \"twilio\",
    \"assistant_id\": \"$asst\",
    \"friendly_name\": \"Support line\"
  }"
  want_status 200
  want ".success == true and .phone_number == \"$number\" and .provider == \"twilio\" and (.message | type == \"string\")"
  want '.purchase_details | (.sid | type == "string") and .friendly_name == "Support line" and (.voice_url | endswith("/twiml"))
    and (.sms_url | type == "string") and (.capabilities | type == "object") and (.date_created | type == "string")'
}

# The request fields (country_code, messaging_profile_id) and Telnyx's
# purchase_details.
ex_purchase_telnyx() {
  need_provider telnyx
  local number
  number=$(fresh_number)
  api POST /api/v1/phone-numbers/purchase "{
    \"phone_number\": \"$number\",
    \"provider\": \"telnyx\",
    \"country_code\": \"US\",
    \"messaging_profile_id\": \"40017f8e-49bd-4f16-9e3d-ef103f916228\"
  }"
  want_status 200
  want ".success == true and .phone_number == \"$number\" and .provider == \"telnyx\" and (.message | type == \"string\")"
  want '.purchase_details | (.id | type == "string") and (.status | type == "string") and has("connection_id") and (.date_created | type == "string")'
}

# ---- Burki, "SMS Messaging" page ----

# A Twilio number owned by the organization, assigned to an assistant (the
# page's Getting Started steps 1 and 2); prints the number.
sms_sender() {
  local asst number
  asst=$(new_assistant "SMS sender") || exit 1
  number=$(fresh_number)
  api POST /api/v1/phone-numbers "{\"phone_number\":\"$number\",\"provider\":\"twilio\",\"assistant_id\":\"$asst\"}"
  want_status 201
  echo "$number"
}

# The answer the page describes: confirmation with the message id and provider.
want_sms_sent() {
  want_status 200
  want '.success == true and (.message_id | type == "string" and length > 0) and .provider == "twilio"'
}

# Getting Started, 3. Send Your First SMS (POST /sms/send).
ex_sms_send_first() {
  need_provider twilio
  local from
  from=$(sms_sender) || exit 1
  api POST /sms/send "{
    \"from_phone_number\": \"$from\",
    \"to_phone_number\": \"$(fresh_number)\",
    \"message\": \"Hello from your AI assistant!\"
  }"
  want_sms_sent
}

# Supported Message Types, SMS (Text Messages).
ex_sms_text_message() {
  need_provider twilio
  local from
  from=$(sms_sender) || exit 1
  api POST /api/v1/sms/send "{
    \"from_phone_number\": \"$from\",
    \"to_phone_number\": \"$(fresh_number)\",
    \"message\": \"Your appointment is confirmed for tomorrow at 2 PM.\"
  }"
  want_sms_sent
}

# Supported Message Types, MMS (Multimedia Messages).
ex_sms_mms_message() {
  need_provider twilio
  local from
  from=$(sms_sender) || exit 1
  api POST /api/v1/sms/send "{
    \"from_phone_number\": \"$from\",
    \"to_phone_number\": \"$(fresh_number)\",
    \"message\": \"Here are your test results:\",
    \"media_urls\": [
      \"https://yourdomain.com/results.pdf\",
      \"https://yourdomain.com/chart.png\"
    ]
  }"
  want_sms_sent
}

# ---- TalkifAI, "BYOC" page (its /v1/byoc paths, camelCase fields) ----

# Phone Number Setup, Create a Phone Number; prints the number.
byoc_create() {
  local in out number
  in=$(new_assistant "agent_support") || exit 1
  out=$(new_assistant "agent_sales") || exit 1
  number=$(fresh_number)
  api POST /v1/byoc/phone-numbers "{
    \"phoneNumber\": \"$number\",
    \"inboundAgentId\": \"$in\",
    \"outboundAgentId\": \"$out\",
    \"sipUsername\": \"your_sip_username\",
    \"sipPassword\": \"your_sip_password\",
    \"terminationUri\": \"your-trunk.pstn.twilio.com\",
    \"friendlyName\": \"Main Support Line\"
  }"
  # The page shows no status: a create answers 201 Created.
  want_status 201
  want ".phoneNumber == \"$number\" and .inboundAgentId == \"$in\" and .outboundAgentId == \"$out\" and .sipUsername == \"your_sip_username\""
  absent your_sip_password
  echo "$number"
}

ex_talkifai_byoc_create() {
  byoc_create >/dev/null
}

# Phone Number Setup, Update a Phone Number.
ex_talkifai_byoc_update() {
  local number agent
  number=$(byoc_create) || exit 1
  agent=$(new_assistant "agent_new_support") || exit 1
  api PUT "/v1/byoc/phone-numbers/$number" "{
    \"inboundAgentId\": \"$agent\",
    \"sipPassword\": \"updated_password\"
  }"
  want_status 200
  want ".phoneNumber == \"$number\" and .inboundAgentId == \"$agent\""
  absent updated_password
}

# Phone Number Setup, Delete a Phone Number: the number and its trunk go.
ex_talkifai_byoc_delete() {
  local number
  number=$(byoc_create) || exit 1
  api DELETE "/v1/byoc/phone-numbers/$number"
  want_status 200 204
  api GET "/api/v1/phone-numbers?q=${number#+}"
  want_status 200
  want 'length == 0'
}

# Trunk Management, Refresh Trunks for One Number.
ex_talkifai_byoc_refresh() {
  local number
  number=$(byoc_create) || exit 1
  api POST /v1/byoc/trunks/refresh "{
    \"phoneNumber\": \"$number\"
  }"
  want_status 200 202
}

# Trunk Management, Refresh All Trunks (Bulk).
ex_talkifai_byoc_refresh_all() {
  byoc_create >/dev/null || exit 1
  api POST /v1/byoc/trunks/refresh-all
  want_status 200 202
}

# ---- runner ----

is_pending() {
  case " $(echo $KNOWN_PENDING) " in
    *" $1 "*) return 0 ;;
  esac
  return 1
}

if [ $# -gt 0 ]; then
  EXAMPLES=("$@")
fi
failed=() passed=0 pending=0 skipped=0
for name in "${EXAMPLES[@]}"; do
  if ! declare -F "ex_$name" >/dev/null; then
    echo "FAIL     $name: no such example"
    failed+=("$name")
    continue
  fi
  : >"$WORK/skip"
  (ex_"$name") >"$WORK/out" 2>&1
  rc=$?
  if [ $rc = 3 ]; then
    echo "SKIP     $name: $(cat "$WORK/skip")"
    skipped=$((skipped + 1))
  elif [ $rc = 0 ]; then
    if is_pending "$name"; then
      echo "PASS     $name (listed in KNOWN_PENDING: take it off the list)"
    else
      echo "PASS     $name"
    fi
    passed=$((passed + 1))
  elif is_pending "$name"; then
    echo "PENDING  $name"
    sed 's/^/         /' "$WORK/out"
    pending=$((pending + 1))
  else
    echo "FAIL     $name"
    sed 's/^/         /' "$WORK/out"
    failed+=("$name")
  fi
done
echo "doc-examples: ${passed} passed, ${#failed[@]} failed, ${pending} pending, ${skipped} skipped"
if [ ${#failed[@]} -gt 0 ]; then
  echo "doc-examples: failed: ${failed[*]}"
  exit 1
fi
