-- GET /api/v1/subjects/{id}?purpose=education over ids listed in IDS_FILE.
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
local ids = c.lines_of("IDS_FILE")
local i = 0

function request()
  i = i + 1
  local id = ids[(i * 7919) % #ids + 1]
  return c.request("GET", "/api/v1/subjects/" .. id .. "?purpose=education")
end

response = c.expect(200)
