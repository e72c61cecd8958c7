// Validates request bodies as the billing service does, before they are sent: ajv compiles the service's
// JSON Schema files (strict, allErrors) with ajv-errors, which reads the messages written in the files,
// and ajv-formats. The first error's message is the service's 400 message for the same body; the
// service's repository checks that for every documented case (scripts/check-frontend-parity).
import Ajv2020 from "ajv/dist/2020.js";
import ajvErrors from "ajv-errors";
import addFormats from "ajv-formats";

import { schemas } from "./dist/schemas.js";

export { schemas };
export const CHECKOUT_REQUEST = "create-checkout.request.json";
export const PORTAL_REQUEST = "create-portal.request.json";

let shared;

export function createAjv() {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  ajvErrors(ajv);
  for (const schema of Object.values(schemas)) ajv.addSchema(schema);
  return ajv;
}

export function firstError(schemaName, value) {
  shared ??= createAjv();
  const validate = shared.getSchema(schemaName);
  if (validate === undefined) throw new Error(`no schema named ${JSON.stringify(schemaName)}`);
  return validate(value) ? null : validate.errors[0].message;
}

export function checkoutRequestError(body) {
  return firstError(CHECKOUT_REQUEST, body);
}

export function portalRequestError(body) {
  return firstError(PORTAL_REQUEST, body);
}
