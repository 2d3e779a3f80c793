-- A fixed form POST: body and Authorization from the environment.
wrk.method = "POST"
wrk.body = os.getenv("BODY")
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local auth = os.getenv("AUTH")
if auth and auth ~= "" then wrk.headers["Authorization"] = auth end
