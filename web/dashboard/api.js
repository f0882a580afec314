// The dashboard's JSON API (served by the same process). Errors carry the server's message.
export class ApiError extends Error {
  constructor(status, message, walletCode) {
    super(message);
    this.status = status;
    this.walletCode = walletCode;
  }
}

async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try { data = await res.json(); } catch { /* not JSON */ }
  if (!res.ok) throw new ApiError(res.status, data?.error?.message ?? `${method} ${path}: HTTP ${res.status}`, data?.error?.walletCode);
  return data;
}

export const api = {
  get: (path) => call('GET', path),
  post: (path, body) => call('POST', path, body),
};
