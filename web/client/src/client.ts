import * as tus from "tus-js-client";

import { FolioError } from "./errors.js";
import { ResumingStream } from "./stream.js";
import type { Backoff, StreamMessage, Subscription, WatchOptions } from "./stream.js";
import type {
  DevToken,
  Document,
  DocumentList,
  DocumentSnapshot,
  DocumentsSnapshot,
  FolioEvent,
  Outline,
  PageList,
  SearchResult,
  Ticket,
} from "./types.js";

export interface ClientOptions {
  /** The API's address, e.g. "https://folio.example.com". Default: the page's own origin. */
  baseUrl?: string;
  /** A bearer token (JWT), or a function that returns the current one. */
  token: string | (() => string | Promise<string>);
  /** Reconnect delays of live streams. */
  backoff?: Partial<Backoff>;
  /** How long a stream connection may take to open before it counts as failed (default 10000 ms). */
  connectTimeoutMs?: number;
  // For tests and other runtimes; the browser's own by default.
  fetch?: typeof fetch;
  XMLHttpRequest?: typeof XMLHttpRequest;
  WebSocket?: typeof WebSocket;
  EventSource?: typeof EventSource;
  random?: () => number;
}

export interface UploadProgress {
  /** Bytes sent so far. */
  loaded: number;
  /** Bytes to send (the request body, slightly more than the file). */
  total: number;
  /** loaded / total, 0 to 1. */
  fraction: number;
}

export interface UploadOptions {
  /** The name to record; the File's own name by default. */
  filename?: string;
  onProgress?: (p: UploadProgress) => void;
  /** Aborting it cancels the upload: nothing is stored, and the promise rejects with an AbortError. */
  signal?: AbortSignal;
  /** How many times a 503 that kept nothing is retried (default 3). */
  retries?: number;
  /** Called before each retry, with the answer that caused it; progress starts again from 0 (one-request uploads). */
  onRetry?: (err: FolioError, attempt: number) => void;
  /**
   * Resumable (the default): the tus protocol at /v1/uploads/, with
   * tus-js-client. A dropped connection or an API restarting costs what was
   * in flight, and the upload goes on from where it stopped, also after a
   * page reload (when the same file is chosen again: its URL is kept in
   * localStorage). false: one multipart/form-data request, which starts over.
   */
  resumable?: boolean;
  /** Resumable: bytes per request (default: the whole rest of the file in one). */
  chunkSize?: number;
  /** Resumable: called with the offset an upload goes on from when it resumes (a reload, a drop, a pause). */
  onResume?: (offset: number) => void;
  /** The application's id for the document (up to 255 bytes): kept on it, in its events and webhooks, filters the list. */
  externalId?: string;
  /**
   * The application's metadata: keys of `[A-Za-z0-9_.-]` (not `filename`,
   * `name`, `filetype`, `ocr_languages` or `external_id`), string values,
   * 4 KiB in all.
   */
  metadata?: Record<string, string>;
}

/** A change of a document's application data (PATCH): a key set to null is removed. */
export interface AppDataPatch {
  external_id?: string | null;
  metadata?: Record<string, string | null> | null;
}

/** A resumable upload under way (FolioClient.startUpload). */
export interface UploadHandle {
  /** The recorded document, once the last byte is in. */
  readonly promise: Promise<UploadedDocument>;
  /** Stops sending; what the server holds stays (resume() goes on). */
  pause(): void;
  /** Goes on from what the server holds. */
  resume(): void;
  /** Stops and deletes what was sent; the promise rejects with an AbortError. */
  abort(): void;
}

/** An upload that did not finish in an earlier page (or process), resumable when its file is chosen again. */
export interface InterruptedUpload {
  filename: string;
  size: number | null;
  startedAt: string;
  uploadUrl: string | null;
}

/** Uploads this browser started and did not finish (kept by tus-js-client in localStorage). */
export async function findInterruptedUploads(): Promise<InterruptedUpload[]> {
  const storage = tus.defaultOptions.urlStorage;
  const all = (await storage?.findAllUploads()) ?? [];
  return all.map((u) => ({
    filename: u.metadata.filename ?? "",
    size: u.size,
    startedAt: u.creationTime,
    uploadUrl: u.uploadUrl ?? null,
  }));
}

