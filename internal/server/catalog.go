package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/imperalcloud/exthost/runtime"
)

// catalog holds the read-only answers, encoded once: the extensions are
// sealed when the dispatcher is built, so these never change.
type catalog struct {
	extensions []byte
	manifests  map[string][]byte
	tools      []byte
	openai     []byte
}

func newCatalog(exts []*runtime.Extension) catalog {
	summaries := make([]runtime.ExtensionSummary, len(exts))
	c := catalog{manifests: make(map[string][]byte, len(exts))}
	for i, ext := range exts {
		summaries[i] = runtime.Summarize(ext)
		c.manifests[ext.AppID()] = mustEncode(runtime.NewManifest(ext))
	}
	c.extensions = mustEncode(map[string]any{"extensions": summaries})
	tools := runtime.NewCatalog(exts)
	c.tools = mustEncode(tools)
	c.openai = mustEncode(tools.OpenAITools())
	return c
}

// mustEncode encodes declarations, which are plain data: a failure is a bug.
func mustEncode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic("server: encode catalog: " + err.Error())
	}
	return buf.Bytes()
}

func (s *Server) listExtensions(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, s.catalog.extensions)
}

func (s *Server) manifest(c echo.Context) error {
	m, ok := s.catalog.manifests[c.Param("app")]
	if !ok {
		return s.reject(c, http.StatusNotFound, runtime.CodeUnknownTool, "Tool not available: "+c.Param("app"))
	}
	return c.JSONBlob(http.StatusOK, m)
}

func (s *Server) tools(c echo.Context) error {
	switch c.QueryParam("format") {
	case "":
		return c.JSONBlob(http.StatusOK, s.catalog.tools)
	case "openai":
		return c.JSONBlob(http.StatusOK, s.catalog.openai)
	}
	return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, `Unknown format; use "openai" or none.`)
}
