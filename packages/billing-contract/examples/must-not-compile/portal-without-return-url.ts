// expect: Property 'returnUrl' is missing
// A create-portal body without returnUrl must not compile: the service would answer 400 "Return URL is required".
import { api } from "../api.js";

await api.POST("/api/stripe/create-portal", { body: {} });
