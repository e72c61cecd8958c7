// ButtonCheckout: starts a Stripe Checkout for one price. A click-intent keeps one Idempotency-Key, so a
// double click or a retry gets the same Checkout session; the body is checked as the service checks it.
import { checkoutRequestError, type CreateCheckoutRequest } from "@billing-handlers/contract";

import { api } from "./api.js";

export function checkoutButton(priceId: string, mode: CreateCheckoutRequest["mode"]): () => Promise<void> {
  const idempotencyKey = crypto.randomUUID();
  return async () => {
    const body: CreateCheckoutRequest = {
      priceId,
      mode,
      successUrl: `${window.location.origin}/dashboard?session_id={CHECKOUT_SESSION_ID}`,
      cancelUrl: window.location.href,
    };
    const invalid = checkoutRequestError(body);
    if (invalid !== null) throw new Error(invalid);
    const { data, error } = await api.POST("/api/stripe/create-checkout", {
      params: { header: { "Idempotency-Key": idempotencyKey, "X-Request-Id": `checkout-${idempotencyKey}` } },
      body,
    });
    if (error !== undefined) throw new Error(error.error);
    window.location.assign(data.url);
  };
}
