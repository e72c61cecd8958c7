-- A request that differs every time, so that no memo answers it: the body is the next template of
-- BENCH_BODIES (one a line) with every "%d" replaced by this request's number, and the Cookie header, when
-- BENCH_COOKIES names a file, is its next line (one signed-in user each).
local templates, cookies = {}, {}
for line in io.lines(os.getenv("BENCH_BODIES")) do
  templates[#templates + 1] = line
end
local cookie_file = os.getenv("BENCH_COOKIES") or ""
if cookie_file ~= "" then
  for line in io.lines(cookie_file) do
    cookies[#cookies + 1] = line
  end
end
local n = 0

request = function()
  n = n + 1
  local body = string.gsub(templates[(n - 1) % #templates + 1], "%%d", tostring(n))
  local headers = { ["Content-Type"] = "application/json" }
  if #cookies > 0 then
    headers["Cookie"] = cookies[(n - 1) % #cookies + 1]
  end
  return wrk.format("POST", nil, headers, body)
end
