package mailservice

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
)

// MessageDetail is one message in full, the answer of GET
// /v1/messages/{id}. Field order is the order of the keys in its JSON.
type MessageDetail struct {
	ID       string `json:"id"`
	ThreadID string `json:"thread_id"`
	From     string `json:"from"`
	// To is the recipients, comma-separated; "Me <me@mail.example.com>"
	// for received mail.
	To string `json:"to"`
	Cc string `json:"cc"`
	// Subject and Date are as in Message.
	Subject string `json:"subject"`
	Date    string `json:"date"`
	// Body is the whole body, in BodyType: "text" or "html".
	Body     string `json:"body"`
	BodyType string `json:"body_type"`
	// Unread, Starred and HasAttachments are as in Message.
	Unread         bool `json:"unread"`
	Starred        bool `json:"starred"`
	HasAttachments bool `json:"has_attachments"`
	// Folder is the folder the message is filed in; Labels holds it too.
	Folder string   `json:"folder"`
	Labels []string `json:"labels"`
	// MessageIDHeader is the Message-ID header, "<id.account@mail.example.com>".
	MessageIDHeader string `json:"message_id_header"`
	// Attachments lists the files, empty unless HasAttachments.
	Attachments []Attachment `json:"attachments"`
}

// Attachment is one file of a MessageDetail.
type Attachment struct {
	ID        string `json:"id"` // "a1", "a2", … within the message
	Filename  string `json:"filename"`
	SizeBytes int    `json:"size_bytes"`
	MimeType  string `json:"mime_type"`
}

// Body types.
const (
	bodyText = "text"
	bodyHTML = "html"
)

// messageDetail serves GET /v1/messages/{id}: one message in full, marked
// read first when mark_read is true.
func (s *Service) messageDetail(w http.ResponseWriter, r *http.Request) {
	user, account, ok := queryIDs(w, r)
	if !ok {
		return
	}
	markRead := false
	if raw := r.URL.Query().Get("mark_read"); raw != "" {
		var err error
		if markRead, err = strconv.ParseBool(raw); err != nil {
			writeError(w, http.StatusBadRequest, codeValidation, "mark_read: want true or false")
			return
		}
	}
	d, ok := s.mailbox(user, account).detail(r.PathValue("id"), markRead, addressLabel(account, "account"))
	if !ok {
		writeError(w, http.StatusNotFound, codeNotFound, errNoMessage)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// errNoMessage answers an id that is not in the mailbox, without naming it.
const errNoMessage = "no such message in this mailbox"

// detail returns the message id in full, marked read first when markRead;
// ok is false when the mailbox has no such message. accountLabel names the
// account in the Message-ID header.
func (mb *mailbox) detail(id string, markRead bool, accountLabel string) (d MessageDetail, ok bool) {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	m, ok := mb.byID[id]
	if !ok {
		return MessageDetail{}, false
	}
	if markRead {
		m.Unread = false
	}
	d = MessageDetail{
		ID:              m.ID,
		ThreadID:        m.ThreadID,
		From:            m.From,
		To:              m.recipients(),
		Cc:              m.cc,
		Subject:         m.Subject,
		Date:            m.Date,
		Body:            m.body,
		BodyType:        bodyText,
		Unread:          m.Unread,
		Starred:         m.Starred,
		HasAttachments:  m.HasAttachments,
		Folder:          m.folder,
		Labels:          []string{m.folder},
		MessageIDHeader: "<" + m.ID + "." + accountLabel + "@mail.example.com>",
		Attachments:     []Attachment{},
	}
	if m.html {
		d.BodyType = bodyHTML
	}
	if !m.hasBody {
		d.Body = generatedBody(m)
	}
	if m.HasAttachments {
		d.Attachments = generatedAttachments(m.ID)
	}
	return d, true
}

// detailRand returns a random source for one part (purpose) of the
// details of the message id. The details are derived from the id rather
// than drawn from the mailbox's source, which would change every message
// generated after them; one source per part keeps the parts independent.
func detailRand(purpose, id string) *rand.Rand { return newRand(purpose, id) }

// recipients returns m's To: what its send gave, else a recipient derived
// from its id for mail of mine (sent, drafts), else me.
func (m *message) recipients() string {
	switch {
	case m.to != "":
		return m.to
	case m.From == me:
		return senders[detailRand("to", m.ID).IntN(len(senders))]
	}
	return me
}

// generatedBody returns the body of a message that was not given one: its
// snippet, two or three sentences picked by its id, and a sign-off with
// the sender's name.
func generatedBody(m *message) string {
	r := detailRand("body", m.ID)
	picked := r.Perm(len(bodySentences))[:2+r.IntN(2)]
	sentences := make([]string, len(picked))
	for i, n := range picked {
		sentences[i] = bodySentences[n]
	}
	signOff := signOffs[r.IntN(len(signOffs))]
	return m.Snippet + "\n\n" + strings.Join(sentences, " ") + "\n\n" + signOff + ",\n" + senderName(m.From)
}

// senderName returns the name of "Name <address>", or all of from when it
// has no address part.
func senderName(from string) string {
	if name, _, ok := strings.Cut(from, "<"); ok && strings.TrimSpace(name) != "" {
		return strings.TrimSpace(name)
	}
	return from
}

// generatedAttachments returns the one or two attachments of the message
// id.
func generatedAttachments(id string) []Attachment {
	r := detailRand("attachments", id)
	picked := r.Perm(len(attachmentKinds))[:1+r.IntN(2)]
	out := make([]Attachment, len(picked))
	for i, n := range picked {
		kind := attachmentKinds[n]
		out[i] = Attachment{
			ID:        fmt.Sprintf("a%d", i+1),
			Filename:  kind.filename,
			SizeBytes: kind.minBytes + r.IntN(kind.maxBytes-kind.minBytes+1),
			MimeType:  kind.mimeType,
		}
	}
	return out
}

// The tables below are the raw material of the derived details. Like the
// tables of data.go, changing an entry changes every message's details.

// bodySentences fill the middle of a generated body.
var bodySentences = [...]string{
	"Let me know if you have any questions.",
	"I've copied the rest of the team for visibility.",
	"Happy to jump on a call if that's easier.",
	"No rush on this, next week is fine.",
	"The details are in the shared folder.",
	"Thanks again for your help with this.",
	"I'll follow up once I hear back from the others.",
	"Please treat this as a draft for now.",
	"Shout if anything looks off.",
	"We can go over it in the next sync.",
}

// signOffs close a generated body, before the sender's name.
var signOffs = [...]string{"Best", "Thanks", "Cheers", "Kind regards", "All the best"}

// attachmentKind is a file a generated attachment can be.
type attachmentKind struct {
	filename, mimeType string
	minBytes, maxBytes int
}

// attachmentKinds are the files of generated attachments.
var attachmentKinds = [...]attachmentKind{
	{"invoice.pdf", "application/pdf", 20 << 10, 400 << 10},
	{"report.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 15 << 10, 2 << 20},
	{"photo.jpg", "image/jpeg", 200 << 10, 6 << 20},
	{"notes.txt", "text/plain", 1 << 10, 40 << 10},
	{"slides.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", 500 << 10, 12 << 20},
	{"contract.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 30 << 10, 1 << 20},
	{"screenshot.png", "image/png", 50 << 10, 3 << 20},
	{"logs.zip", "application/zip", 100 << 10, 8 << 20},
}
