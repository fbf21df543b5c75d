package mailservice

import (
	"net/http"
	"strings"
)

// route is one endpoint of the service.
type route struct {
	// pattern is the path, in http.ServeMux's syntax without the method: a
	// "{name}" segment matches any one non-empty segment, its value then
	// read with Request.PathValue. It is also the endpoint's key in
	// Requests(), so every message id counts under one key.
	pattern string
	method  string // the method it takes; a GET route takes HEAD too
	handle  func(*Service, http.ResponseWriter, *http.Request)
}

// routes lists the endpoints, one row per pattern and method. The first
// pattern that matches wins, so the fixed paths under /v1/messages/ come
// before "{id}"; the rows of one pattern are adjacent. The router is
// this table rather than an http.ServeMux because the mux answers unknown
// paths and wrong methods in plain text, and redirects unclean paths,
// where the service answers its error shape.
var routes = [...]route{
	{"/v1/inbox", http.MethodGet, (*Service).inbox},
	{"/v1/unread", http.MethodGet, (*Service).unread},
	{"/v1/accounts", http.MethodGet, (*Service).accountList},
	{"/v1/folders", http.MethodGet, (*Service).folderList},
	{"/v1/counts", http.MethodGet, (*Service).counts},
	{"/v1/search", http.MethodGet, (*Service).search},
	{"/v1/send", http.MethodPost, (*Service).send},
	{"/v1/_deliver", http.MethodPost, (*Service).deliver},
	{"/v1/_faults", http.MethodGet, (*Service).getFaults},
	{"/v1/_faults", http.MethodPut, (*Service).putFaults},
	{"/v1/_sent", http.MethodGet, (*Service).sentList},
	{"/v1/messages/archive", http.MethodPost, (*Service).archive},
	{"/v1/messages/mark_read", http.MethodPost, (*Service).markRead},
	{"/v1/messages/batch", http.MethodPost, (*Service).batch},
	{"/v1/messages/batch-by-query", http.MethodPost, (*Service).batchByQuery},
	{"/v1/messages/{id}", http.MethodGet, (*Service).messageDetail},
	{"/v1/messages/{id}/reply", http.MethodPost, (*Service).reply},
}

// findRoute returns the route of r's path, the row of its pattern that
// takes r's method when there is one (else the first row, which does not),
// and sets r's path values from its wildcards; ok is false when no route
// matches.
func findRoute(r *http.Request) (rt route, ok bool) {
	for i, rt := range routes {
		values, ok := matchPattern(rt.pattern, r.URL.Path)
		if !ok {
			continue
		}
		// Only rows of the same pattern: a wrong method on a fixed path is
		// 405, never the "{id}" route below it.
		for _, other := range routes[i:] {
			if other.pattern != rt.pattern {
				break
			}
			if other.allows(r.Method) {
				rt = other
				break
			}
		}
		for name, value := range values {
			r.SetPathValue(name, value)
		}
		return rt, true
	}
	return route{}, false
}

// allowed returns the methods the rows of pattern take, for an Allow
// header: "GET, PUT".
func allowed(pattern string) string {
	var methods []string
	for _, rt := range routes {
		if rt.pattern == pattern {
			methods = append(methods, rt.method)
		}
	}
	return strings.Join(methods, ", ")
}

// matchPattern reports whether path matches pattern segment by segment,
// and returns the values of pattern's "{name}" segments.
func matchPattern(pattern, path string) (map[string]string, bool) {
	if !strings.Contains(pattern, "{") {
		return nil, path == pattern
	}
	want, got := strings.Split(pattern, "/"), strings.Split(path, "/")
	if len(want) != len(got) {
		return nil, false
	}
	values := map[string]string{}
	for i, seg := range want {
		if name, ok := strings.CutPrefix(seg, "{"); ok && got[i] != "" {
			values[strings.TrimSuffix(name, "}")] = got[i]
		} else if seg != got[i] {
			return nil, false
		}
	}
	return values, true
}

// allows reports whether rt takes method.
func (rt route) allows(method string) bool {
	return method == rt.method || rt.method == http.MethodGet && method == http.MethodHead
}
