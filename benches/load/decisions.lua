-- POST /api/v1/decisions with batches of 100 questions over the subjects in IDS_FILE: half for
-- the consent-based purpose `extracurricular`, half for `education` (contract) with two fields.
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
local ids = c.lines_of("IDS_FILE")
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
  return c.request("POST", "/api/v1/decisions", '{"decisions":[' .. table.concat(q, ",") .. ']}')
end

response = c.expect(200)
