-- POST /api/v1/lookup by IIN over identifiers listed in IINS_FILE.
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
local iins = c.lines_of("IINS_FILE")
local i = 0

function request()
  i = i + 1
  local iin = iins[(i * 7919) % #iins + 1]
  return c.request("POST", "/api/v1/lookup", '{"field":"iin","value":"' .. iin .. '","purpose":"education"}')
end

function response(status, headers, body)
  if status ~= 200 or not body:find('"id"') then print("unexpected answer " .. status .. ": " .. body) end
end
