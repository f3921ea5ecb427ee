// orval's fetch `mutator` for the generated client in test/clients/orval: orval 7.13's stock fetch client (the last
// orval that runs on Node 20) JSON.parses every response body, so a zip or a weight shard cannot come back as bytes.
// This one transport (orval's documented custom-fetch hook; every operation still comes from the generated code) reads
// the body by its Content-Type — JSON for application/json and application/problem+json, a Blob for the rest
// (so model.json, served as application/json, arrives parsed although the contract types that download as binary) — and
// returns orval's `{ data, status, headers }`. Set the server and API key with configureOrvalClient().
let baseUrl = '';
let defaultHeaders: Record<string, string> = {};

export function configureOrvalClient(options: { baseUrl: string; apiKey?: string }): void {
  baseUrl = options.baseUrl.replace(/\/+$/, '');
  defaultHeaders = options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {};
}

export async function orvalFetch<T>(url: string, init: RequestInit): Promise<T> {
  const headers = new Headers(init.headers);
  for (const [k, v] of Object.entries(defaultHeaders)) if (!headers.has(k)) headers.set(k, v);
  const res = await fetch(`${baseUrl}${url}`, { ...init, headers });
  const type = res.headers.get('content-type') ?? '';
  const data: unknown = [204, 205, 304].includes(res.status) ? undefined : /\bjson\b/.test(type) ? await res.json() : await res.blob();
  // orval types each operation's result as a union of { data, status, headers } by status code; the mutator is generic.
  return { data, status: res.status, headers: res.headers } as T;
}
