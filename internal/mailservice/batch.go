package mailservice

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Batch operations: the one op of a batch request's "ops".
const (
	opArchive = "archive" // move to the archive (out of the inbox)
	opDelete  = "delete"  // move to the trash
	opRead    = "read"    // mark read
	opUnread  = "unread"  // mark unread
	opPurge   = "purge"   // remove for good, from the trash unless from_folder says otherwise
	opStar    = "star"    // star
	opUnstar  = "unstar"  // unstar
	opMove    = "move"    // move to to_folder, created when it is a new custom folder
)

// batchOps lists the operations, in the order error messages name them.
var batchOps = [...]string{opArchive, opDelete, opRead, opUnread, opPurge, opStar, opUnstar, opMove}

// Errors of a batch's "failed" entries.
const (
	failNotFound    = "not_found"     // no message with the id in the mailbox
	failNotInFolder = "not_in_folder" // the message is not in the folder the op is limited to
)

const (
	maxBatchIDs     = 200  // most ids a batch may give
	defaultQueryMax = 1000 // messages a batch by query changes when it gives no max
	maxQueryMax     = 1000 // largest max a batch by query may give
)

// batchOp is what both batch bodies say: whose mailbox, which op, the
// folder it is limited to, and the folder move moves to.
type batchOp struct {
	UserID     string   `json:"user_id"`
	AccountID  string   `json:"account_id"`
	Ops        []string `json:"ops"`
	FromFolder string   `json:"from_folder"`
	ToFolder   string   `json:"to_folder,omitempty"` // move only; other ops ignore it
}

// action is a batch's op, checked, with the canonical folder move moves
// to.
type action struct {
	op, to string
}

// batchRequest is the body of POST /v1/messages/batch.
type batchRequest struct {
	batchOp
	IDs []string `json:"ids"`
}

// batchQueryRequest is the body of POST /v1/messages/batch-by-query.
type batchQueryRequest struct {
	batchOp
	Q   string `json:"q"`
	Max *int   `json:"max"`
}

// decodeBatch reads a batch body into req and returns its one action; on
// failure it has answered and returns false.
func decodeBatch(w http.ResponseWriter, r *http.Request, req any, common *batchOp) (action, bool) {
	if !decodeBody(w, r, req) {
		return action{}, false
	}
	if err := validateIDs(common.UserID, common.AccountID); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return action{}, false
	}
	op, err := parseOps(common.Ops)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return action{}, false
	}
	a := action{op: op}
	if op == opMove {
		if a.to, err = fileFolder("to_folder", common.ToFolder); err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, err.Error())
			return action{}, false
		}
	}
	return a, true
}

// batchResponse is the answer of POST /v1/messages/batch.
type batchResponse struct {
	Succeeded int            `json:"succeeded"`
	Total     int            `json:"total"`
	Failed    []batchFailure `json:"failed"`
}

// batchFailure is one id a batch did not apply its op to.
type batchFailure struct {
	ID    string `json:"id"`
	Error string `json:"error"`
}

// batchQueryResponse is the answer of POST /v1/messages/batch-by-query.
type batchQueryResponse struct {
	batchResponse
	Matched int `json:"matched"`
}

// batch serves POST /v1/messages/batch: one op on up to maxBatchIDs
// messages by id.
func (s *Service) batch(w http.ResponseWriter, r *http.Request) {
	var req batchRequest
	a, ok := decodeBatch(w, r, &req, &req.batchOp)
	if !ok {
		return
	}
	if len(req.IDs) > maxBatchIDs {
		writeError(w, http.StatusBadRequest, codeValidation, fmt.Sprintf("ids: at most %d", maxBatchIDs))
		return
	}
	resp := s.mailbox(req.UserID, req.AccountID).applyIDs(a, opScope(a.op, req.FromFolder), req.IDs)
	writeJSON(w, http.StatusOK, resp)
}

