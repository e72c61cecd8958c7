-- (b) create-portal with a signed-in session cookie (BENCH_COOKIE), up to "no billing account".
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
wrk.body = '{"returnUrl":"https://app.example.com/account"}'
