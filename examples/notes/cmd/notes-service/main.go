// Command notes-service is the notes extension's backend, in memory, for
// development and tests:
//
//	GET  /v1/notes?user_id&folder          → {"notes": [{"id", "text"}, ...]}, newest first
//	POST /v1/notes {"user_id", "folder", "text"} → {"id", "text"}
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
)

type note struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

type service struct {
	mu    sync.Mutex
	next  int
	notes map[string][]note // by user and folder
}

func (s *service) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s.mu.Lock()
	notes := slices.Clone(s.notes[q.Get("user_id")+"/"+q.Get("folder")])
	s.mu.Unlock()
	slices.Reverse(notes)
	writeJSON(w, map[string]any{"notes": append([]note{}, notes...)})
}

func (s *service) add(w http.ResponseWriter, r *http.Request) {
	var req struct {
		UserID string `json:"user_id"`
		Folder string `json:"folder"`
		Text   string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.UserID == "" || req.Text == "" {
		http.Error(w, `{"error":"user_id and text are required"}`, http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.next++
	n := note{ID: fmt.Sprintf("n-%04d", s.next), Text: req.Text}
	key := req.UserID + "/" + req.Folder
	s.notes[key] = append(s.notes[key], n)
	s.mu.Unlock()
	writeJSON(w, n)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8082", "listen address")
	flag.Parse()
	s := &service{notes: make(map[string][]note)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/notes", s.list)
	mux.HandleFunc("POST /v1/notes", s.add)
	l, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("notes-service listening on %s", l.Addr())
	log.Fatal(http.Serve(l, mux))
}