// batchByQuery serves POST /v1/messages/batch-by-query: one op on the
// newest max messages that match q.
func (s *Service) batchByQuery(w http.ResponseWriter, r *http.Request) {
	var req batchQueryRequest
	a, ok := decodeBatch(w, r, &req, &req.batchOp)
	if !ok {
		return
	}
	limit := defaultQueryMax
	if req.Max != nil {
		if *req.Max < 1 || *req.Max > maxQueryMax {
			writeError(w, http.StatusBadRequest, codeValidation, fmt.Sprintf("max: want an integer from 1 to %d", maxQueryMax))
			return
		}
		limit = *req.Max
	}
	if strings.TrimSpace(req.Q) == "" {
		writeError(w, http.StatusBadRequest, codeValidation, "q is required")
		return
	}
	q, err := parseQuery(req.Q, s.now())
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	resp := s.mailbox(req.UserID, req.AccountID).applyQuery(a, q.and(opScope(a.op, req.FromFolder)), limit)
	writeJSON(w, http.StatusOK, resp)
}

// decodeBody reads a POST body into v; on failure it has answered and
// returns false.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := decodeJSON(http.MaxBytesReader(w, r.Body, maxBodyBytes), v); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return false
	}
	return true
}

// parseOps returns the one op of ops.
func parseOps(ops []string) (string, error) {
	if len(ops) != 1 {
		return "", fmt.Errorf("ops: want exactly one op, got %d", len(ops))
	}
	if !slices.Contains(batchOps[:], ops[0]) {
		return "", fmt.Errorf("ops: want one of %s", strings.Join(batchOps[:], ", "))
	}
	return ops[0], nil
}

// opScope returns the folder op is limited to: from when given, else the
// trash for purge, else none ("").
func opScope(op, from string) string {
	switch {
	case from != "":
		return canonicalFolder(from)
	case op == opPurge:
		return folderTrash
	}
	return ""
}

// applyIDs applies a to the messages with the given ids that are in
// scope (any folder when scope is ""). An id given twice counts once.
func (mb *mailbox) applyIDs(a action, scope string, ids []string) batchResponse {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	resp := batchResponse{Failed: []batchFailure{}}
	seen := make(map[string]bool, len(ids))
	purged := false
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		resp.Total++
		m, ok := mb.byID[id]
		switch {
		case !ok:
			resp.Failed = append(resp.Failed, batchFailure{ID: id, Error: failNotFound})
		case scope != "" && !m.in(scope):
			resp.Failed = append(resp.Failed, batchFailure{ID: id, Error: failNotInFolder})
		default:
			mb.apply(a, m)
			purged = purged || a.op == opPurge
			resp.Succeeded++
		}
	}
	if purged {
		mb.dropPurged()
	}
	return resp
}

// applyQuery applies a to the newest limit messages that match q.
func (mb *mailbox) applyQuery(a action, q query, limit int) batchQueryResponse {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	var picked []*message
	matched := 0
	for _, m := range mb.messages {
		if q.match(m) {
			matched++
			if len(picked) < limit {
				picked = append(picked, m)
			}
		}
	}
	for _, m := range picked {
		mb.apply(a, m)
	}
	if a.op == opPurge && len(picked) > 0 {
		mb.dropPurged()
	}
	return batchQueryResponse{
		batchResponse: batchResponse{Succeeded: len(picked), Total: len(picked), Failed: []batchFailure{}},
		Matched:       matched,
	}
}

// apply applies a to m; a purged message leaves byID at once and
// messages at the next dropPurged. mb.mu must be held.
func (mb *mailbox) apply(a action, m *message) {
	switch a.op {
	case opArchive:
		m.folder = folderArchive
	case opDelete:
		m.folder = folderTrash
	case opRead:
		m.Unread = false
	case opUnread:
		m.Unread = true
	case opPurge:
		delete(mb.byID, m.ID)
	case opStar:
		m.Starred = true
	case opUnstar:
		m.Starred = false
	case opMove:
		m.folder = a.to
	}
}

// dropPurged removes from messages those no longer in byID. mb.mu must be
// held.
func (mb *mailbox) dropPurged() {
	mb.messages = slices.DeleteFunc(mb.messages, func(m *message) bool { return mb.byID[m.ID] != m })
}
