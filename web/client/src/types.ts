// The API's shapes, from the generated OpenAPI types (src/openapi.ts).
import type { components, paths } from "./openapi.js";

type Schemas = components["schemas"];
type JSONOf<P extends keyof paths, M extends "get" | "post", S extends number> = paths[P][M] extends {
  responses: { [K in S]: { content: { "application/json": infer T } } };
}
  ? T
  : never;

export type Document = Schemas["Document"];
export type DocumentStatus = Document["status"];
export type DocumentList = Schemas["DocumentList"];
export type Summary = Schemas["Summary"];
export type Page = Schemas["Page"];
export type OutlineItem = Schemas["OutlineItem"];
export type Problem = Schemas["Problem"];
export type Ticket = Schemas["Ticket"];
export type DevToken = Schemas["DevToken"];
export type FolioEvent = Schemas["Event"];
export type EventType = FolioEvent["type"];
export type DocumentSnapshot = Schemas["DocumentSnapshot"];
export type DocumentsSnapshot = Schemas["DocumentsSnapshot"];
export type Failure = NonNullable<Document["failure"]>;

/** One page of GET /v1/documents/{id}/pages. */
export type PageList = JSONOf<"/v1/documents/{id}/pages", "get", 200>;
/** GET /v1/documents/{id}/outline. */
export type Outline = JSONOf<"/v1/documents/{id}/outline", "get", 200>;
/** GET /v1/search. */
export type SearchResult = JSONOf<"/v1/search", "get", 200>;
export type SearchHit = SearchResult["hits"][number];

// Every event type, as a record so that a type added to the API and not here fails tsc.
const everyEventType: Record<EventType, true> = {
  "document.queued": true,
  "parse.started": true,
  "parse.progress": true,
  "parse.requeued": true,
  "document.done": true,
  "document.failed": true,
  "document.canceled": true,
  "document.deleted": true,
  "ocr.progress": true,
  "ocr.done": true,
  "scan.done": true,
  "document.quarantined": true,
  "document.updated": true,
};

/** Every event type a stream can carry, for SSE listeners. */
export const eventTypes = Object.keys(everyEventType) as readonly EventType[];
