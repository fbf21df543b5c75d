package mailservice

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/fnv"
)

// An inbox cursor names a position in one folder's newest-first order: the
// arrival time and id of the last message of the page before. Its wire
// form is the unpadded base64url of
//
//	version (1 byte) | FNV-64a of the canonical folder (8) | arrival, Unix ns (8) | id
//
// The position is not an offset, so a cursor stays valid, and pages
// neither repeat nor skip, while new mail arrives at the top or messages
// leave the folder. The folder hash makes a cursor of another folder
// fail instead of paging the wrong list.

const (
	cursorVersion = 1
	cursorHeader  = 1 + 8 + 8 // version, folder hash, arrival
	// maxCursorBytes is the length of the longest cursor, encoded: the
	// header and an id of maxIDLength bytes.
	maxCursorBytes = ((cursorHeader+maxIDLength)*4 + 2) / 3
)

// errCursor is the error of every cursor that does not decode for the
// folder asked for. It never names the cursor given.
var errCursor = errors.New("cursor: not a valid cursor for this folder")

// position is a place in a folder's newest-first order: just after the
// message that arrived at at (Unix ns) with id.
type position struct {
	at int64
	id string
}

// positionOf returns the position just after m.
func positionOf(m *message) position { return position{at: m.at.UnixNano(), id: m.ID} }

// precedes reports whether pos comes before m in the newest-first order
// of the mailbox: m arrived earlier, or at the same time with a greater
// id (the generator's order for ties).
func (pos position) precedes(m *message) bool {
	at := m.at.UnixNano()
	return at < pos.at || at == pos.at && m.ID > pos.id
}

// folderHash is the hash of folder a cursor carries.
func folderHash(folder string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(folder))
	return h.Sum64()
}

// encodeCursor returns the cursor of pos in folder (canonical).
func encodeCursor(folder string, pos position) string {
	b := make([]byte, cursorHeader, cursorHeader+len(pos.id))
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], folderHash(folder))
	binary.BigEndian.PutUint64(b[9:17], uint64(pos.at))
	b = append(b, pos.id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns the position of raw, a cursor that encodeCursor
// made for folder (canonical); any other text is errCursor.
func decodeCursor(folder, raw string) (position, error) {
	if len(raw) > maxCursorBytes {
		return position{}, errCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) <= cursorHeader || len(b) > cursorHeader+maxIDLength ||
		b[0] != cursorVersion || binary.BigEndian.Uint64(b[1:9]) != folderHash(folder) {
		return position{}, errCursor
	}
	return position{at: int64(binary.BigEndian.Uint64(b[9:17])), id: string(b[cursorHeader:])}, nil
}

// nextCursor returns the cursor of the page after l, or "" when none
// follows.
func (l listing) nextCursor(folder string) string {
	if !l.hasMore {
		return ""
	}
	return encodeCursor(folder, l.last)
}
