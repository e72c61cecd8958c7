// One typed client for the frontend's calls: paths, bodies, headers and answers come from the service's
// OpenAPI document through the package's generated types. Same origin, so the session cookie goes along.
import createClient from "openapi-fetch";

import type { paths } from "@billing-handlers/contract";

export const api = createClient<paths>({ baseUrl: "" });
