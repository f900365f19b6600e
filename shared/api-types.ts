/** Shapes the HTTP API sends, shared by the server, the pages and the tests. */

export interface PublicUser {
  id: string;
  email: string;
  createdAt: string;
}

export interface ErrorBody {
  error: { code: string; message: string; [extra: string]: unknown };
}
