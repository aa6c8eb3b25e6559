package api

import (
	_ "embed"
	"net/http"
)

// openAPI is the API's description (OpenAPI 3.1). A test keeps it and the
// router in step.
//
//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
