-- (c) a valid create-checkout: the service calls the (emulated, slow) Stripe API.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"priceId":"price_bench","successUrl":"https://app.example.com/ok",'
  .. '"cancelUrl":"https://app.example.com/pricing","mode":"payment"}'
