-- A different prompt on every request (so a caching route misses every time), as one app user. The prefix carries the
-- start time, so a later wrk run (the measured one after its warm-up) never repeats an earlier run's prompts.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User-Id"] = "bench-user"
wrk.headers["Authorization"] = "Bearer app-held-key"
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("prefix", os.time() .. "-" .. counter)
end
local n = 0
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"Question ' .. prefix .. '-' .. n .. ': say hello to the sidecar."}]}')
end
