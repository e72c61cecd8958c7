-- (a) create-checkout's first 400: an empty JSON object.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = "{}"
