// Writes the cookies @supabase/ssr sets for a signed-in session, as JSON fixtures for the Python tests.
// `node make_fixtures.mjs` writes ../fixtures/supabase_cookies/*.json; `--check` compares instead.
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServerClient } from "@supabase/ssr";
import { serialize } from "cookie";

// Fixed clock and randomness, so the fixtures are the same on every run.
const NOW_MS = 1_760_000_000_000; // in the past, so `iat` is never in the future
Date.now = () => NOW_MS;
let counter = 0;
globalThis.crypto.getRandomValues = (array) => {
  for (let i = 0; i < array.length; i += 1) array[i] = (counter++ * 37 + 11) % 256;
  return array;
};

const SUPABASE_URL = "https://abcd.supabase.co";
const ANON_KEY = "anon-key-for-fixtures";
const SECRET = "fixture-jwt-secret-that-is-long-enough-for-hs256";
const USER_ID = "8d0fd2b3-9ca3-4d3b-9c2c-6b2a6b1f0c11";
const EXPIRES = 4_102_444_800; // 2100-01-01: the committed tokens must not expire.
const OUT = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "supabase_cookies");

const b64url = (data) => Buffer.from(data).toString("base64url");

function token(extraClaims) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = b64url(
    JSON.stringify({
      iss: `${SUPABASE_URL}/auth/v1`,
      aud: "authenticated",
      sub: USER_ID,
      role: "authenticated",
      email: "ada@example.com",
      iat: NOW_MS / 1000,
      exp: EXPIRES,
      session_id: "5b1c5a8e-0000-4000-8000-000000000001",
      is_anonymous: false,
      aal: "aal1",
      ...extraClaims,
    }),
  );
  const signature = createHmac("sha256", SECRET).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

function user(metadata) {
  return {
    id: USER_ID,
    aud: "authenticated",
    role: "authenticated",
    email: "ada@example.com",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: metadata,
    created_at: "2026-01-01T00:00:00Z",
  };
}

// Answers GET /auth/v1/user, the one call setSession makes, without any network.
function fakeFetch(metadata) {
  return async (input) => {
    const url = typeof input === "string" ? input : input.url;
    if (!url.endsWith("/auth/v1/user")) throw new Error(`unexpected request ${url}`);
    return new Response(JSON.stringify(user(metadata)), {
      status: 200,
      headers: { "content-type": "application/json" },
    });
  };
}

async function cookiesFor({ encoding, name, metadata, claims, pkce }) {
  const set = [];
  const options = {
    cookies: {
      getAll: () => [],
      setAll: (cookies) => set.push(...cookies),
    },
    global: { fetch: fakeFetch(metadata) },
    // Node 20 has no WebSocket; realtime is never used here.
    realtime: { transport: class NoWebSocket {} },
  };
  if (encoding) options.cookieEncoding = encoding;
  if (name) options.cookieOptions = { name };
  const client = createServerClient(SUPABASE_URL, ANON_KEY, options);
  let accessToken = null;
  if (pkce) {
    await client.auth.signInWithOAuth({
      provider: "github",
      options: { redirectTo: "https://app.example.com/auth/callback", skipBrowserRedirect: true },
    });
  } else {
    accessToken = token(claims);
    const { error } = await client.auth.setSession({ access_token: accessToken, refresh_token: "r3fr3sh-t0ken" });
    if (error) throw error;
  }
  return {
    access_token: accessToken,
    cookies: set.map(({ name: cookieName, value }) => ({ name: cookieName, value })),
    set_cookie_headers: set.map(({ name: cookieName, value, options: o }) => serialize(cookieName, value, o)),
  };
}

const big = { bio: "x".repeat(6000), tags: Array.from({ length: 200 }, (_, i) => `tag-${i}-ü`) };
const CASES = {
  short: { description: "short session, default base64url encoding", spec: {} },
  long: {
    description: "session large enough to be split into many chunks, base64url",
    spec: { metadata: big, claims: { user_metadata: big } },
  },
  raw: { description: "short session, raw JSON encoding", spec: { encoding: "raw" } },
  "raw-long": {
    description: "long session, raw JSON encoding, chunked",
    spec: { encoding: "raw", metadata: big, claims: { user_metadata: big } },
  },
  "custom-name": { description: "short session under a custom cookie name", spec: { name: "my-app-session" } },
  "code-verifier": { description: "PKCE sign-in started: only the code verifier cookie", spec: { pkce: true } },
};

const check = process.argv.includes("--check");
mkdirSync(OUT, { recursive: true });
let stale = 0;
for (const [file, { description, spec }] of Object.entries(CASES)) {
  const result = await cookiesFor({ metadata: {}, claims: {}, ...spec });
  const fixture = {
    description,
    supabase_url: SUPABASE_URL,
    jwt_secret: SECRET,
    cookie_name: spec.name ?? null,
    user_id: USER_ID,
    ...result,
  };
  const text = `${JSON.stringify(fixture, null, 2)}\n`;
  const path = join(OUT, `${file}.json`);
  if (check) {
    let old = "";
    try {
      old = readFileSync(path, "utf8");
    } catch {}
    if (old !== text) {
      console.error(`${path} differs from what @supabase/ssr writes now`);
      stale += 1;
    }
  } else {
    writeFileSync(path, text);
  }
}
if (stale) process.exit(1);
