package mailservice

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

const (
	maxDeliver     = 100 // most messages one delivery may carry
	maxFolderBytes = 256 // longest folder name mail can be filed into
)

// deliverRequest is the body of POST /v1/_deliver.
type deliverRequest struct {
	UserID    string             `json:"user_id"`
	AccountID string             `json:"account_id"`
	Folder    string             `json:"folder"`
	Messages  []deliveredMessage `json:"messages"`
}

// deliveredMessage is one message of a deliverRequest.
type deliveredMessage struct {
	From           string `json:"from"`
	Subject        string `json:"subject"`
	Snippet        string `json:"snippet"` // the start of body when empty
	Body           string `json:"body"`    // derived from the id when empty
	Unread         *bool  `json:"unread"`  // true when absent
	Starred        bool   `json:"starred"`
	HasAttachments bool   `json:"has_attachments"`
}

// deliverResponse is the answer of POST /v1/_deliver.
type deliverResponse struct {
	Delivered []string `json:"delivered"` // the new ids, in the order given
}

// deliver serves POST /v1/_deliver, the control endpoint of tests and the
// dev loop for "mail arrives": the messages are filed into folder (the
// inbox by default) in the order given, each newer than every message
// before it and a new thread.
func (s *Service) deliver(w http.ResponseWriter, r *http.Request) {
	var req deliverRequest
	if !decodeBody(w, r, &req) {
		return
	}
	folder, err := req.check()
	if err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	messages := make([]*message, len(req.Messages))
	for i, d := range req.Messages {
		messages[i] = d.message(folder)
	}
	writeJSON(w, http.StatusOK, deliverResponse{Delivered: s.mailbox(req.UserID, req.AccountID).addAll(messages)})
}

// addAll adds messages in order, each newer than the one before, and
// returns their ids.
func (mb *mailbox) addAll(messages []*message) []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	ids := make([]string, len(messages))
	for i, m := range messages {
		mb.add(m)
		ids[i] = m.ID
	}
	return ids
}

// check checks req and returns the canonical folder to deliver into.
func (req deliverRequest) check() (string, error) {
	if err := validateIDs(req.UserID, req.AccountID); err != nil {
		return "", err
	}
	folder := folderInbox
	if req.Folder != "" {
		var err error
		if folder, err = fileFolder("folder", req.Folder); err != nil {
			return "", err
		}
	}
	if len(req.Messages) < 1 || len(req.Messages) > maxDeliver {
		return "", fmt.Errorf("messages: want 1 to %d", maxDeliver)
	}
	for i, d := range req.Messages {
		if err := d.check(); err != nil {
			return "", fmt.Errorf("messages[%d].%w", i, err)
		}
	}
	return folder, nil
}

// check checks one delivered message; its errors start with the field.
func (d deliveredMessage) check() error {
	if strings.TrimSpace(d.From) == "" {
		return errors.New("from is required")
	}
	for _, f := range [...]struct{ name, text string }{{"from", d.From}, {"subject", d.Subject}, {"snippet", d.Snippet}, {"body", d.Body}} {
		if err := checkText(f.name, f.text); err != nil {
			return err
		}
	}
	return nil
}

// message returns d as a message in folder; add gives it its id, thread
// and arrival.
func (d deliveredMessage) message(folder string) *message {
	m := &message{folder: folder, body: d.Body, hasBody: d.Body != ""}
	m.From = d.From
	m.Subject = d.Subject
	m.Snippet = d.Snippet
	if m.Snippet == "" {
		m.Snippet = snippetOf(d.Body, false)
	}
	m.Unread = d.Unread == nil || *d.Unread
	m.Starred = d.Starred
	m.HasAttachments = d.HasAttachments
	return m
}

// fileFolder checks the folder named field that mail is to be filed into
// (a move's to_folder, a delivery's folder) and returns its canonical
// name: a system folder or a custom one, not a virtual one.
func fileFolder(field, name string) (string, error) {
	switch {
	case strings.TrimSpace(name) == "":
		return "", fmt.Errorf("%s is required", field)
	case len(name) > maxFolderBytes:
		return "", fmt.Errorf("%s is longer than %d bytes", field, maxFolderBytes)
	}
	folder := canonicalFolder(name)
	if isVirtual(folder) {
		return "", fmt.Errorf("%s: %s and %s are virtual folders: nothing can be filed into them", field, folderStarred, folderAllMail)
	}
	return folder, nil
}
