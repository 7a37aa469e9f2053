-- POST /api/v1/subjects/{id}/consents: PARENT gives consent to `extracurricular` on paper for
-- the subjects in IDS_FILE (linked to PARENT beforehand by link.lua).
local parent = os.getenv("PARENT")
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
local ids = c.lines_of("IDS_FILE")
local i = 0
local body = string.format(
  '{"purpose":"extracurricular","action":"give","representative_id":"%s",' ..
  '"method":{"kind":"paper","evidence_sha256":"%s"}}', parent, string.rep("5e", 32))

function request()
  i = i + 1
  local id = ids[(i * 7919) % #ids + 1]
  return c.request("POST", "/api/v1/subjects/" .. id .. "/consents", body)
end

response = c.expect(201)
