import type { Document, Failure, FolioEvent, Summary } from "./types.js";

type Data = Record<string, unknown>;
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

/**
 * The document after one of its events, as the server's row would read
 * (undefined once deleted). `doc` may be undefined for a document first
 * seen through its events: the result then holds what the events tell.
 */
export function applyEvent(doc: Document | undefined, ev: FolioEvent): Document | undefined {
  if (ev.type === "document.deleted") return undefined;
  const data = (ev.data ?? {}) as Data;
  const base: Document = doc ?? {
    id: ev.document_id,
    filename: typeof data.filename === "string" ? data.filename : "",
    status: "queued",
    size_bytes: num(data.size_bytes) ?? 0,
    sha256: "",
    page_count: null,
    pages_done: 0,
    created_at: ev.created_at,
    updated_at: ev.created_at,
  };
  const next: Document = { ...base, updated_at: ev.created_at };
  switch (ev.type) {
    case "document.queued":
      next.status = "queued";
      next.pages_done = 0;
      delete next.failure;
      delete next.stage;
      break;
    case "parse.started": {
      next.status = "parsing";
      next.stage = "reading";
      const resume = num(data.resume_at_page);
      if (resume !== undefined) next.pages_done = Math.max(0, resume - 1);
      break;
    }
    case "parse.progress": {
      const total = num(data.pages_total);
      const done = num(data.pages_done);
      if (total !== undefined) next.page_count = total;
      if (done !== undefined) next.pages_done = done;
      if (data.stage === "reading" || data.stage === "extracting") {
        next.status = "parsing";
        next.stage = data.stage;
      }
      break;
    }
    case "parse.requeued":
      next.status = "queued";
      delete next.stage;
      break;
    case "document.done": {
      const pages = num(data.page_count);
      next.status = "done";
      if (pages !== undefined) next.page_count = next.pages_done = pages;
      if (data.summary && typeof data.summary === "object") next.summary = data.summary as Summary;
      delete next.stage;
      delete next.failure;
      break;
    }
    case "document.failed":
      next.status = "failed";
      next.failure = {
        code: typeof data.code === "string" ? data.code : "internal",
        message: typeof data.message === "string" ? data.message : "",
      } satisfies Failure;
      delete next.stage;
      break;
    case "document.canceled":
      next.status = "canceled";
      delete next.stage;
      break;
  }
  return next;
}

/** How far a document is, 0 to 1: pages extracted over pages, 1 when done. */
export function progressOf(doc: Document | undefined): number {
  if (!doc) return 0;
  if (doc.status === "done") return 1;
  if (!doc.page_count) return 0;
  return Math.min(1, doc.pages_done / doc.page_count);
}

/** Plain words for a failure code (docs/errors.md), for people. */
export function describeFailure(code: string): string {
  switch (code) {
    case "not_pdf":
      return "This file is not a PDF.";
    case "malformed":
      return "The PDF is damaged and could not be read.";
    case "encrypted":
      return "The PDF is password-protected.";
    case "too_many_pages":
      return "The PDF has more pages than this service accepts.";
    case "memory_limit":
      return "The PDF needs more memory to read than a parse may use.";
    case "time_limit":
      return "The PDF took too long to read.";
    case "internal":
      return "Something went wrong on our side; try parsing it again.";
    case "too_large":
      return "The file is larger than this service accepts.";
    case "unsupported_media_type":
      return "Only PDF files can be uploaded.";
    case "rate_limited":
      return "Too many uploads at once; wait a moment and try again.";
    case "quota_exceeded":
      return "Your storage is full; delete documents to make room.";
    case "unauthorized":
      return "Your session has expired; sign in again.";
    case "network_error":
      return "The server could not be reached.";
    case "server_restarting":
    case "database_unavailable":
    case "storage_unavailable":
      return "The service is briefly unavailable; try again.";
    default:
      return "Something went wrong.";
  }
}

/** Newest first, as GET /v1/documents lists them. */
export function byNewest(a: Document, b: Document): number {
  const d = Date.parse(b.created_at) - Date.parse(a.created_at);
  return d !== 0 ? d : a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
