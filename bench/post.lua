-- One OpenAI chat completion per request, as one app user.
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o","max_tokens":50,"messages":[{"role":"user","content":"Say hello to the sidecar."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-User-Id"] = "bench-user"
wrk.headers["Authorization"] = "Bearer app-held-key"
