-- GET /api/v1/subjects/{id}?purpose=education over ids listed in IDS_FILE.
local token = os.getenv("TOKEN")
package.path = package.path .. ";./benches/load/?.lua"
local ids = require("common").lines_of("IDS_FILE")
local i = 0

function request()
  i = i + 1
  local id = ids[(i * 7919) % #ids + 1]
  return wrk.format("GET", "/api/v1/subjects/" .. id .. "?purpose=education", {["Authorization"] = "Bearer " .. token})
end

function response(status, headers, body)
  if status ~= 200 then print("unexpected status " .. status .. ": " .. body) end
end
