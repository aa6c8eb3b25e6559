package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/foliohq/folio/documents"
	"github.com/foliohq/folio/internal/ratelimit"
	"github.com/foliohq/folio/uploads"
)

// maxSignBody bounds the JSON of the direct-upload endpoints.
const maxSignBody = 16 << 10

// directCreate handles POST /v1/direct-uploads: a direct-to-S3 upload of
// {filename, size}. The answer has the key Folio chose and a presigned
// URL for its CreateMultipartUpload.
func (s *Server) directCreate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Filename     string          `json:"filename"`
		Size         int64           `json:"size"`
		OCRLanguages string          `json:"ocr_languages"`
		ExternalID   *string         `json:"external_id"`
		Metadata     json.RawMessage `json:"metadata"`
	}
	if p := decodeBody(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	ocrLanguages, p := s.ocrLanguages(in.OCRLanguages)
	if p != nil {
		writeProblem(w, p)
		return
	}
	app, p := s.appDataOf(in.ExternalID, in.Metadata)
	if p != nil {
		writeProblem(w, p)
		return
	}
	owner := ownerOf(r.Context())
	if p := s.limit(r.Context(), owner, ratelimit.Upload, s.Limits.UploadRateLimit, s.Limits.UploadRateWindow, "uploads"); p != nil {
		writeProblem(w, p)
		return
	}
	up, err := s.direct.Create(r.Context(), owner, uploads.DirectOptions{Filename: sanitizeFilename(in.Filename),
		OCRLanguages: ocrLanguages, AppData: app}, in.Size)
	if err != nil {
		s.writeDirectError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, up)
}

// directSign handles POST /v1/direct-uploads/sign: Uppy's signRequest
// ({method, key, uploadId, partNumber}) for a key of the caller's; the
// answer is {url}.
func (s *Server) directSign(w http.ResponseWriter, r *http.Request) {
	var in uploads.SignRequest
	if p := decodeBody(w, r, &in); p != nil {
		writeProblem(w, p)
		return
	}
	u, err := s.direct.Sign(r.Context(), ownerOf(r.Context()), in)
	if err != nil {
		s.writeDirectError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"url": u})
}

// directFinalize handles POST /v1/direct-uploads/{id}/finalize: the
// checks, then the document and its parse job.
func (s *Server) directFinalize(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeProblem(w, problem(http.StatusNotFound, "no_such_upload", "No such direct upload."))
		return
	}
	doc, err := s.direct.Finalize(r.Context(), ownerOf(r.Context()), id)
	if err != nil {
		s.writeDirectError(w, err)
		return
	}
	s.uploads.WithLabelValues("created").Inc()
	s.bytes.Add(float64(doc.SizeBytes))
	w.Header().Set("Location", "/v1/documents/"+doc.ID.String())
	writeJSON(w, http.StatusCreated, doc)
}

func (s *Server) writeDirectError(w http.ResponseWriter, err error) {
	var p *Problem
	switch {
	case errors.Is(err, uploads.ErrDirectTooLarge):
		p = tooLarge(s.Limits.MaxUploadBytes)
	case errors.Is(err, uploads.ErrDirectEmpty):
		p = problem(http.StatusBadRequest, "empty_file", "The file is empty (size must be at least 1 byte).")
	case errors.Is(err, uploads.ErrDirectTooMany):
		p = problem(http.StatusTooManyRequests, "too_many_pending",
			fmt.Sprintf("At most %d direct uploads may wait to be finalized; finalize or let some expire.", s.Limits.DirectMaxPending))
	case errors.Is(err, uploads.ErrDirectQuota):
		p = overQuota(s.Limits.OwnerQuotaBytes)
	case errors.Is(err, uploads.ErrDirectNotFound):
		p = problem(http.StatusNotFound, "no_such_upload", "No such direct upload (or it expired).")
	case errors.Is(err, uploads.ErrDirectForbidden):
		p = problem(http.StatusForbidden, "request_not_signed",
			"Only the multipart requests of a direct upload are signed: list parts (GET), a part (PUT, 1-10000), complete (POST), abort (DELETE), each with its uploadId.")
	case errors.Is(err, uploads.ErrDirectUploadID):
		p = problem(http.StatusForbidden, "bad_upload_id", "That uploadId is not the multipart upload made on this key.")
	case errors.Is(err, uploads.ErrDirectIncomplete):
		p = problem(http.StatusConflict, "upload_incomplete", "The object is not complete yet: complete the multipart upload first.")
	case errors.Is(err, uploads.ErrDirectNotPDF):
		p = problem(http.StatusUnsupportedMediaType, "not_pdf", "The file is not a PDF: no %PDF- signature in its first 1024 bytes. It was deleted.")
	case errors.Is(err, uploads.ErrDirectPastSize):
		p = problem(http.StatusRequestEntityTooLarge, "past_declared_size",
			"That part lies past the size declared at creation: a direct upload stores no more than it declared (parts of part_size bytes).")
	case errors.Is(err, uploads.ErrDirectSizeMismatch):
		p = problem(http.StatusRequestEntityTooLarge, "larger_than_declared", "The object is larger than the size declared (or the upload limit). It was deleted.")
	default:
		var limited *uploads.RateLimitedError
		if errors.As(err, &limited) {
			p = s.problemFor(err)
			break
		}
		s.Logger.Error("direct upload", "err", err)
		p = errStorage
	}
	writeProblem(w, p)
}

// decodeBody reads a small JSON body into v.
// appDataOf reads application data from a JSON body: external_id, and
// metadata as an object of strings (null: none), then checks it.
func (s *Server) appDataOf(externalID *string, raw json.RawMessage) (documents.AppData, *Problem) {
	var a documents.AppData
	if externalID != nil {
		a.ExternalID = *externalID
	}
	m, p := metadataObject(raw, false)
	if p != nil {
		return documents.AppData{}, p
	}
	for k, v := range m {
		if a.Metadata == nil {
			a.Metadata = map[string]string{}
		}
		a.Metadata[k] = *v
	}
	if err := a.Check(); err != nil {
		return documents.AppData{}, s.problemFor(err)
	}
	return a, nil
}

// metadataObject decodes a JSON metadata object (absent or null: nil)
// whose values are strings, or null where nulls is set (a PATCH's
// removals).
func metadataObject(raw json.RawMessage, nulls bool) (map[string]*string, *Problem) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, problem(http.StatusBadRequest, "bad_metadata", "metadata must be a flat JSON object of strings.")
	}
	out := make(map[string]*string, len(fields))
	for k, v := range fields {
		if string(v) == "null" && nulls {
			out[k] = nil
			continue
		}
		var str string
		if err := json.Unmarshal(v, &str); err != nil {
			return nil, problem(http.StatusBadRequest, "bad_metadata", fmt.Sprintf("metadata %q must be a string, not %s.", k, jsonKind(v)))
		}
		out[k] = &str
	}
	return out, nil
}

// jsonKind names the kind of a JSON value.
func jsonKind(v json.RawMessage) string {
	switch c := bytes.TrimSpace(v); {
	case len(c) == 0:
		return "nothing"
	case c[0] == '{':
		return "an object"
	case c[0] == '[':
		return "an array"
	case c[0] == 'n':
		return "null"
	case c[0] == 't' || c[0] == 'f':
		return "a boolean"
	default:
		return "a number"
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) *Problem {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSignBody))
	if err := dec.Decode(v); err != nil {
		return problem(http.StatusBadRequest, "bad_json", "The body must be a JSON object: "+err.Error())
	}
	return nil
}
