package mailservice

import (
	"net/http"
	"strings"
)

const (
	activeAccount   = "work" // the account GET /v1/accounts answers active
	accountProvider = "imap" // the provider of every account
	maxLabelBytes   = 32     // longest sanitised part of an address
)

// defaultDisplayNames are the display names of the default accounts;
// other accounts are shown by their id.
var defaultDisplayNames = map[string]string{"personal": "Personal", "work": "Work"}

// accountsResponse is the answer of GET /v1/accounts.
type accountsResponse struct {
	Accounts []account `json:"accounts"`
}

// account is one entry of accountsResponse.
type account struct {
	AccountID   string `json:"account_id"`
	Email       string `json:"email"`
	Provider    string `json:"provider"`
	DisplayName string `json:"display_name"`
	Active      bool   `json:"active"`
}

// accountList serves GET /v1/accounts: the user's accounts, sorted by id —
// the default ones and every one used in this Service.
func (s *Service) accountList(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user_id")
	if err := validateID("user_id", user); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, err.Error())
		return
	}
	resp := accountsResponse{Accounts: []account{}}
	for _, id := range s.userAccounts(user) {
		name, ok := defaultDisplayNames[id]
		if !ok {
			name = id
		}
		resp.Accounts = append(resp.Accounts, account{
			AccountID:   id,
			Email:       accountEmail(user, id),
			Provider:    accountProvider,
			DisplayName: name,
			Active:      id == activeAccount,
		})
	}
	writeJSON(w, http.StatusOK, resp)
}

// accountEmail returns the address of the user's account:
// "<user>@<account>.example.com", both parts sanitised by addressLabel.
func accountEmail(user, account string) string {
	return addressLabel(user, "user") + "@" + addressLabel(account, "account") + ".example.com"
}

// addressLabel returns id as a part of an address: lower-cased, every
// character outside [a-z0-9._-] replaced by '-', cut to maxLabelBytes,
// and def when that leaves nothing. Ids are free text; the address must
// not be.
func addressLabel(id, def string) string {
	label := strings.Map(func(c rune) rune {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
			return c
		}
		return '-'
	}, strings.ToLower(id))
	// Every rune left is one byte, so cutting by bytes cuts no rune.
	label = label[:min(len(label), maxLabelBytes)]
	if label == "" {
		return def
	}
	return label
}
