-- POST /api/v1/subjects/{id}/representatives: links PARENT as the parent of the subjects in
-- IDS_FILE, cycling through them (linking again only replaces the link).
local parent = os.getenv("PARENT")
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
local ids = c.lines_of("IDS_FILE")
local i = 0
local body = string.format(
  '{"representative_id":"%s","relation":"parent","documents":[{"kind":"birth_certificate","sha256":"%s"}]}',
  parent, string.rep("b1", 32))

function request()
  i = i + 1
  local id = ids[i % #ids + 1]
  return c.request("POST", "/api/v1/subjects/" .. id .. "/representatives", body)
end

response = c.expect(201, 200)
