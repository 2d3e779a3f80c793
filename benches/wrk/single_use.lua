-- POSTs single-use values (codes or refresh tokens) from a file, each exactly once: thread k of n
-- takes lines k, k+n, k+2n, ... Environment: FILE, PREFIX (body before the value), SUFFIX, AUTH.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local n = tonumber(os.getenv("THREADS"))
  values = {}
  local i = 0
  for line in io.lines(os.getenv("FILE")) do
    if i % n == id then table.insert(values, line) end
    i = i + 1
  end
  next_value = 1
  prefix = os.getenv("PREFIX")
  suffix = os.getenv("SUFFIX") or ""
  auth = os.getenv("AUTH")
end

function request()
  local v = values[next_value]
  next_value = next_value + 1
  if v == nil then v = "exhausted" end
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }
  return wrk.format("POST", nil, headers, prefix .. v .. suffix)
end
