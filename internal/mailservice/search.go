package mailservice

import (
	"net/http"
	"strconv"
	"time"
)

const (
	defaultSearchLimit = 50  // results of a search that gives no limit
	maxSearchLimit     = 200 // largest limit a search may give
)

// now is the service's clock, the instant newer_than and older_than count
// back from: the arrival time the generated mailboxes count back from, so
// that a query means the same in every process and on every day.
func (s *Service) now() time.Time { return baseTime() }

// searchResponse is the answer of GET /v1/search.
type searchResponse struct {
	Results []Message `json:"results"`
	Total   int       `json:"total"`
}

// search serves GET /v1/search: the first limit messages of the mailbox,
// in every folder or in folder, that match q, newest first unless
// oldest_first; total counts every match.
func (s *Service) search(w http.ResponseWriter, r *http.Request) {
	params := r.URL.Query()
	user, account := params.Get("user_id"), params.Get("account_id")
	if err := validateIDs(user, account); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	limit, err := intParam(params.Get("limit"), defaultSearchLimit, 1, maxSearchLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "limit: "+err.Error())
		return
	}
	oldestFirst := false
	if raw := params.Get("oldest_first"); raw != "" {
		if oldestFirst, err = strconv.ParseBool(raw); err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, "oldest_first: want true or false")
			return
		}
	}
	q, err := parseQuery(params.Get("q"), s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	results, total := s.mailbox(user, account).search(q.and(params.Get("folder")), limit, oldestFirst)
	writeJSON(w, http.StatusOK, searchResponse{Results: results, Total: total})
}

// search returns the first limit messages that match q, newest first or
// oldest first, and the number of messages that match.
func (mb *mailbox) search(q query, limit int, oldestFirst bool) (results []Message, total int) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	results = []Message{}
	n := len(mb.messages)
	for i := range n {
		m := mb.messages[i]
		if oldestFirst {
			m = mb.messages[n-1-i]
		}
		if !q.match(m) {
			continue
		}
		if len(results) < limit {
			results = append(results, m.wire())
		}
		total++
	}
	return results, total
}