// 503s after which the API kept nothing (docs/errors.md): safe to send again.
const RETRY_UPLOAD = new Set(["server_restarting", "database_unavailable", "storage_unavailable"]);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** An uploaded document; duplicate_of is set when the same owner uploaded the same bytes before. */
export type UploadedDocument = Document;

type Query = Record<string, string | number | undefined>;

/** A Folio API client. Create one per token with createClient(). */
export class FolioClient {
  readonly baseUrl: string;
  private readonly opts: ClientOptions;

  constructor(opts: ClientOptions) {
    this.opts = opts;
    const origin = typeof location !== "undefined" ? location.origin : undefined;
    const base = opts.baseUrl ?? origin;
    if (!base) throw new TypeError("@folio/client: baseUrl is required outside a browser page");
    this.baseUrl = new URL(base, origin).toString();
  }

  /**
   * Uploads one PDF, with progress; resolves to the recorded document.
   * Resumable by default (see UploadOptions.resumable and startUpload). With
   * `resumable: false`, one multipart/form-data request: an answer that says
   * nothing was kept and to come back (503: the API is restarting in a
   * rolling deploy, or its database or S3 did not answer) is retried, up to
   * `retries` times, after Retry-After.
   */
  async uploadDocument(file: Blob, options: UploadOptions = {}): Promise<UploadedDocument> {
    if (options.resumable !== false) return this.startUpload(file, options).promise;
    const retries = options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.uploadOnce(file, options);
      } catch (err) {
        if (!(err instanceof FolioError) || !RETRY_UPLOAD.has(err.code) || attempt >= retries) throw err;
        options.onRetry?.(err, attempt + 1);
        await sleep((err.retryAfter ?? 2 ** attempt) * 1000, options.signal);
      }
    }
  }

  /**
   * Starts a resumable upload (tus 1.0 at /v1/uploads/, with tus-js-client)
   * that can be paused and resumed. If this browser started an upload of the
   * same file (name, type, size, modification time) before and did not
   * finish it, it goes on from what the server holds.
   */
  startUpload(file: Blob, options: UploadOptions = {}): UploadHandle {
    const name = options.filename ?? (file as File).name ?? "document.pdf";
    let documentId: string | null = null;
    let settle!: { resolve: (d: Document) => void; reject: (e: unknown) => void };
    const promise = new Promise<Document>((resolve, reject) => (settle = { resolve, reject }));
    let aborted = false;
    const upload = new tus.Upload(file, {
      endpoint: this.url("/v1/uploads/"),
      metadata: {
        ...options.metadata,
        ...(options.externalId !== undefined ? { external_id: options.externalId } : {}),
        filename: name,
        filetype: file.type || "application/pdf",
      },
      chunkSize: options.chunkSize ?? Number.POSITIVE_INFINITY,
      // After a drop or a restart: at once, then back off (a draining API
      // has already told the offset; a killed one is found out by HEAD).
      retryDelays: [0, 1000, 3000, 5000, 10000, 20000],
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onBeforeRequest: async (req) => {
        req.setHeader("Authorization", `Bearer ${await this.token()}`);
      },
      onAfterResponse: (req, res) => {
        const id = res.getHeader("Folio-Document-Id");
        if (id) documentId = id;
        if (req.getMethod() === "HEAD" && res.getStatus() === 200) {
          options.onResume?.(Number(res.getHeader("Upload-Offset") ?? 0));
        }
      },
      onProgress: (loaded, total) => {
        options.onProgress?.({ loaded, total, fraction: total > 0 ? Math.min(1, loaded / total) : 0 });
      },
      onSuccess: () => {
        if (!documentId) {
          settle.reject(new FolioError(0, "bad_response", "The upload finished without naming its document."));
          return;
        }
        this.getDocument(documentId, options.signal).then(settle.resolve, settle.reject);
      },
      onError: (err) => {
        if (aborted) return;
        const res = (err as tus.DetailedError).originalResponse;
        settle.reject(
          res
            ? FolioError.fromResponse(res.getStatus(), res.getBody() ?? "", res.getHeader("Retry-After") ?? null)
            : FolioError.network(`The upload could not reach the server (${err.message}).`),
        );
      },
    });
    const start = async () => {
      const previous = await upload.findPreviousUploads();
      const mine = previous.find((p) => p.uploadUrl);
      if (mine) upload.resumeFromPreviousUpload(mine);
      upload.start();
    };
    const abort = () => {
      if (aborted) return;
      aborted = true;
      // Terminate: the server deletes what it holds.
      void upload.abort(true).catch(() => undefined);
      settle.reject(options.signal?.reason ?? new DOMException("The upload was aborted.", "AbortError"));
    };
    if (options.signal?.aborted) {
      abort();
    } else {
      options.signal?.addEventListener("abort", abort, { once: true });
      start().catch((err: unknown) => settle.reject(err));
    }
    return {
      promise,
      pause: () => void upload.abort(false),
      resume: () => upload.start(),
      abort,
    };
  }

  private async uploadOnce(file: Blob, options: UploadOptions): Promise<UploadedDocument> {
    const { signal, onProgress } = options;
    signal?.throwIfAborted();
    const token = await this.token();
    const form = new FormData();
    const name = options.filename ?? (file as File).name ?? "document.pdf";
    // The application's data before the file: the API reads fields as they come.
    if (options.externalId !== undefined) form.append("external_id", options.externalId);
    for (const [k, v] of Object.entries(options.metadata ?? {})) form.append(`metadata.${k}`, v);
    form.append("file", file, name);
    const XHR = this.opts.XMLHttpRequest ?? globalThis.XMLHttpRequest;
    return new Promise<Document>((resolve, reject) => {
      const xhr = new XHR();
      const onAbort = () => xhr.abort();
      const cleanup = () => signal?.removeEventListener("abort", onAbort);
      xhr.open("POST", this.url("/v1/documents"));
      xhr.setRequestHeader("Authorization", `Bearer ${token}`);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.responseType = "text";
      if (onProgress) {
        xhr.upload.onprogress = (e: ProgressEvent) => {
          const total = e.lengthComputable ? e.total : file.size;
          onProgress({ loaded: e.loaded, total, fraction: total > 0 ? Math.min(1, e.loaded / total) : 0 });
        };
      }
      xhr.onload = () => {
        cleanup();
        if (xhr.status === 201) {
          try {
            resolve(JSON.parse(xhr.responseText) as Document);
          } catch {
            reject(new FolioError(xhr.status, "bad_response", "The server's answer was not JSON."));
          }
          return;
        }
        reject(FolioError.fromResponse(xhr.status, xhr.responseText, xhr.getResponseHeader("Retry-After")));
      };
      xhr.onerror = () => {
        cleanup();
        reject(FolioError.network("The upload could not reach the server."));
      };
      xhr.onabort = () => {
        cleanup();
        reject(signal?.reason ?? new DOMException("The upload was aborted.", "AbortError"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      xhr.send(form);
    });
  }

  getDocument(id: string, signal?: AbortSignal): Promise<Document> {
    return this.json("GET", `/v1/documents/${encodeURIComponent(id)}`, {}, signal);
  }

  /** The caller's documents, newest first; `externalId` and `metadata` keep those that have them. */
  listDocuments(
    query: { limit?: number; cursor?: string; status?: string; externalId?: string; metadata?: Record<string, string> } = {},
    signal?: AbortSignal,
  ): Promise<DocumentList> {
    const { externalId, metadata, ...rest } = query;
    const q: Query = { ...rest, ...(externalId !== undefined ? { external_id: externalId } : {}) };
    for (const [k, v] of Object.entries(metadata ?? {})) q[`metadata.${k}`] = v;
    return this.json("GET", "/v1/documents", q, signal);
  }

  /** Changes a document's external_id and metadata (a document.updated event follows). */
  updateDocument(id: string, patch: AppDataPatch): Promise<Document> {
    return this.json("PATCH", `/v1/documents/${encodeURIComponent(id)}`, {}, undefined, patch);
  }

  /** Pages with their text, from page `from` (1-based), `limit` at a time (at most 100). */
  getPages(id: string, query: { from?: number; limit?: number } = {}, signal?: AbortSignal): Promise<PageList> {
    return this.json("GET", `/v1/documents/${encodeURIComponent(id)}/pages`, query, signal);
  }

  getOutline(id: string, signal?: AbortSignal): Promise<Outline> {
    return this.json("GET", `/v1/documents/${encodeURIComponent(id)}/outline`, {}, signal);
  }

  search(q: string, query: { limit?: number } = {}, signal?: AbortSignal): Promise<SearchResult> {
    return this.json("GET", "/v1/search", { q, ...query }, signal);
  }

  reparse(id: string): Promise<Document> {
    return this.json("POST", `/v1/documents/${encodeURIComponent(id)}/reparse`);
  }

  async deleteDocument(id: string): Promise<void> {
    await this.send("DELETE", `/v1/documents/${encodeURIComponent(id)}`);
  }

  /**
   * The URL of page `n` drawn `width` pixels wide (one of pageImageWidths).
   * Fetching it needs the bearer token: use getPageImage (or <PageImage>
   * from @folio/client/react), not an <img src>.
   */
  pageImageUrl(id: string, n: number, width: PageImageWidth = 256): string {
    return this.url(`/v1/documents/${encodeURIComponent(id)}/pages/${n}/image`, { width });
  }

  /**
   * Page `n` as a JPEG Blob, `width` pixels wide. The first request for a
   * width other than the thumbnail's (256) renders it, which can take a
   * moment; afterwards it comes from the store, and the browser caches it
   * (the image never changes). A page the renderer could not draw rejects
   * with a FolioError whose code is page_not_rendered and reason says why.
   */
  async getPageImage(id: string, n: number, options: { width?: PageImageWidth; signal?: AbortSignal } = {}): Promise<Blob> {
    const path = `/v1/documents/${encodeURIComponent(id)}/pages/${n}/image`;
    const res = await this.send("GET", path, { width: options.width ?? 256 }, options.signal, "image/jpeg");
    return res.blob();
  }

  /** A single-use ticket for one stream (browsers cannot set headers on WebSocket or EventSource). */
  async ticket(): Promise<string> {
    return (await this.json<Ticket>("POST", "/v1/events/tickets")).ticket;
  }

  /**
   * Follows one document: first a snapshot (the document and its seq), then
   * every later event once, in order, across reconnects. Call close() on the
   * result to stop.
   */
  watchDocument(id: string, onEvent: (msg: DocumentSnapshot | FolioEvent) => void, options?: WatchOptions): Subscription {
    const path = `/v1/documents/${encodeURIComponent(id)}/events`;
    // A failed connection may be a 404 the browser does not show: ask the API.
    const probe = () => this.getDocument(id);
    return new ResumingStream(this.streamDeps(), path, "seq", onEvent as (m: StreamMessage) => void, options, probe);
  }

  /** Follows all the caller's documents: a snapshot of the newest 500, then every event. */
  watchAll(onEvent: (msg: DocumentsSnapshot | FolioEvent) => void, options?: WatchOptions): Subscription {
    return new ResumingStream(this.streamDeps(), "/v1/events", "pos", onEvent as (m: StreamMessage) => void, options);
  }

  private streamDeps() {
    const g = globalThis as { WebSocket?: typeof WebSocket; EventSource?: typeof EventSource };
    return {
      baseUrl: this.baseUrl,
      ticket: () => this.ticket(),
      WebSocket: this.opts.WebSocket ?? g.WebSocket,
      EventSource: this.opts.EventSource ?? g.EventSource,
      backoff: { initialMs: 500, maxMs: 15_000, ...this.opts.backoff },
      random: this.opts.random ?? Math.random,
      connectTimeoutMs: this.opts.connectTimeoutMs ?? 10_000,
    };
  }

  private url(path: string, query: Query = {}): string {
    const u = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  /** The bearer token the client sends now (for other libraries' requests, e.g. Uppy's). */
  getToken(): Promise<string> {
    return this.token();
  }

  private async token(): Promise<string> {
    const t = this.opts.token;
    return typeof t === "function" ? await t() : t;
  }

  private async send(
    method: string,
    path: string,
    query: Query = {},
    signal?: AbortSignal,
    accept = "application/json",
    body?: unknown,
  ): Promise<Response> {
    const doFetch = this.opts.fetch ?? globalThis.fetch.bind(globalThis);
    let res: Response;
    try {
      const headers: Record<string, string> = { Authorization: `Bearer ${await this.token()}`, Accept: accept };
      if (body !== undefined) headers["Content-Type"] = "application/json";
      res = await doFetch(this.url(path, query), {
        method,
        headers,
        signal: signal ?? null,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (err) {
      if (err instanceof DOMException && err.name === "AbortError") throw err;
      throw FolioError.network();
    }
    if (!res.ok) throw FolioError.fromResponse(res.status, await res.text(), res.headers.get("Retry-After"));
    return res;
  }

  private async json<T>(method: string, path: string, query: Query = {}, signal?: AbortSignal, body?: unknown): Promise<T> {
    return (await (await this.send(method, path, query, signal, "application/json", body)).json()) as T;
  }

  /**
   * What @uppy/aws-s3 needs to send files straight to S3 through Folio:
   * pass `generateObjectKey` and `signRequest` to the plugin (with
   * `shouldUseMultipart: true`: Folio signs multipart uploads only), and
   * call `finalize(key)` on each `upload-success`: the object becomes a
   * document only then, after Folio checked it. Folio picks the real key
   * (the one generateObjectKey returns is a placeholder that carries the
   * file's name and size to the creation).
   */
  directUploads(): DirectUploads {
    const pending = new Map<string, { name: string; size: number }>();
    return {
      // Folio signs each part for its length, in parts of the larger of
      // 5 MiB and a 10,000th of the file (Uppy's own default, said here so
      // that a plugin configured otherwise still cuts them so).
      getChunkSize: (file) => Math.max(5 * 1024 * 1024, Math.ceil((file.size ?? 0) / 10000)),
      generateObjectKey: (file) => {
        const key = `pending/${crypto.randomUUID()}`;
        pending.set(key, { name: file.name ?? "document.pdf", size: file.size ?? 0 });
        return key;
      },
      signRequest: async (req) => {
        if (req.method === "POST" && !req.uploadId) {
          const f = pending.get(req.key);
          if (!f) throw new FolioError(0, "unknown_file", "This file was not announced by generateObjectKey.");
          pending.delete(req.key);
          const up = await this.json<{ url: string; key: string }>("POST", "/v1/direct-uploads", {}, undefined, {
            filename: f.name,
            size: f.size,
          });
          return { url: up.url, key: up.key };
        }
        return this.json<{ url: string }>("POST", "/v1/direct-uploads/sign", {}, undefined, {
          method: req.method,
          key: req.key,
          uploadId: req.uploadId ?? "",
          partNumber: req.partNumber ?? 0,
        });
      },
      finalize: (key) => {
        const id = key.slice(key.lastIndexOf("/") + 1);
        return this.json<Document>("POST", `/v1/direct-uploads/${encodeURIComponent(id)}/finalize`);
      },
    };
  }
}

/** See FolioClient.directUploads. */
export interface DirectUploads {
  getChunkSize(file: { size?: number | null }): number;
  generateObjectKey(file: { name?: string; size?: number | null }): string;
  signRequest(req: { method: string; key: string; uploadId?: string; partNumber?: number }): Promise<{ url: string; key?: string }>;
  finalize(key: string): Promise<Document>;
}

/** The widths a page image comes in, in pixels; 256 is every page's thumbnail. */
export const pageImageWidths = [256, 512, 1024, 2048] as const;
export type PageImageWidth = (typeof pageImageWidths)[number];

/**
 * The smallest image width that fills `cssWidth` CSS pixels on a screen of
 * `pixelRatio` device pixels per CSS pixel (what srcset would pick).
 */
export function pickImageWidth(cssWidth: number, pixelRatio = 1): PageImageWidth {
  const need = cssWidth * pixelRatio;
  return pageImageWidths.find((w) => w >= need) ?? 2048;
}

/** A client for the API at baseUrl (default: this page's origin). */
export function createClient(opts: ClientOptions): FolioClient {
  return new FolioClient(opts);
}

/**
 * Asks a development stack (`folio dev`) for a token for `sub`. Production
 * APIs do not have this endpoint (404): use your identity provider's token.
 */
export async function devSignIn(sub: string, opts: { baseUrl?: string; fetch?: typeof fetch } = {}): Promise<DevToken> {
  const origin = typeof location !== "undefined" ? location.origin : undefined;
  const url = new URL("/v1/dev/token", opts.baseUrl ?? origin);
  const doFetch = opts.fetch ?? globalThis.fetch.bind(globalThis);
  let res: Response;
  try {
    res = await doFetch(url.toString(), {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sub }),
    });
  } catch {
    throw FolioError.network();
  }
  if (res.status !== 201) throw FolioError.fromResponse(res.status, await res.text(), res.headers.get("Retry-After"));
  return (await res.json()) as DevToken;
}
