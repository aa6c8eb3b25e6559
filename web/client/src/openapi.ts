// Code generated from api/openapi.json by `npm run gen` (web/client/scripts); DO NOT EDIT.
// A test fails when this file and the API description disagree.

export interface paths {
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: 200 while the process runs */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description alive */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": Record<string, never>;
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description metrics in the Prometheus text format */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/plain": string;
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: Postgres and S3 reachable and not draining */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description ready */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": Record<string, never>;
                    };
                };
                /** @description not ready; names the failed checks */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": Record<string, never>;
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/dev/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A token for any user: `folio dev` only (404 elsewhere), from this machine only (403)
         * @description For the demo app's sign-in on a development stack. The api binary never serves it.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: {
                content: {
                    "application/json": {
                        /** @default dev */
                        sub?: string;
                    };
                };
            };
            responses: {
                /** @description the token */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DevToken"];
                    };
                };
                400: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/direct-uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a direct-to-S3 upload (Uppy @uppy/aws-s3 signRequest)
         * @description Folio picks the key (the future document's original) and answers with a presigned CreateMultipartUpload URL. Size and count limits and the quota apply here; the object is checked again at finalize.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        external_id?: components["schemas"]["ExternalID"];
                        filename?: string;
                        metadata?: components["schemas"]["AppMetadata"];
                        /** @description the languages OCR reads the scanned pages with, in Tesseract's spelling joined by "+" ("deu", "deu+eng"), among those the deployment has installed (a 400 bad_ocr_languages names them); the deployment's default when not chosen */
                        ocr_languages?: string;
                        size: number;
                    };
                };
            };
            responses: {
                /** @description created */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** Format: date-time */
                            expires_at?: string;
                            /** Format: uuid */
                            id?: string;
                            key?: string;
                            /** @description the size of every part but the last (the larger of 5 MiB and a 10,000th of the file, as Uppy cuts it by default): each part is signed for its length */
                            part_size?: number;
                            /** @description presigned CreateMultipartUpload, for one minute */
                            url?: string;
                        };
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/direct-uploads/{id}/finalize": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Make a completed direct upload a document
         * @description Checks the object: its size (no larger than declared or the limit), its first bytes (`%PDF-`), the quota; then records the document and enqueues its parse in one transaction. A failed check deletes the object. The document's `sha256` is empty until its parse computed it.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description created */
                201: {
                    headers: {
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/direct-uploads/sign": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Presign one multipart request of a direct upload
         * @description Body: Uppy's signRequest argument `{method, key, uploadId, partNumber}`. Signed: GET (list parts), PUT of a part within the declared size (its Content-Length signed: parts of `part_size`), POST (complete), DELETE (abort), for a key of the caller's direct uploads and the one multipart upload made on it (a second one made on the key is aborted).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        key?: string;
                        method?: string;
                        partNumber?: number;
                        uploadId?: string;
                    };
                };
            };
            responses: {
                /** @description the URL */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            url?: string;
                        };
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List documents, newest first */
        get: {
            parameters: {
                query?: {
                    /** @description next_cursor of the previous page */
                    cursor?: string;
                    /** @description only documents with this external_id */
                    external_id?: string;
                    limit?: number;
                    /** @description metadata.KEY=VALUE (several: all of them): only documents whose metadata has KEY with this VALUE */
                    metadata?: {
                        [key: string]: string;
                    };
                    /** @description only documents with this status (quarantined: those malware was found in) */
                    status?: "scanning" | "queued" | "parsing" | "done" | "failed" | "canceled" | "quarantined";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description a page */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["DocumentList"];
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        /**
         * Upload a PDF (raw body; what `curl -T file` sends)
         * @description The same as POST with a raw body, for clients such as `curl -T` that upload with PUT.
         */
        put: {
            parameters: {
                query?: {
                    /** @description display name for a raw upload */
                    filename?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/pdf": string;
                };
            };
            responses: {
                /** @description created */
                201: {
                    headers: {
                        /** @description /v1/documents/{id} */
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        /**
         * Upload a PDF
         * @description Raw body (`Content-Type: application/pdf`, name from `?filename=` or `Content-Disposition`) or `multipart/form-data` with the file in field `file`. Streamed to S3; recorded and queued for parsing in one transaction. The application's data: `external_id` and `metadata.KEY=VALUE` as query parameters, or as form fields before `file` (not both).
         */
        post: {
            parameters: {
                query?: {
                    /** @description the application's id for the document */
                    external_id?: components["schemas"]["ExternalID"];
                    /** @description display name for a raw upload */
                    filename?: string;
                    /** @description metadata.KEY=VALUE, once per key (spelt with a dot: metadata.order=8812); a 400 bad_metadata names the rule broken and nothing is stored */
                    metadata?: components["schemas"]["AppMetadata"];
                    /** @description the languages OCR reads the scanned pages with, in Tesseract's spelling joined by "+" ("deu", "deu+eng"), among those the deployment has installed (a 400 bad_ocr_languages names them); the deployment's default when not chosen */
                    ocr_languages?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/pdf": string;
                    "multipart/form-data": {
                        /** @description as the query parameter; a field before "file" */
                        external_id?: string;
                        file: string;
                        /** @description one field per metadata key (metadata.order), before "file" */
                        "metadata.KEY"?: string;
                        /** @description as the query parameter; a field before "file" */
                        ocr_languages?: string;
                    };
                };
            };
            responses: {
                /** @description created */
                201: {
                    headers: {
                        /** @description /v1/documents/{id} */
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** Get a document */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the document */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        /**
         * Delete a document
         * @description Cancels its parse if queued or running, deletes its rows and objects. A second delete answers 404.
         */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description deleted */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        options?: never;
        head?: never;
        /**
         * Change the application's data on a document
         * @description A JSON merge patch (RFC 7396) of `external_id` and `metadata`: a member absent is left as it is, null removes it; within metadata, a key set to null is removed and any other is set. The result is checked as at upload (400 bad_external_id, bad_metadata; nothing changes). A change is announced by a document.updated event (and its webhooks).
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": components["schemas"]["AppDataPatch"];
                    "application/merge-patch+json": components["schemas"]["AppDataPatch"];
                };
            };
            responses: {
                /** @description the document */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        trace?: never;
    };
    "/v1/documents/{id}/content": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /**
         * Download the original
         * @description 302 to a short-lived presigned S3 URL; the download carries the original file name.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description redirect to the presigned URL */
                302: {
                    headers: {
                        Location?: string;
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /**
         * Live events of one document
         * @description A websocket (JSON text messages) or, with Accept: text/event-stream, Server-Sent Events. First a snapshot (unless resuming with after/Last-Event-ID), then every later event, each once and in order (a stream 256 events behind skips progress events that a later one of the same document replaces, and marks that one coalesced); keep-alives every 25 s. Close code 1012: the server restarts, reconnect and resume; 1013: too slow (256 events behind that no skipped progress would free), reconnect and resume. A resume point older than the retained log gets a fresh snapshot with replay_truncated.
         */
        get: {
            parameters: {
                query?: {
                    /** @description resume after this seq (one document) or pos (all documents); SSE may send Last-Event-ID instead */
                    after?: number;
                    /** @description a single-use ticket from POST /v1/events/tickets, for browsers */
                    ticket?: string;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description websocket */
                101: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description event stream */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/event-stream": string;
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                406: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/outline": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** The bookmark tree */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the outline */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            outline: components["schemas"]["OutlineItem"][];
                        };
                    };
                };
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/pages": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** Pages of a parsed document: size, rotation, text */
        get: {
            parameters: {
                query?: {
                    from?: number;
                    limit?: number;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description a page of pages */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            next_from?: number;
                            pages: components["schemas"]["Page"][];
                        };
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/pages/{n}/image": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
                /** @description page number, from 1 */
                n: number;
            };
            cookie?: never;
        };
        /**
         * A page drawn as a JPEG image, at one of the fixed widths
         * @description Every page gets a 256-pixel-wide image (its thumbnail) during the parse. Other widths are rendered on demand the first time they are asked for (concurrent requests for one image share one render), then stored: the request waits for the render up to FOLIO_RENDER_WAIT and answers 503 render_pending with Retry-After if it takes longer. An image never changes for its URL: ETag, and Cache-Control private, max-age one year, immutable; If-None-Match answers 304. A page the renderer could not draw answers 422 page_not_rendered with the page's reason.
         */
        get: {
            parameters: {
                query?: {
                    /** @description width in pixels; the height follows the page's shape */
                    width?: 256 | 512 | 1024 | 2048;
                };
                header?: never;
                path: {
                    id: string;
                    /** @description page number, from 1 */
                    n: number;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the image */
                200: {
                    headers: {
                        "Cache-Control"?: string;
                        ETag?: string;
                        "X-Image-Height"?: number;
                        "X-Image-Width"?: number;
                        [name: string]: unknown;
                    };
                    content: {
                        "image/jpeg": string;
                    };
                };
                /** @description the client's copy (If-None-Match) is current */
                304: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                422: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/reparse": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Parse again */
        post: {
            parameters: {
                query?: {
                    /** @description change the document's OCR languages for this parse and after (as at upload) */
                    ocr_languages?: string;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description queued */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Document"];
                    };
                };
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/documents/{id}/text": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        /** The whole text, a form feed between pages */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description text */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/plain": string;
                    };
                };
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Live events of all the caller's documents
         * @description A websocket (JSON text messages) or, with Accept: text/event-stream, Server-Sent Events. First a snapshot (unless resuming with after/Last-Event-ID), then every later event, each once and in order (a stream 256 events behind skips progress events that a later one of the same document replaces, and marks that one coalesced); keep-alives every 25 s. Close code 1012: the server restarts, reconnect and resume; 1013: too slow (256 events behind that no skipped progress would free), reconnect and resume. A resume point older than the retained log gets a fresh snapshot with replay_truncated.
         */
        get: {
            parameters: {
                query?: {
                    /** @description resume after this seq (one document) or pos (all documents); SSE may send Last-Event-ID instead */
                    after?: number;
                    /** @description a single-use ticket from POST /v1/events/tickets, for browsers */
                    ticket?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description websocket */
                101: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description event stream */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "text/event-stream": string;
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                403: components["responses"]["Problem"];
                406: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events/tickets": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A single-use stream ticket, valid 60 s */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the ticket */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": components["schemas"]["Ticket"];
                    };
                };
                401: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This document */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description the OpenAPI document */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": Record<string, never>;
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/search": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Full-text search over the caller's parsed documents
         * @description Web-search syntax (words, "phrases", -exclusion, or), no stemming. Snippets are HTML-escaped text with matches in <mark>.
         */
        get: {
            parameters: {
                query: {
                    limit?: number;
                    q: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description hits, best first */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            hits: {
                                /** Format: uuid */
                                document_id: string;
                                filename: string;
                                page: number;
                                rank: number;
                                snippet: string;
                            }[];
                            query: string;
                        };
                    };
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Start a resumable upload (tus)
         * @description tus 1.0 (https://tus.io/protocols/resumable-upload) with the extensions creation, creation-with-upload, creation-defer-length, termination, expiration, checksum (sha1, sha256) and concatenation; also the IETF resumable upload drafts 03 and 05 (`Upload-Draft-Interop-Version`). Served by tusd's handler on Folio's store: see docs/uploads.md. Errors are problems with tus's statuses (409 offset, 460 checksum, 410 expired, 423 locked). `Upload-Metadata` `filename` (or `name`) names the document. With `Upload-Concat: final;...` the partial uploads become one document at once.
         */
        post: {
            parameters: {
                query?: never;
                header?: {
                    "Tus-Resumable"?: string;
                    "Upload-Concat"?: string;
                    "Upload-Defer-Length"?: string;
                    "Upload-Length"?: number;
                    /** @description base64 key-value pairs (tus): filename (or name), filetype, ocr_languages (as for POST /v1/documents), external_id; every other key is the application's metadata (same limits; a 400 bad_metadata or bad_external_id refuses the upload before any byte is kept) */
                    "Upload-Metadata"?: string;
                };
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description created; `Location` is the upload's path (its id is the document's); `Upload-Expires`; `Folio-Document-Id` when the upload is already complete (concatenation, creation-with-upload) */
                201: {
                    headers: {
                        "Folio-Document-Id"?: string;
                        Location?: string;
                        "Upload-Expires"?: string;
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        delete?: never;
        /**
         * tus discovery
         * @description tus 1.0 (https://tus.io/protocols/resumable-upload) with the extensions creation, creation-with-upload, creation-defer-length, termination, expiration, checksum (sha1, sha256) and concatenation; also the IETF resumable upload drafts 03 and 05 (`Upload-Draft-Interop-Version`). Served by tusd's handler on Folio's store: see docs/uploads.md. Errors are problems with tus's statuses (409 offset, 460 checksum, 410 expired, 423 locked).
         */
        options: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/uploads/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * PATCH, HEAD or DELETE through a proxy that drops them
         * @description tus 1.0's `X-HTTP-Method-Override`: a POST with `X-HTTP-Method-Override: PATCH` (tus-js-client's `overridePatchMethod`), `HEAD` or `DELETE` is that request. Without the header, or with another method, 405.
         */
        post: {
            parameters: {
                query?: never;
                header: {
                    "X-HTTP-Method-Override": "PATCH" | "HEAD" | "DELETE";
                };
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description as HEAD */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description as PATCH or DELETE */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                405: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                410: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                423: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                460: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        /** Terminate a resumable upload */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description its bytes and state deleted (a finished upload's document stays) */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                423: components["responses"]["Problem"];
            };
        };
        options?: never;
        /** Where a resumable upload is */
        head: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description `Upload-Offset`, `Upload-Length`, `Upload-Expires`; `Folio-Document-Id` once it is a document */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                410: components["responses"]["Problem"];
                423: components["responses"]["Problem"];
            };
        };
        /**
         * Send bytes of a resumable upload
         * @description `Content-Type: application/offset+octet-stream`, `Upload-Offset`, optional `Upload-Checksum: sha1|sha256 <base64>`. The answer after the last byte carries `Folio-Document-Id`: the document is recorded and its parse queued. A draining API answers 204 with the offset it kept before the body ends: resume from there.
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/offset+octet-stream": string;
                };
            };
            responses: {
                /** @description `Upload-Offset`; `Folio-Document-Id` when complete */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                400: components["responses"]["Problem"];
                401: components["responses"]["Problem"];
                404: components["responses"]["Problem"];
                409: components["responses"]["Problem"];
                410: components["responses"]["Problem"];
                413: components["responses"]["Problem"];
                415: components["responses"]["Problem"];
                423: components["responses"]["Problem"];
                429: components["responses"]["Problem"];
                460: components["responses"]["Problem"];
                503: components["responses"]["Problem"];
            };
        };
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AppDataPatch: {
            external_id?: string | null;
            metadata?: {
                [key: string]: string | null;
            } | null;
        };
        /** @description the application's data on the document: a flat object of strings, at most 64 keys of 1 to 64 characters A-Z a-z 0-9 _ - ., at most 4 KiB as JSON; Folio never reads it */
        AppMetadata: {
            [key: string]: string;
        };
        DevToken: {
            /** Format: date-time */
            expires_at: string;
            sub: string;
            token: string;
        };
        Document: {
            /** Format: date-time */
            created_at: string;
            /**
             * Format: uuid
             * @description on upload: an earlier document of the same owner with the same bytes
             */
            duplicate_of?: string;
            external_id?: components["schemas"]["ExternalID"];
            failure?: {
                code: string;
                message: string;
            };
            filename: string;
            /** Format: uuid */
            id: string;
            metadata?: components["schemas"]["AppMetadata"];
            /** @description the OCR of pages that only images fill; absent when every page has text */
            ocr?: {
                pages_done: number;
                pages_total: number;
                /**
                 * @description unavailable: the worker that parsed the document has no OCR engine (such pages stay needs_ocr)
                 * @enum {string}
                 */
                status: "pending" | "running" | "done" | "unavailable";
            };
            /** @description the languages OCR reads the scanned pages with, in Tesseract's spelling joined by "+" ("deu", "deu+eng"), among those the deployment has installed (a 400 bad_ocr_languages names them); the deployment's default when not chosen */
            ocr_languages?: string;
            page_count: number | null;
            pages_done: number;
            /** @description pages of this parse that have their thumbnail (or its reason): the rendering stage's progress */
            pages_rendered: number;
            /** @description the last malware scan; absent when the document was never scanned (scanning is off, or it is being scanned) */
            scan?: {
                /** @description what the scanner found (a ClamAV signature name) */
                found?: string;
                /**
                 * @description too_large: longer than the scanner reads (or over one of its limits), let through by the deployment (FOLIO_SCAN_TOO_LARGE=pass); found: quarantined; released: found, then released by an operator
                 * @enum {string}
                 */
                result: "clean" | "too_large" | "found" | "released";
                /** Format: date-time */
                scanned_at: string;
                /** @description the version of the scanner's signature database */
                signatures?: string;
            };
            /** @description The original's SHA-256, hex. Empty for a direct upload (straight to S3) until its parse computed it. */
            sha256: string;
            size_bytes: number;
            /**
             * @description while parsing
             * @enum {string}
             */
            stage?: "reading" | "extracting" | "rendering";
            /**
             * @description scanning: the upload is being scanned for malware (FOLIO_SCAN=clamd), then queued; quarantined: malware was found: never parsed, and nothing of it is served (403 quarantined) until an operator releases it
             * @enum {string}
             */
            status: "scanning" | "queued" | "parsing" | "done" | "failed" | "canceled" | "quarantined";
            summary?: components["schemas"]["Summary"];
            /** Format: date-time */
            updated_at: string;
        };
        DocumentList: {
            documents: components["schemas"]["Document"][];
            next_cursor?: string;
        };
        /** @description The first message of /v1/documents/{id}/events: the document and the seq it reflects. */
        DocumentSnapshot: {
            document: components["schemas"]["Document"];
            /** @description the resume point was older than the retained log */
            replay_truncated?: boolean;
            seq: number;
            /** @constant */
            type: "snapshot";
        };
        /** @description The first message of /v1/events: the caller's newest documents (up to 500) and the log pos they reflect. */
        DocumentsSnapshot: {
            documents: components["schemas"]["Document"][];
            /** @description the head of the owner's log this snapshot reflects (see EventBase.pos) */
            pos: number;
            /** @description the resume point was older than the retained log */
            replay_truncated?: boolean;
            /** @constant */
            type: "snapshot";
        };
        /** @description One entry of a document's event log, by type. */
        Event: (components["schemas"]["EventBase"] & {
            data: {
                external_id?: components["schemas"]["ExternalID"];
                filename?: string;
                metadata?: components["schemas"]["AppMetadata"];
                released?: boolean;
                reparse?: boolean;
                scanning?: boolean;
                size_bytes?: number;
            };
            /** @constant */
            type: "document.queued";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                attempt: number;
                resume_at_page: number;
            };
            /** @constant */
            type: "parse.started";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                pages_done: number;
                pages_total: number;
                /**
                 * @description extracting: pages_done pages have their text; rendering (after extracting): pages_done pages have their thumbnail or its reason; done: the last progress event
                 * @enum {string}
                 */
                stage: "reading" | "extracting" | "rendering" | "done";
            };
            /** @constant */
            type: "parse.progress";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                attempt?: number;
                /** @enum {string} */
                why: "retry" | "draining" | "worker_lost" | "fair_share";
            };
            /** @constant */
            type: "parse.requeued";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                /**
                 * @description pending: an OCR job will read the pages only images fill (ocr.progress and ocr.done follow); unavailable: no OCR engine, they stay needs_ocr. Absent when every page has text.
                 * @enum {string}
                 */
                ocr?: "pending" | "unavailable";
                /** @description how many pages need OCR */
                ocr_pages?: number;
                page_count: number;
                summary: components["schemas"]["Summary"];
            };
            /** @constant */
            type: "document.done";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                code: string;
                message: string;
            };
            /** @constant */
            type: "document.failed";
        }) | (components["schemas"]["EventBase"] & {
            /** @description no fields */
            data: Record<string, never>;
            /** @constant */
            type: "document.canceled";
        }) | (components["schemas"]["EventBase"] & {
            /** @description the application's data the document had */
            data: {
                external_id?: components["schemas"]["ExternalID"];
                metadata?: components["schemas"]["AppMetadata"];
            };
            /** @constant */
            type: "document.deleted";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                pages_done: number;
                pages_total: number;
            };
            /** @constant */
            type: "ocr.progress";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                confidence: number;
                pages_failed: number;
                pages_read: number;
            };
            /** @constant */
            type: "ocr.done";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                /** @enum {string} */
                result: "clean" | "too_large";
                signatures?: string;
            };
            /** @constant */
            type: "scan.done";
        }) | (components["schemas"]["EventBase"] & {
            data: {
                rescan?: boolean;
                signature: string;
                signatures?: string;
            };
            /** @constant */
            type: "document.quarantined";
        }) | (components["schemas"]["EventBase"] & {
            /** @description the document's application data now */
            data: {
                external_id?: components["schemas"]["ExternalID"];
                metadata?: components["schemas"]["AppMetadata"];
            };
            /** @constant */
            type: "document.updated";
        });
        /** @description The envelope every event has. A stream sends one as a websocket text message, or as an SSE event named after its type with the seq (one document) or pos (all documents) as its id. `Event` narrows `data` by `type`. */
        EventBase: {
            /** @description true on a parse.progress event sent in place of its document's progress events just before it, which a stream too far behind skipped: its seq follows a gap of progress events only (state events are never skipped) */
            coalesced?: boolean;
            /** Format: date-time */
            created_at: string;
            /** @description see Event */
            data: unknown;
            /** Format: uuid */
            document_id: string;
            /** @description position in the owner's log: gap-free and in commit order within the owner, from 2^52 + 1 (other owners' activity never shows); resume an all-documents stream with ?after= it */
            pos: number;
            /** @description the document's own sequence, from 1, without gaps */
            seq: number;
            /** @description see Event */
            type: string;
        };
        /** @description the application's own id for the document (at most 255 bytes of text); Folio never reads it */
        ExternalID: string;
        /** @description The information dictionary and key XMP fields; dates are RFC 3339 when they parse. */
        Metadata: {
            author?: string;
            creation_date?: string;
            creator?: string;
            keywords?: string;
            mod_date?: string;
            producer?: string;
            subject?: string;
            title?: string;
            xmp?: {
                dc_creator?: string[];
                dc_description?: string;
                dc_title?: string;
                pdf_producer?: string;
                xmp_create_date?: string;
            };
        };
        OutlineItem: {
            children?: components["schemas"]["OutlineItem"][];
            page?: number;
            title: string;
        };
        Page: {
            height: number;
            number: number;
            /** @description Tesseract's mean word confidence, 0 to 100, on a page read by OCR */
            ocr_confidence?: number;
            /**
             * @description why OCR could not read a needs_ocr page
             * @enum {string}
             */
            ocr_failure?: "render_failed" | "ocr_failed" | "time_limit" | "memory_limit";
            /**
             * @description how far OCR turned the page clockwise to read it (a scan fed sideways or upside down); the page's images are drawn turned the same way. Absent until OCR has read the page
             * @enum {integer}
             */
            ocr_rotation?: 0 | 90 | 180 | 270;
            /** @description Tesseract's orientation confidence; absent when the page read well as it came and its orientation was not asked */
            ocr_rotation_confidence?: number;
            /** @description degrees (counter-clockwise) the page's lines were straightened by before reading */
            ocr_skew?: number;
            rotation: number;
            /**
             * @description where text came from: the page's own text, OCR of its images, or needs_ocr: only images fill the page and no OCR has read it (yet, or ever: see the document's ocr)
             * @enum {string}
             */
            source: "text" | "ocr" | "needs_ocr";
            text: string;
            /** @description the page's 256-pixel-wide image (GET .../pages/{n}/image): its size, or failure when the renderer could not draw the page. Absent until the parse's rendering stage has reached the page (or when rendering is off). */
            thumbnail?: {
                failure?: {
                    /** @enum {string} */
                    code: "page_too_large" | "render_failed" | "time_limit" | "memory_limit" | "no_such_page";
                    message: string;
                };
                height?: number;
                width: number;
            };
            width: number;
        };
        Problem: {
            code: string;
            detail?: string;
            /** @description page_not_rendered only: the page's own reason (page_too_large, time_limit, memory_limit, render_failed) */
            reason?: string;
            status: number;
            title: string;
            type: string;
        };
        /** @description What a done document shows of its parse. */
        Summary: {
            attachments: {
                name: string;
                size: number;
            }[];
            encryption?: {
                key_bits: number;
                permissions: string[];
                revision: number;
                version: number;
            };
            fonts: {
                embedded: boolean;
                name: string;
                type: string;
            }[];
            form_fields: number;
            linearized: boolean;
            metadata: components["schemas"]["Metadata"];
            outline_items: number;
            security_flags: {
                additional_actions: boolean;
                embedded_files: boolean;
                javascript: boolean;
                launch: boolean;
                open_action: boolean;
                uri_count: number;
            };
            signatures: boolean;
            tagged: boolean;
            /** @description PDF version, e.g. 1.7 */
            version: string;
            warnings?: string[];
        };
        Ticket: {
            /** Format: date-time */
            expires_at: string;
            ticket: string;
        };
    };
    responses: {
        /** @description an RFC 9457 problem */
        Problem: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                "application/problem+json": components["schemas"]["Problem"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
