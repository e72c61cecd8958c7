import type { Ajv2020 } from "ajv/dist/2020.js";

import type { components, operations, paths } from "./openapi.js";

export type { components, operations, paths };

/** The body of POST /api/stripe/create-checkout. */
export type CreateCheckoutRequest = components["schemas"]["create-checkout.request"];
/** Its 200 body: the Stripe Checkout URL to send the browser to. */
export type CreateCheckoutResponse = components["schemas"]["create-checkout.response"];
/** The body of POST /api/stripe/create-portal. */
export type CreatePortalRequest = components["schemas"]["create-portal.request"];
/** Its 200 body: the Stripe Billing Portal URL to send the browser to. */
export type CreatePortalResponse = components["schemas"]["create-portal.response"];
/** Every 4xx and 5xx body: `{"error": "<message>"}`. */
export type ErrorBody = components["schemas"]["error"];
/** The JSON Schema files, as the service serves them at /<name>. */
export type SchemaName = operations["schemaFile"]["parameters"]["path"]["schemaFile"];

/** Every JSON Schema file of the service, by file name (the OpenAPI document is in ./schemas/openapi.json). */
export declare const schemas: Readonly<Record<SchemaName, Record<string, unknown>>>;
export declare const CHECKOUT_REQUEST: "create-checkout.request.json";
export declare const PORTAL_REQUEST: "create-portal.request.json";

/** A new ajv (2020-12, strict, allErrors, ajv-errors, ajv-formats) holding every schema file. */
export declare function createAjv(): Ajv2020;
/** The service's 400 message for `value` against the schema file `schemaName`; null when it is valid. */
export declare function firstError(schemaName: SchemaName, value: unknown): string | null;
/** The service's 400 message for a create-checkout body; null when it is valid. */
export declare function checkoutRequestError(body: unknown): string | null;
/** The service's 400 message for a create-portal body; null when it is valid. */
export declare function portalRequestError(body: unknown): string | null;
