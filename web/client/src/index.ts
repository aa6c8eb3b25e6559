// @folio/client: a typed browser client for Folio.
export { FolioClient, createClient, devSignIn, findInterruptedUploads, pageImageWidths, pickImageWidth } from "./client.js";
export type { AppDataPatch, ClientOptions, DirectUploads, InterruptedUpload, PageImageWidth, UploadHandle, UploadOptions, UploadProgress, UploadedDocument } from "./client.js";
export { FolioError, isPermanent } from "./errors.js";
export { applyEvent, byNewest, describeFailure, progressOf } from "./state.js";
export type { Backoff, StreamMessage, StreamStatus, Subscription, Transport, WatchOptions } from "./stream.js";
export type * from "./types.js";
export { eventTypes } from "./types.js";
