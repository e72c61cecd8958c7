// expect: Property 'priceId' is missing
// A create-checkout body without priceId must not compile: the service would answer 400 "Price ID is required".
import { api } from "../api.js";

await api.POST("/api/stripe/create-checkout", {
  body: { successUrl: "https://app.example.com/done", cancelUrl: "https://app.example.com/pricing", mode: "payment" },
});
