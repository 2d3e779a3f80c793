-- A login storm: password-grant attempts for ever-new unknown accounts, so every request costs a
-- full argon2id verification (the dummy hash) and no per-account throttle bucket fills.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  auth = os.getenv("AUTH")
  n = 0
end
function request()
  n = n + 1
  local body = "grant_type=password&password=not-the-password&username=storm-" .. id .. "-" .. n .. "%40example.com"
  local headers = { ["Content-Type"] = "application/x-www-form-urlencoded", ["Authorization"] = auth }
  return wrk.format("POST", nil, headers, body)
end
