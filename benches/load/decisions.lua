-- POST /api/v1/decisions with batches of 100 questions over the subjects in IDS_FILE: half for
-- the consent-based purpose `extracurricular`, half for `education` (contract) with two fields.
local token = os.getenv("TOKEN")
package.path = package.path .. ";./benches/load/?.lua"
local ids = require("common").lines_of("IDS_FILE")
local i = 0

function request()
  local q = {}
  for k = 1, 100 do
    i = i + 1
    local id = ids[(i * 7919) % #ids + 1]
    if k % 2 == 0 then
      q[k] = '{"subject_id":"' .. id .. '","purpose":"extracurricular"}'
    else
      q[k] = '{"subject_id":"' .. id .. '","purpose":"education","fields":["surname","grades"]}'
    end
  end
  return wrk.format("POST", "/api/v1/decisions",
    {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"},
    '{"decisions":[' .. table.concat(q, ",") .. ']}')
end

function response(status, headers, body)
  if status ~= 200 then print("unexpected status " .. status .. ": " .. body) end
end
