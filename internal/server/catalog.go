package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/imperalcloud/exthost/internal/catalog"
	"github.com/imperalcloud/exthost/runtime"
)

// answers holds the read-only answers, encoded once: the extensions are
// sealed when the dispatcher is built, so these never change.
type answers struct {
	extensions []byte
	manifests  map[string][]byte
	tools      []byte
	openai     []byte
	mcp        []byte
}

func newAnswers(exts []*runtime.Extension) (answers, error) {
	summaries := make([]catalog.ExtensionSummary, len(exts))
	c := answers{manifests: make(map[string][]byte, len(exts))}
	for i, ext := range exts {
		summaries[i] = catalog.Summarize(ext)
		c.manifests[ext.AppID()] = mustEncode(catalog.NewManifest(ext))
	}
	c.extensions = mustEncode(map[string]any{"extensions": summaries})
	tools := catalog.NewCatalog(exts)
	c.tools = mustEncode(tools)
	c.openai = mustEncode(tools.OpenAITools())
	mcpTools, err := catalog.MCPTools(exts)
	if err != nil {
		return answers{}, err
	}
	c.mcp = mustEncode(map[string]any{"tools": mcpTools})
	return c, nil
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
	return c.JSONBlob(http.StatusOK, s.answers.extensions)
}

func (s *Server) manifest(c echo.Context) error {
	m, ok := s.answers.manifests[c.Param("app")]
	if !ok {
		_, err := s.d.Lookup(c.Param("app"), "")
		return s.rejectLookup(c, err)
	}
	return c.JSONBlob(http.StatusOK, m)
}

func (s *Server) tools(c echo.Context) error {
	switch c.QueryParam("format") {
	case "":
		return c.JSONBlob(http.StatusOK, s.answers.tools)
	case "openai":
		return c.JSONBlob(http.StatusOK, s.answers.openai)
	case "mcp":
		return c.JSONBlob(http.StatusOK, s.answers.mcp)
	}
	return s.reject(c, http.StatusBadRequest, runtime.CodeBadRequest, `Unknown format; use "openai", "mcp" or none.`)
}
