import type { Document, FolioEvent } from "./types.js";

/**
 * The document after one of its events, as the server's row would read
 * (undefined once deleted). `doc` may be undefined for a document first
 * seen through its events: the result then holds what the events tell.
 */
export function applyEvent(doc: Document | undefined, ev: FolioEvent): Document | undefined {
  if (ev.type === "document.deleted") return undefined;
  const queued = ev.type === "document.queued" ? ev.data : undefined;
  const base: Document = doc ?? {
    id: ev.document_id,
    filename: queued?.filename ?? "",
    status: queued?.scanning ? "scanning" : "queued",
    size_bytes: queued?.size_bytes ?? 0,
    sha256: "",
    page_count: null,
    pages_done: 0,
    pages_rendered: 0,
    created_at: ev.created_at,
    updated_at: ev.created_at,
  };
  const next: Document = { ...base, updated_at: ev.created_at };
  switch (ev.type) {
    case "document.queued":
      next.status = ev.data.scanning ? "scanning" : "queued";
      if (ev.data.external_id !== undefined) next.external_id = ev.data.external_id;
      if (ev.data.metadata !== undefined) next.metadata = ev.data.metadata;
      next.pages_done = 0;
      next.pages_rendered = 0;
      delete next.failure;
      delete next.stage;
      delete next.ocr;
      break;
    case "scan.done":
      next.status = "queued";
      next.scan = { result: ev.data.result, scanned_at: ev.created_at };
      if (ev.data.signatures !== undefined) next.scan.signatures = ev.data.signatures;
      break;
    case "document.quarantined":
      next.status = "quarantined";
      next.scan = { result: "found", found: ev.data.signature, scanned_at: ev.created_at };
      if (ev.data.signatures !== undefined) next.scan.signatures = ev.data.signatures;
      delete next.stage;
      delete next.ocr;
      break;
    case "parse.started":
      next.status = "parsing";
      next.stage = "reading";
      next.pages_done = Math.max(0, ev.data.resume_at_page - 1);
      next.pages_rendered = 0;
      break;
    case "parse.progress":
      next.page_count = ev.data.pages_total;
      // Rendering follows extracting: its pages_done counts thumbnails.
      if (ev.data.stage === "rendering") {
        next.pages_done = ev.data.pages_total;
        next.pages_rendered = ev.data.pages_done;
      } else {
        next.pages_done = ev.data.pages_done;
      }
      if (ev.data.stage !== "done") {
        next.status = "parsing";
        next.stage = ev.data.stage;
      }
      break;
    case "parse.requeued":
      next.status = "queued";
      delete next.stage;
      break;
    case "document.done":
      next.status = "done";
      next.page_count = next.pages_done = ev.data.page_count;
      next.summary = ev.data.summary;
      if (ev.data.ocr) next.ocr = { status: ev.data.ocr, pages_total: ev.data.ocr_pages ?? 0, pages_done: 0 };
      else delete next.ocr;
      delete next.stage;
      delete next.failure;
      break;
    case "document.failed":
      next.status = "failed";
      next.failure = { code: ev.data.code, message: ev.data.message };
      delete next.stage;
      break;
    case "document.canceled":
      next.status = "canceled";
      delete next.stage;
      break;
    case "ocr.progress":
      next.ocr = { status: "running", pages_total: ev.data.pages_total, pages_done: ev.data.pages_done };
      break;
    case "document.updated":
      if (ev.data.external_id !== undefined) next.external_id = ev.data.external_id;
      else delete next.external_id;
      if (ev.data.metadata !== undefined) next.metadata = ev.data.metadata;
      else delete next.metadata;
      break;
    case "ocr.done":
      next.ocr = {
        status: "done",
        pages_total: ev.data.pages_read + ev.data.pages_failed,
        pages_done: ev.data.pages_read + ev.data.pages_failed,
      };
      break;
  }
  return next;
}

/**
 * How far the document's current stage is, 0 to 1 (1 when done): pages
 * extracted over pages while extracting, pages with their thumbnail over
 * pages while rendering (doc.stage says which).
 */
export function progressOf(doc: Document | undefined): number {
  if (!doc) return 0;
  if (doc.status === "done") return 1;
  if (!doc.page_count) return 0;
  const done = doc.stage === "rendering" ? doc.pages_rendered : doc.pages_done;
  return Math.min(1, done / doc.page_count);
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
    case "canceled":
      return "Its parse was canceled by an operator; parse it again to try once more.";
    case "too_large":
      return "The file is larger than this service accepts.";
    case "quarantined":
      return "Malware was found in the file: it is quarantined, and nothing of it is shown.";
    case "scan_pending":
      return "The file is being checked for malware; try again in a moment.";
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
