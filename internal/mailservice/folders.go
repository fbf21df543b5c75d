package mailservice

import (
	"net/http"
	"slices"
	"time"
)

// systemFolder is a folder every mailbox has, as GET /v1/folders lists it.
type systemFolder struct{ key, name string }

// systemFolders are the folders GET /v1/folders lists first, in its order.
// "[Gmail]/All Mail" is left out: it lists the others again.
var systemFolders = [...]systemFolder{
	{folderInbox, "Inbox"},
	{folderSent, "Sent"},
	{folderDrafts, "Drafts"},
	{folderSpam, "Spam"},
	{folderTrash, "Trash"},
	{folderStarred, "Starred"},
	{folderArchive, "Archive"},
}

// foldersResponse is the answer of GET /v1/folders.
type foldersResponse struct {
	Folders []folderInfo `json:"folders"`
}

// folderInfo is one entry of foldersResponse.
type folderInfo struct {
	Key    string `json:"key"`    // the folder's canonical name, as requests give it
	Name   string `json:"name"`   // the name to show
	System bool   `json:"system"` // false for custom folders
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
}

// folderList serves GET /v1/folders: the system folders, then the custom
// folders that hold messages, sorted by name.
func (s *Service) folderList(w http.ResponseWriter, r *http.Request) {
	user, account, ok := queryIDs(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, foldersResponse{Folders: s.mailbox(user, account).folders()})
}

// folders returns the mailbox's folders as GET /v1/folders lists them.
func (mb *mailbox) folders() []folderInfo {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	out := make([]folderInfo, 0, len(systemFolders))
	for _, f := range systemFolders {
		out = append(out, folderInfo{Key: f.key, Name: f.name, System: true})
	}
	custom := map[string]*folderInfo{}
	for _, m := range mb.messages {
		for i := range out {
			if m.in(out[i].Key) {
				out[i].add(m)
			}
		}
		if !isSystemFolder(m.folder) {
			f := custom[m.folder]
			if f == nil {
				f = &folderInfo{Key: m.folder, Name: m.folder}
				custom[m.folder] = f
			}
			f.add(m)
		}
	}
	names := make([]string, 0, len(custom))
	for name := range custom {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		out = append(out, *custom[name])
	}
	return out
}

// add counts m in f.
func (f *folderInfo) add(m *message) {
	f.Total++
	if m.Unread {
		f.Unread++
	}
}

// isSystemFolder reports whether folder (canonical) is one every mailbox
// has rather than a custom one.
func isSystemFolder(folder string) bool {
	return folder == folderAllMail || slices.ContainsFunc(systemFolders[:], func(f systemFolder) bool { return f.key == folder })
}

// countsResponse is the answer of GET /v1/counts.
type countsResponse struct {
	Total      int `json:"total"`       // every message of the mailbox
	InboxTotal int `json:"inbox_total"` // the messages of the inbox
	Unread     int `json:"unread"`      // the unread messages of the inbox
	Spam       int `json:"spam"`        // the messages of the spam folder
	Archive    int `json:"archive"`     // the messages of the archive
	Today      int `json:"today"`       // the messages that arrived in the last 24 h
}

// counts serves GET /v1/counts: the sizes of a mailbox at a glance.
func (s *Service) counts(w http.ResponseWriter, r *http.Request) {
	user, account, ok := queryIDs(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, s.mailbox(user, account).counts(s.now().Add(-24*time.Hour)))
}

// counts returns the mailbox's counts; today counts the messages that
// arrived after since. Mail delivered after the service's clock counts
// as today's too, as newer_than:1d finds it: the clock stands still while
// mail arrives.
func (mb *mailbox) counts(since time.Time) countsResponse {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	resp := countsResponse{Total: len(mb.messages)}
	for _, m := range mb.messages {
		switch m.folder {
		case folderInbox:
			resp.InboxTotal++
			if m.Unread {
				resp.Unread++
			}
		case folderSpam:
			resp.Spam++
		case folderArchive:
			resp.Archive++
		}
		if m.at.After(since) {
			resp.Today++
		}
	}
	return resp
}

// queryIDs reads and checks a GET request's user_id and account_id; on
// failure it has answered and returns false.
func queryIDs(w http.ResponseWriter, r *http.Request) (user, account string, ok bool) {
	q := r.URL.Query()
	user, account = q.Get("user_id"), q.Get("account_id")
	if err := validateIDs(user, account); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return "", "", false
	}
	return user, account, true
}
