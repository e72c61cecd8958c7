// Frontend parity: the validator the frontend installs (packages/billing-contract: ajv strict, allErrors,
// ajv-formats, ajv-errors) compiles every schema in schemas/, and for every invalid documented case in
// ../cases.json its first message is the message the service answers. With CONTRACT_BASE_URL set, each
// case is also sent to that service.
import { createHmac, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { createAjv, firstError, schemas } from "../../packages/billing-contract/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const cases = JSON.parse(readFileSync(join(here, "..", "cases.json"), "utf8")).cases;
const baseUrl = (process.env.CONTRACT_BASE_URL || "").replace(/\/$/, "");
const runId = process.env.CONTRACT_RUN_ID || randomUUID().replace(/-/g, "").slice(0, 12);

const ajv = createAjv();
const names = Object.keys(schemas);
let passed = 0;
let failed = 0;
const fail = (text) => {
  failed += 1;
  console.log(`FAIL ${text}`);
};
for (const name of names) {
  try {
    ajv.getSchema(name);
    passed += 1;
    console.log(`ok   compiles in strict mode: ${name}`);
  } catch (error) {
    fail(`${name} does not compile in strict mode: ${error.message}`);
  }
}

function base64url(value) {
  return Buffer.from(value).toString("base64url");
}

// A signed-in user without a billing account, as the Python suite mints one (HS256, Supabase claims).
function userToken() {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    sub: randomUUID(),
    aud: "authenticated",
    role: "authenticated",
    email: `contract-${runId}@example.com`,
    iat: now,
    exp: now + 600,
  };
  const supabaseUrl = (process.env.CONTRACT_SUPABASE_URL || "").replace(/\/$/, "");
  if (supabaseUrl) claims.iss = `${supabaseUrl}/auth/v1`;
  const signed = `${base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }))}.${base64url(JSON.stringify(claims))}`;
  const signature = createHmac("sha256", process.env.CONTRACT_JWT_SECRET).update(signed).digest("base64url");
  return `${signed}.${signature}`;
}

async function serviceMessage(testCase) {
  const headers = { "content-type": "application/json", "x-request-id": `contract-${runId}-${testCase.id}` };
  const credential = testCase.request.credential;
  if (credential === "user") {
    if (!process.env.CONTRACT_JWT_SECRET) return { skipped: "needs CONTRACT_JWT_SECRET to sign in" };
    headers.authorization = `Bearer ${userToken()}`;
  } else if (credential) {
    return { skipped: `credential ${credential} is not minted here` };
  }
  const response = await fetch(`${baseUrl}${testCase.request.path}`, {
    method: testCase.request.method,
    headers,
    body: JSON.stringify(testCase.request.json),
    signal: AbortSignal.timeout(30000),
  });
  const body = await response.json();
  return { status: response.status, message: body.error };
}

for (const testCase of cases.filter((item) => item.validates)) {
  let first;
  try {
    first = firstError(testCase.validates, testCase.request.json);
  } catch (error) {
    fail(`${testCase.id}: ${testCase.validates} does not compile: ${error.message}`);
    continue;
  }
  const expected = testCase.expect.body.error;
  if (first === null) {
    fail(`${testCase.id}: ajv accepts the body, the service answers ${JSON.stringify(expected)}`);
    continue;
  }
  if (first !== expected) {
    fail(`${testCase.id}: ajv says ${JSON.stringify(first)}, the contract says ${JSON.stringify(expected)}`);
    continue;
  }
  if (baseUrl) {
    const actual = await serviceMessage(testCase);
    if (actual.skipped) {
      fail(`${testCase.id}: not compared with the service: ${actual.skipped}`);
      continue;
    }
    if (actual.status !== 400 || actual.message !== first) {
      fail(`${testCase.id}: ajv says ${JSON.stringify(first)}, the service answers ${actual.status} ${JSON.stringify(actual.message)}`);
      continue;
    }
  }
  passed += 1;
  console.log(`ok   ${testCase.id}: ${JSON.stringify(first)}${baseUrl ? " (ajv = cases.json = service)" : " (ajv = cases.json)"}`);
}

// The documented valid bodies must pass in the browser too, {CHECKOUT_SESSION_ID} template included.
for (const testCase of cases.filter((item) => item.expect.status === 200 && item.request.json !== undefined)) {
  const schema = testCase.request.path.endsWith("create-checkout")
    ? "create-checkout.request.json"
    : "create-portal.request.json";
  const body = JSON.parse(
    JSON.stringify(testCase.request.json)
      .replaceAll("$PRICE_ID", "price_contract")
      .replaceAll("$PRICE_MODE", "payment")
      .replaceAll("$RUN_ID", runId),
  );
  const first = firstError(schema, body);
  if (first === null) {
    passed += 1;
    console.log(`ok   ${testCase.id}: ajv accepts the valid body`);
  } else {
    fail(`${testCase.id}: ajv rejects a valid body: ${JSON.stringify(first)}`);
  }
}

console.log(`frontend parity: ${passed} passed, ${failed} failed`);
process.exitCode = failed === 0 ? 0 : 1;
