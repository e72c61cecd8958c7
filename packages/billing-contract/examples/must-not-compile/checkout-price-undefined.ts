// expect: Type 'undefined' is not assignable to type 'string'
// priceId: undefined is a missing price too; under --strict it must not compile either.
import { api } from "../api.js";

await api.POST("/api/stripe/create-checkout", {
  body: {
    priceId: undefined,
    successUrl: "https://app.example.com/done",
    cancelUrl: "https://app.example.com/pricing",
    mode: "payment",
  },
});
