// ButtonAccount: opens the Stripe Billing Portal for the signed-in user. The session cookie is sent as is;
// a 401 means signing in again, and any other error carries the service's message.
import type { CreatePortalRequest } from "@billing-handlers/contract";

import { api } from "./api.js";

export async function openBillingPortal(signIn: () => void): Promise<void> {
  const body: CreatePortalRequest = { returnUrl: window.location.href };
  const { data, error, response } = await api.POST("/api/stripe/create-portal", { body });
  if (response.status === 401) return signIn();
  if (error !== undefined) throw new Error(error.error);
  window.location.assign(data.url);
}
