// expect: Type '"one-time"' is not assignable to type '"payment" | "subscription"'
// A mode the service refuses must not compile.
import { api } from "../api.js";

await api.POST("/api/stripe/create-checkout", {
  body: { priceId: "price_1", successUrl: "https://a.example/", cancelUrl: "https://a.example/", mode: "one-time" },
});
