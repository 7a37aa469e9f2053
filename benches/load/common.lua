-- Shared helpers for the wrk load scripts: valid, unique Kazakh identifiers from a counter.
local M = {}

-- IIN check digit: weights 1..11 mod 11, then 3..11,1,2; nil when both give 10.
function M.check_digit(d)
  local s = 0
  for i = 1, 11 do s = s + d[i] * i end
  local c = s % 11
  if c == 10 then
    local w = {3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2}
    s = 0
    for i = 1, 11 do s = s + d[i] * w[i] end
    c = s % 11
    if c == 10 then return nil end
  end
  return c
end

-- A unique valid IIN for counter n (born 2008-2019, serial from n).
function M.iin(n)
  local offset = 0
  while true do
    local k = n * 4 + offset
    local day = k % 28 + 1
    local month = math.floor(k / 28) % 12 + 1
    local year = math.floor(k / 336) % 12 + 8
    local serial = math.floor(k / 4032) % 10000
    local s = string.format("%02d%02d%02d%d%04d", year, month, day, 5 + (k % 2), serial)
    local d = {}
    for i = 1, 11 do d[i] = tonumber(s:sub(i, i)) end
    local c = M.check_digit(d)
    if c then return s .. c end
    offset = offset + 1
  end
end

local codes = {"700", "701", "702", "705", "706", "707", "708", "747", "771", "775", "776", "777", "778"}
function M.phone(n)
  return string.format("+7%s%07d", codes[n % #codes + 1], math.floor(n / #codes) % 10000000)
end

-- The non-empty lines of a file named by an environment variable (ids, IINs).
function M.lines_of(env)
  local out = {}
  for line in io.lines(os.getenv(env)) do
    if line ~= "" then table.insert(out, line) end
  end
  return out
end

-- A request with the bearer TOKEN (and a JSON body when given).
function M.request(method, path, body)
  local headers = {["Authorization"] = "Bearer " .. os.getenv("TOKEN")}
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, path, headers, body)
end

-- A response handler that prints any answer whose status is not one of the expected ones.
function M.expect(...)
  local ok = {}
  for _, s in ipairs({...}) do ok[s] = true end
  return function(status, headers, body)
    if not ok[status] then print("unexpected status " .. status .. ": " .. body) end
  end
end

return M
