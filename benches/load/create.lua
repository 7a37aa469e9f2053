-- POST /api/v1/subjects with a 10-field student, unique identifiers per request.
-- TOKEN and SEED come from the environment.
package.path = package.path .. ";./benches/load/?.lua"
local c = require("common")
counter = 0
thread_base = 0
local threads = {}

function setup(thread)
  thread:set("thread_base", #threads * 1000000 + tonumber(os.getenv("SEED") or "0"))
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local n = thread_base + counter
  local body = string.format(
    '{"category":"student","fields":{"surname":"Нұрланова","given_name":"Әйгерім","patronymic":"Серікқызы",' ..
    '"birth_date":"2012-05-17","birth_place":"Алматы қ.","iin":"%s","phone":"%s","email":"student%d@mail.kz",' ..
    '"address":"Алматы қ., Абай даңғылы, 10-үй, 25-пәтер","id_document_type":"birth_certificate"}}',
    c.iin(n), c.phone(n), n)
  return c.request("POST", "/api/v1/subjects", body)
end

response = c.expect(201)
